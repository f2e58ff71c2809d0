"""Players choose one action for each state of a batch. Baselines (random, alpha-beta) and search-based."""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np

from qstar.core.evaluator import Evaluator
from qstar.core.game import Game, State, random_action
from qstar.search.mcts import MCTSConfig, run_mcts
from qstar.search.minimax import action_values
from qstar.search.tree import Forest, Tree


class Player(Protocol):
    name: str

    def select(self, states: Sequence[State], rng: np.random.Generator) -> list[int]: ...


class RandomPlayer:
    def __init__(self, game: Game):
        self.game, self.name = game, "random"

    def select(self, states, rng):
        return [random_action(self.game, s, rng) for s in states]


class AlphaBetaPlayer:
    """Depth-limited negamax with alpha-beta; random among equally valued best moves."""

    def __init__(self, game: Game, depth: int, heuristic: Callable[[State], float] | None = None):
        self.game, self.depth, self.heuristic = game, depth, heuristic
        self.name = f"alphabeta{depth}"

    def select(self, states, rng):
        out = []
        for s in states:
            vals = action_values(self.game, s, self.depth, self.heuristic)
            best = max(vals.values())
            out.append(int(rng.choice([a for a, v in vals.items() if v >= best - 1e-9])))
        return out


class PolicyPlayer:
    """The network alone: argmax of its prior over legal moves."""

    def __init__(self, evaluator: Evaluator, name: str = "policy"):
        self.evaluator, self.name = evaluator, name

    def select(self, states, rng):
        return [int(p.argmax()) for p in self.evaluator(list(states)).priors]


class MCTSPlayer:
    """Search from each state (fresh tree, no noise), play the most visited move."""

    def __init__(self, game: Game, evaluator: Evaluator, cfg: MCTSConfig, name: str = "mcts"):
        self.game, self.evaluator, self.cfg, self.name = game, evaluator, cfg, name

    def search(self, states: Sequence[State]) -> list[Tree]:
        forest = Forest(self.game)  # one forest: the trees are searched together
        trees = [Tree(self.game, s, forest=forest) for s in states]
        run_mcts(trees, self.evaluator, self.cfg)
        return trees

    def select(self, states, rng):
        out = []
        for t in self.search(states):
            n = t.visit_counts()
            out.append(int(rng.choice(np.flatnonzero(n == n.max()))))
        return out
