"""Tic-tac-toe on two 9-bit boards. Cells are numbered 0..8 row by row; people type 1..9."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qstar.core.errors import IllegalMove
from qstar.games.numbered import parse_numbered_move

LINES = [0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100, 0b100010001, 0b001010100]
FULL = 0b111111111


def has_line(bits: int) -> bool:
    return any(bits & line == line for line in LINES)


@dataclass(frozen=True, slots=True)
class TTTState:
    current: int  # cells of the player to move
    opponent: int
    moves: int
    won: bool  # the player who just moved completed a line


# the 8 symmetries of the square as permutations of cell indices
_GRID = np.arange(9).reshape(3, 3)
_PERMS = [np.rot90(g, k).reshape(-1) for g in (_GRID, _GRID.T) for k in range(4)]


class TicTacToe:
    name = "tictactoe"
    num_actions = 9
    obs_shape = (2, 3, 3)

    def initial_state(self) -> TTTState:
        return TTTState(0, 0, 0, False)

    def legal_mask(self, s: TTTState) -> np.ndarray:
        if self.is_terminal(s):
            return np.zeros(9, dtype=bool)
        occupied = s.current | s.opponent
        return np.array([not (occupied >> i) & 1 for i in range(9)], dtype=bool)

    def next_state(self, s: TTTState, action: int) -> TTTState:
        a = int(action)
        if not (0 <= a < 9) or self.is_terminal(s) or ((s.current | s.opponent) >> a) & 1:
            legal = " ".join(str(i + 1) for i in np.flatnonzero(self.legal_mask(s))) or "none"
            raise IllegalMove(f"illegal move {a + 1}: cell taken, off the board or game over; legal cells: {legal}\n"
                              f"{self.render(s)}")
        mover = s.current | (1 << a)
        return TTTState(s.opponent, mover, s.moves + 1, has_line(mover))

    def is_terminal(self, s: TTTState) -> bool:
        return s.won or s.moves == 9

    def terminal_value(self, s: TTTState) -> float:
        return -1.0 if s.won else 0.0

    def to_play(self, s: TTTState) -> int:
        return s.moves & 1

    def key(self, s: TTTState) -> tuple[int, int]:
        return (s.current, s.opponent)

    def encode(self, states: Sequence[TTTState]) -> np.ndarray:
        out = np.zeros((len(states), 2, 9), dtype=np.float32)
        for i, s in enumerate(states):
            for j, bits in enumerate((s.current, s.opponent)):
                for k in range(9):
                    if (bits >> k) & 1:
                        out[i, j, k] = 1.0
        return out.reshape(len(states), 2, 3, 3)

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        flat = obs.reshape(obs.shape[0], 9)
        return [(flat[:, p].reshape(obs.shape).copy(), policy[p].copy()) for p in _PERMS]

    def render(self, s: TTTState) -> str:
        x, o = (s.current, s.opponent) if s.moves % 2 == 0 else (s.opponent, s.current)
        cells = ["X" if (x >> i) & 1 else "O" if (o >> i) & 1 else str(i + 1) for i in range(9)]
        return "\n---+---+---\n".join(" " + " | ".join(cells[r * 3:r * 3 + 3]) for r in range(3))

    def action_to_string(self, s: TTTState, action: int) -> str:
        return str(int(action) + 1)

    def string_to_action(self, s, text: str) -> int:
        return parse_numbered_move(self, s, text, "free cell number")
