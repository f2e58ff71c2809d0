"""What search needs from the models, and the budget it is held to. No torch here.

- A ``Policy`` continues texts: ``n`` samples per prompt, stopping at the end of a line (one step)
  or at the end of the solution; and it scores given continuations (their log-probability).
- A ``ValueModel`` scores each step of partial solutions: the probability that the solution can
  still be finished correctly (PRM), or only the finished whole (ORM reads the last step's score).
- ``Usage`` counts, per problem, policy calls (one prompt continued, however many samples),
  value-model calls (one scored prefix set), generated tokens and wall seconds. A ``Budget`` caps
  them; a strategy starts no new call for a problem whose usage has reached a cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence

from qstar.core.errors import check

Stop = Literal["line", "end", "action"]  # one step, the whole solution, or a step's operation ('a op b')


@dataclass(frozen=True)
class Completion:
    text: str  # the generated continuation, without the prompt (and without the final newline for "line")
    logprob: float  # sum of the token log-probabilities under the sampling distribution's model
    tokens: int  # generated tokens


class Policy(Protocol):
    def generate(self, prompts: Sequence[str], n: int, temperature: float, stop: Stop,
                 seed: int) -> list[list[Completion]]:
        """``[len(prompts)][n]`` continuations. ``temperature == 0`` is greedy (then n should be 1).
        The same seed gives the same samples."""

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Log-probability of each continuation after its prompt (teacher forcing, no sampling): the
        policy's prior over steps a search enumerates itself."""


class ValueModel(Protocol):
    def score(self, prompts: Sequence[str], steps: Sequence[Sequence[str]]) -> list[list[float]]:
        """For each (prompt, step lines): ``[len(steps)]`` scores in [0, 1], one after each step."""


@dataclass(frozen=True)
class Budget:
    """Per-problem caps (None: no cap)."""

    max_policy_calls: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None

    def __post_init__(self):
        for name in ("max_policy_calls", "max_tokens", "max_seconds"):
            v = getattr(self, name)
            check(v is None or v > 0, f"{name} must be > 0 or None, got {v}")


@dataclass
class Usage:
    policy_calls: int = 0
    value_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def exhausted(self, budget: Budget) -> bool:
        return ((budget.max_policy_calls is not None and self.policy_calls >= budget.max_policy_calls)
                or (budget.max_tokens is not None and self.tokens >= budget.max_tokens)
                or (budget.max_seconds is not None and self.seconds >= budget.max_seconds))

    def as_dict(self) -> dict:
        return {"policy_calls": self.policy_calls, "value_calls": self.value_calls, "tokens": self.tokens,
                "seconds": round(self.seconds, 4)}


@dataclass
class SearchResult:
    """What a strategy returns for one problem. ``answer`` is graded by ``task.score``, never here."""

    answer: str | None  # answer expression, e.g. '(10 - 4) * (5 - 1) = 24', or None
    steps: tuple[str, ...]  # the chosen solution's step lines
    confidence: float  # vote share or value-model score of the chosen answer, in [0, 1]
    usage: Usage = field(default_factory=Usage)
    log: list[str] = field(default_factory=list)  # what the search did, for ``qstar solve``
