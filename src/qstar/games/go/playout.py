"""Random playouts with the usual rule of thumb: never fill your own single-point eye, pass only when no
other legal move is left. Used by the speed benchmark, the GNU Go agreement test and the rollout evaluator."""

from __future__ import annotations

import random

from qstar.games.go.rules import EMPTY, Position


def random_move(pos: Position, rng: random.Random) -> int:
    """A uniformly random legal point that does not fill the mover's own single-point eye, or the pass."""
    color = pos.to_play
    candidates = [p for p, v in enumerate(pos.board) if v == EMPTY]
    while candidates:
        i = rng.randrange(len(candidates))
        p = candidates[i]
        if not pos.is_eye(p, color) and pos.illegal_reason(p) is None:
            return p
        candidates[i] = candidates[-1]
        candidates.pop()
    return pos.size * pos.size


def random_playout(pos: Position, rng: random.Random, max_moves: int | None = None) -> Position:
    """Play random moves until two passes in a row (or ``max_moves`` more moves); return the final position."""
    limit = max_moves if max_moves is not None else 4 * pos.size * pos.size
    for _ in range(limit):
        if pos.is_over:
            break
        pos = pos.play(random_move(pos, rng))
    return pos
