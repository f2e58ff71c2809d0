"""The Connect Four ground-truth benchmark: positions with every move's perfect-play value.

File format (Pons' test protocol), one position per line: ``MOVES SCORE S1 S2 S3 S4 S5 S6 S7`` —
moves as column digits 1..7, SCORE the exact value for the side to move (>0 win, 0 draw, <0 loss),
S1..S7 the value of each column (``x`` = full). A *mistake* is a move whose value has a worse sign
(win > draw > loss) than the best move's.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qstar.core.errors import QstarError
from qstar.games.connect4.rules import C4State, Connect4

BUNDLED = ["Test_L3_R1", "Test_L2_R1", "Test_L2_R2"]


@dataclass(frozen=True)
class Position:
    state: C4State
    values: np.ndarray  # [7] float, -inf for full columns

    def is_mistake(self, action: int) -> bool:
        return np.sign(self.values[action]) < np.sign(self.values.max())


def bundled_path(name: str) -> Path:
    if name not in BUNDLED:
        raise QstarError(f"unknown benchmark file {name!r}; bundled: {', '.join(BUNDLED)} (or give a path)")
    return Path(str(resources.files("qstar") / "data" / "connect4" / f"{name}.txt"))


def load_positions(path: str | Path, limit: int | None = None) -> list[Position]:
    path = Path(path)
    if not path.is_file():
        raise QstarError(f"positions file not found: {path}")
    game, out = Connect4(), []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 9:
            raise QstarError(f"{path}:{n}: expected 'MOVES SCORE S1..S7' (9 fields), got {len(parts)}")
        try:
            state = game.from_moves(parts[0])
            values = np.array([-np.inf if v == "x" else float(v) for v in parts[2:]])
        except (QstarError, ValueError) as e:
            raise QstarError(f"{path}:{n}: {e}".splitlines()[0]) from None
        if game.is_terminal(state) or not np.isfinite(values).any():
            raise QstarError(f"{path}:{n}: position is already over")
        out.append(Position(state, values))
        if limit and len(out) >= limit:
            break
    return out


def mistake_rate(positions: Sequence[Position], select: Callable[[list[C4State]], list[int]],
                 chunk: int = 256) -> float:
    """Share of positions where ``select`` (a batch of states -> actions) picks a mistake."""
    mistakes = 0
    for i in range(0, len(positions), chunk):
        part = positions[i:i + chunk]
        for p, a in zip(part, select([p.state for p in part])):
            mistakes += p.is_mistake(a)
    return mistakes / max(len(positions), 1)
