"""Game of 24: four numbers from 1 to 13, reach 24 with + - * /, each number used exactly once.

The puzzles are the Tree of Thoughts set shipped in ``qstar/data/game24/24.csv`` (see SOURCE.md there).
Splits: ``test`` is ranks 901–1000 (rows 900–999), the split the paper reports on; ``train`` is every
other puzzle, so nothing trained here ever sees a test puzzle. ``synthetic`` is extra training material
beyond the set: every solvable multiset of four numbers from 1 to ``SYNTHETIC_MAX`` with at least one
number above 13. The 1,362 puzzles are all the solvable multisets of 1..13, so a synthetic puzzle is
never one of them, and never a test puzzle.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
from importlib import resources
from pathlib import Path

from qstar.core.errors import QstarError
from qstar.reasoning.arithmetic import ArithmeticTask, Rules
from qstar.reasoning.task import Problem

TEST_ROWS = range(900, 1000)  # ranks 901–1000
SYNTHETIC_MAX = 20  # synthetic puzzles use numbers up to this, at least one of them above 13


def load_puzzles() -> list[Problem]:
    """All 1,362 puzzles, easiest first; ``id`` is the rank."""
    text = resources.files("qstar.data").joinpath("game24/24.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return [Problem(tuple(int(x) for x in r["Puzzles"].split()), 24, id=r["Rank"]) for r in rows]


@functools.lru_cache(maxsize=1)
def synthetic_puzzles() -> tuple[Problem, ...]:
    """Every solvable multiset of four numbers from 1..SYNTHETIC_MAX with one above 13 (4,344 of them)."""
    task = Game24()
    return tuple(Problem(c, 24, id=f"s{k}") for k, c in enumerate(
        c for c in itertools.combinations_with_replacement(range(1, SYNTHETIC_MAX + 1), 4)
        if c[-1] > 13 and task.solvable(c, 24)))


def read_puzzle_file(path: str | Path) -> list[Problem]:
    """One puzzle per line, four integers each (blank lines and '#' comments skipped)."""
    path = Path(path)
    if not path.exists():
        raise QstarError(f"puzzle file {path} does not exist")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        out.append(parse_puzzle(line, where=f"{path}:{n}"))
    if not out:
        raise QstarError(f"{path} holds no puzzles (expected lines like '4 5 6 10')")
    return out


def parse_puzzle(text: str, where: str = "puzzle") -> Problem:
    parts = text.replace(",", " ").split()
    if len(parts) != 4 or not all(p.isdigit() and 0 < int(p) <= 1000 for p in parts):
        raise QstarError(f"{where}: expected four whole numbers from 1 to 1000 like '4 5 6 10', got {text!r}")
    return Problem(tuple(int(p) for p in parts), 24, id=text.strip())


class Game24(ArithmeticTask):
    name = "game24"
    rules = Rules(use_all=True, integers_only=False, positive_only=False)

    def problems(self, split: str, seed: int = 0, n: int | None = None) -> list[Problem]:
        puzzles = load_puzzles()
        if split == "test":
            out = [puzzles[i] for i in TEST_ROWS]
        elif split == "train":
            out = [p for i, p in enumerate(puzzles) if i not in TEST_ROWS]
        elif split == "all":
            out = puzzles
        elif split == "synthetic":
            out = list(synthetic_puzzles())
        else:
            raise QstarError(f"unknown split {split!r}; use train, test, all or synthetic")
        return out[:n] if n is not None else out
