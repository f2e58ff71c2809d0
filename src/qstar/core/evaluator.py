"""The evaluator: priors and values for a *batch* of states in one call.

One state at a time is the slow path the benchmarks compare against, not the design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from qstar.core.game import Game, State, random_action


@dataclass(frozen=True)
class Evaluation:
    priors: np.ndarray  # [B, num_actions] float32, zero on illegal actions, rows sum to 1
    values: np.ndarray  # [B] float32 in [-1, 1], for the player to move in each state


class Evaluator(Protocol):
    def __call__(self, states: Sequence[State]) -> Evaluation: ...


class UniformEvaluator:
    """Uniform priors over legal moves and value 0: MCTS with it is plain UCT without rollouts."""

    def __init__(self, game: Game):
        self.game = game

    def __call__(self, states: Sequence[State]) -> Evaluation:
        masks = np.stack([self.game.legal_mask(s) for s in states]).astype(np.float32)
        sums = masks.sum(axis=1, keepdims=True)
        priors = masks / np.maximum(sums, 1.0)
        return Evaluation(priors, np.zeros(len(states), np.float32))


class RolloutEvaluator:
    """Uniform priors and the result of one random playout as value: classic MCTS, model-free."""

    def __init__(self, game: Game, seed: int = 0):
        self.game = game
        self.rng = np.random.default_rng(seed)

    def __call__(self, states: Sequence[State]) -> Evaluation:
        uniform = UniformEvaluator(self.game)(states)
        values = np.array([self._rollout(s) for s in states], np.float32)
        return Evaluation(uniform.priors, values)

    def _rollout(self, state: State) -> float:
        game = self.game
        me = game.to_play(state)
        while not game.is_terminal(state):
            state = game.next_state(state, random_action(game, state, self.rng))
        v = game.terminal_value(state)
        return v if game.to_play(state) == me else -v
