"""Moves typed as numbers 1..N (columns in Connect Four, cells in tic-tac-toe)."""

from __future__ import annotations

import numpy as np

from qstar.core.errors import IllegalMove
from qstar.core.game import Game, State


def parse_numbered_move(game: Game, state: State, text: str, what: str) -> int:
    """Action index for a typed number; ``what`` names the thing typed ("column number", "free cell number")."""
    legal = [str(a + 1) for a in np.flatnonzero(game.legal_mask(state))]
    t = text.strip()
    if t not in legal:
        raise IllegalMove(f"'{t}' is not a legal move; type a {what}, one of: {' '.join(legal)}")
    return int(t) - 1
