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


class PlayoutEvaluator:
    """Model-free evaluator for Go: priors uniform over legal moves that do not fill the mover's own eyes (and the
    pass), value the area result of ``playouts`` random playouts. MCTS with it is the engine without a network."""

    def __init__(self, game, playouts: int = 1, seed: int = 0):
        self.game, self.playouts = game, playouts
        self.rng = random.Random(seed)

    def __call__(self, states):
        import numpy as np

        from qstar.core.evaluator import Evaluation
        game = self.game
        priors = np.zeros((len(states), game.num_actions), np.float32)
        values = np.zeros(len(states), np.float32)
        for i, pos in enumerate(states):
            mask = game.legal_mask(pos)
            for p in np.flatnonzero(mask[:-1]):
                if pos.is_eye(int(p), pos.to_play):
                    mask[p] = False
            priors[i] = mask / max(mask.sum(), 1)
            wins = 0.0
            for _ in range(self.playouts):
                winner = random_playout(pos, self.rng).winner(game.komi)
                wins += 0.0 if winner == EMPTY else (1.0 if winner == pos.to_play else -1.0)
            values[i] = wins / self.playouts
        return Evaluation(priors, values)
