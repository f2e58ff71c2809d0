"""Connect Four (6 rows x 7 columns) on bitboards, after Pascal Pons' solver.

Each column takes 7 bits (6 cells + a sentinel), bit ``col * 7 + row`` with row 0 at the bottom.
A state holds the stones of the player to move and the mask of all stones.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from qstar.core.errors import IllegalMove
from qstar.games.numbered import parse_numbered_move

ROWS, COLS = 6, 7
H1 = ROWS + 1
BOTTOM = [1 << (c * H1) for c in range(COLS)]
TOP = [1 << (ROWS - 1 + c * H1) for c in range(COLS)]
COLUMN = [((1 << ROWS) - 1) << (c * H1) for c in range(COLS)]
# bit index of each cell (row, col), row 0 at the bottom
_CELL_BIT = np.array([[c * H1 + r for c in range(COLS)] for r in range(ROWS)], dtype=np.int64)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_TOPS = sum(TOP)
_NO_MOVES = _readonly(np.zeros(COLS, dtype=bool))
# legal columns for each set of full columns, keyed by the top-cell bits of the mask
_LEGAL = {sum(TOP[c] for c in range(COLS) if full >> c & 1):
          _readonly(np.array([not full >> c & 1 for c in range(COLS)], dtype=bool)) for full in range(1 << COLS)}


def has_four(pos: int) -> bool:
    """True if the stones in ``pos`` contain four in a row in any direction: vertical, horizontal, the two
    diagonals (shifts 1, 7, 6, 8; written out, as this runs once per node the search creates)."""
    m = pos & (pos >> 1)
    if m & (m >> 2):
        return True
    m = pos & (pos >> 7)
    if m & (m >> 14):
        return True
    m = pos & (pos >> 6)
    if m & (m >> 12):
        return True
    m = pos & (pos >> 8)
    return bool(m & (m >> 16))


class C4State(NamedTuple):
    """Immutable, and a tuple of ints: the cyclic garbage collector stops tracking it after one pass, so the
    hundreds of thousands of states a self-play search creates do not slow its full collections."""
    current: int  # stones of the player to move
    mask: int  # all stones
    moves: int  # stones on the board
    won: bool  # the player who just moved made four in a row

    @property
    def opponent(self) -> int:
        return self.current ^ self.mask


class Connect4:
    """The Game interface for Connect Four. Actions are columns 0..6 (shown to people as 1..7)."""

    name = "connect4"
    num_actions = COLS
    obs_shape = (3, ROWS, COLS)

    def initial_state(self) -> C4State:
        return C4State(0, 0, 0, False)

    def legal_mask(self, s: C4State) -> np.ndarray:
        """A read-only row of a table keyed by the top cells (the search asks for one per expanded node)."""
        if s.won or s.moves == ROWS * COLS:
            return _NO_MOVES
        return _LEGAL[s.mask & _TOPS]

    def next_state(self, s: C4State, action: int) -> C4State:
        c = int(action)
        current, mask, moves, won = s
        if won or moves == ROWS * COLS or not (0 <= c < COLS) or mask & TOP[c]:
            reason = "the game is over" if (s.won or s.moves == ROWS * COLS) else (
                f"column {c + 1} is full" if 0 <= c < COLS else f"there is no column {c + 1}")
            raise IllegalMove(f"illegal move {c + 1}: {reason}; legal columns: "
                              f"{' '.join(str(a + 1) for a in np.flatnonzero(self.legal_mask(s))) or 'none'}\n"
                              f"{self.render(s)}")
        after = mask | (mask + BOTTOM[c])
        return C4State(current ^ mask, after, moves + 1, has_four(current | (after ^ mask)))

    def is_terminal(self, s: C4State) -> bool:
        return s.won or s.moves == ROWS * COLS

    def terminal_value(self, s: C4State) -> float:
        return -1.0 if s.won else 0.0

    def to_play(self, s: C4State) -> int:
        return s.moves & 1

    def key(self, s: C4State) -> int:
        return s.current + s.mask  # unique per position (Pons)

    def encode(self, states: Sequence[C4State]) -> np.ndarray:
        """[B, 3, 6, 7]: plane 0 the stones of the player to move, plane 1 the opponent's (row 0 at the bottom),
        plane 2 all ones when the player to move moved first (AlphaGo Zero's colour plane: who owns the odd rows'
        threats decides many endgames, and a few convolutions cannot count stones to find it out). A network
        with two input planes (the self-play loop's, and v1-v3) reads only the stones."""
        n = len(states)
        raw = b"".join(s.current.to_bytes(8, "little") + s.opponent.to_bytes(8, "little") for s in states)
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little").reshape(n, 2, 64)
        out = np.empty((n, 3, ROWS, COLS), np.float32)
        out[:, :2] = bits[:, :, _CELL_BIT]
        out[:, 2] = np.array([s.moves % 2 == 0 for s in states], np.float32)[:, None, None]
        return out

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(obs, policy), (obs[..., ::-1].copy(), policy[::-1].copy())]

    def render(self, s: C4State) -> str:
        first = s.current if s.moves % 2 == 0 else s.opponent  # X moved first
        rows = []
        for r in range(ROWS - 1, -1, -1):
            cells = []
            for c in range(COLS):
                bit = 1 << (c * H1 + r)
                cells.append("X" if first & bit else ("O" if s.mask & bit else "."))
            rows.append("| " + " ".join(cells) + " |")
        rows.append("+" + "-" * (2 * COLS + 1) + "+")
        rows.append("  " + " ".join(str(c + 1) for c in range(COLS)))
        return "\n".join(rows)

    def action_to_string(self, s: C4State, action: int) -> str:
        return str(int(action) + 1)

    def string_to_action(self, s, text: str) -> int:
        return parse_numbered_move(self, s, text, "column number")

    def from_moves(self, moves: str) -> C4State:
        """The position after a move string like '4453' (columns 1..7, first player first)."""
        s = self.initial_state()
        for i, ch in enumerate(moves.strip()):
            if ch not in "1234567":
                raise IllegalMove(f"bad move '{ch}' at index {i} of '{moves}': moves are digits 1..7")
            s = self.next_state(s, int(ch) - 1)
        return s

    def heuristic(self, s: C4State) -> float:
        """A cheap static score in (-1, 1) for the player to move: open threes weighted by column centrality."""
        def threats(pos: int, empty: int) -> int:
            n = 0
            for shift in (1, H1, H1 - 1, H1 + 1):
                # three stones and an empty cell in a window of four, in either position of the gap
                for gap in range(4):
                    cells = [pos >> (k * shift) for k in range(4) if k != gap]
                    m = cells[0] & cells[1] & cells[2] & (empty >> (gap * shift))
                    n += bin(m & ((1 << (COLS * H1)) - 1)).count("1")
            return n
        board = (1 << (COLS * H1)) - 1
        sentinel = sum(1 << (c * H1 + ROWS) for c in range(COLS))
        empty = board & ~s.mask & ~sentinel
        centre = COLUMN[3]
        mine = threats(s.current, empty) + 0.5 * bin(s.current & centre).count("1")
        theirs = threats(s.opponent, empty) + 0.5 * bin(s.opponent & centre).count("1")
        return float(np.tanh(0.2 * (mine - theirs)))
