"""Negamax with alpha-beta for two-player alternating games: depth-limited baselines, an exact solver."""

from __future__ import annotations

from typing import Callable

import numpy as np

from qstar.core.game import Game, State

WIN = 1000.0


def negamax(game: Game, state: State, depth: int, alpha: float = -np.inf, beta: float = np.inf,
            heuristic: Callable[[State], float] | None = None) -> float:
    """Value for the player to move, searching ``depth`` plies; wins sooner score higher."""
    if game.is_terminal(state):
        return game.terminal_value(state) * (WIN + depth)
    if depth == 0:
        return heuristic(state) if heuristic else 0.0
    best = -np.inf
    for a in _ordered(game, state):
        child = game.next_state(state, a)
        v = negamax(game, child, depth - 1, -beta, -alpha, heuristic)
        v = -v  # two players alternate: the child's value is ours negated
        if v > best:
            best = v
        alpha = max(alpha, v)
        if alpha >= beta:
            break
    return best


def _ordered(game: Game, state: State) -> list[int]:
    """Legal actions, centre first (helps alpha-beta on boards; harmless elsewhere)."""
    acts = np.flatnonzero(game.legal_mask(state))
    centre = (game.num_actions - 1) / 2
    return sorted(acts.tolist(), key=lambda a: abs(a - centre))


def action_values(game: Game, state: State, depth: int,
                  heuristic: Callable[[State], float] | None = None) -> dict[int, float]:
    """Negamax value of each legal action for the player to move."""
    out = {}
    for a in _ordered(game, state):
        child = game.next_state(state, a)
        v = negamax(game, child, depth - 1, heuristic=heuristic)
        out[a] = -v if game.to_play(child) != game.to_play(state) else v
    return out


class Solver:
    """Exact game values with a transposition table (for games small enough, like tic-tac-toe)."""

    def __init__(self, game: Game):
        self.game = game
        self.table: dict = {}

    def value(self, state: State) -> float:
        """+1 / 0 / -1 for the player to move under perfect play."""
        k = self.game.key(state)
        if k in self.table:
            return self.table[k]
        g = self.game
        if g.is_terminal(state):
            v = g.terminal_value(state)
        else:
            v = max(self.action_value(state, a) for a in np.flatnonzero(g.legal_mask(state)))
        self.table[k] = v
        return v

    def action_value(self, state: State, action: int) -> float:
        child = self.game.next_state(state, int(action))
        v = self.value(child)
        return -v if self.game.to_play(child) != self.game.to_play(state) else v

    def optimal_actions(self, state: State) -> list[int]:
        vals = {int(a): self.action_value(state, a) for a in np.flatnonzero(self.game.legal_mask(state))}
        best = max(vals.values())
        return [a for a, v in vals.items() if v == best]
