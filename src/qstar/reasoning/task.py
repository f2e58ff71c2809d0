"""The task interface: what search and learning need from a reasoning task with an exact verifier.

A task has problems (from a file or a seeded generator), a prompt, a step format, a world model that
applies a written step to a state (like a game's rules: which steps are legal, when it is over), a
solver that enumerates solutions, and ``score`` — the ground truth, computed exactly, never by a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Problem:
    numbers: tuple[int, ...]  # the source numbers, in the order given
    target: int
    id: str = ""

    def __post_init__(self) -> None:
        if not self.numbers:
            raise ValueError("a problem needs at least one number")

    @property
    def text(self) -> str:
        return " ".join(map(str, self.numbers))


@dataclass(frozen=True)
class Score:
    """Ground-truth result: ``value`` 1.0 for a correct answer, 0.0 otherwise, and why."""

    value: float
    reason: str

    def __iter__(self):  # lets callers write ``value, reason = task.score(...)``
        return iter((self.value, self.reason))

    @property
    def ok(self) -> bool:
        return self.value == 1.0


@dataclass(frozen=True)
class Item:
    """One number on the table and the expression that produced it from source numbers."""

    value: Fraction
    expr: str


UNDO = " undo"  # a step line ending in it was taken back by its writer: it does not count (``Calculator(undo=True)``)
MAX_UNDOS = 6  # steps one solution may take back; past it every step stands (192 positions hold 6 more lines)


def standing_lines(text: str) -> list[str]:
    """The step lines of a written solution that stand (not taken back), up to its first blank line."""
    lines = text.strip().splitlines()
    end = next((k for k, ln in enumerate(lines) if not ln.strip()), len(lines))
    return [ln for ln in lines[:end] if not ln.rstrip().endswith(UNDO)]


def steps_text(steps) -> str:
    """Step lines as the policy writes them after the prompt: each one ending in a newline."""
    return "".join(s + "\n" for s in steps)


@dataclass(frozen=True)
class StepState:
    """A partial solution: the numbers left (sorted by value) and the step lines written so far."""

    problem: Problem
    items: tuple[Item, ...]
    steps: tuple[str, ...] = ()

    @property
    def values(self) -> tuple[Fraction, ...]:
        return tuple(i.value for i in self.items)

    @property
    def key(self) -> tuple:
        return (self.problem.numbers, self.problem.target, self.steps)


class Task(Protocol):
    name: str

    def problems(self, split: str, seed: int = 0, n: int | None = None) -> list[Problem]:
        """The problems of a split (``train`` / ``test``); generated tasks use ``seed`` and ``n``."""

    def prompt(self, problem: Problem) -> str:
        """The text a policy continues; steps follow, one per line."""

    def initial_state(self, problem: Problem) -> StepState: ...

    def apply(self, state: StepState, line: str) -> tuple[StepState | None, str]:
        """Apply one written step; ``(None, reason)`` when the step breaks the rules."""

    def is_done(self, state: StepState) -> bool:
        """No further step is needed (or possible)."""

    def answer(self, state: StepState) -> str | None:
        """The answer expression a finished state stands for, or None."""

    def score(self, problem: Problem, answer: str) -> Score:
        """Ground truth: parse ``answer`` exactly and check it. Never raises on model output."""

    def solve(self, problem: Problem, max_solutions: int | None = None) -> list[tuple[str, ...]]:
        """Step-line traces that reach the target, enumerated by exhaustive search."""

    def solvable(self, values: Sequence[Fraction | int], target: int) -> bool:
        """Whether the target can still be reached from these numbers under the step rules."""
