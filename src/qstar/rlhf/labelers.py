"""Simulated raters: compare two completions of a prompt and pick one.

A ``VibeLabeler`` is a human in a hurry. It scores what it can see at a glance — the last line claims
the target, the lines look neat, every given number shows up, the answer is complete — and picks by
a Bradley–Terry coin: ``P(A over B) = σ((vibe(A) − vibe(B)) / temperature)``. It never checks the
arithmetic. A ``GoldLabeler`` asks the verifier (``task.score_trace``) and flips a fair coin on ties.

Comparisons are stored as JSON lines with the columns ``prompt``, ``chosen``, ``rejected`` — the
format TRL's ``RewardTrainer`` reads (``datasets.load_dataset("json", data_files=...)``) — plus the
fields ``problem`` and ``labeler`` for our own bookkeeping, which TRL ignores.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

from qstar.core.atomic import atomic_write_text
from qstar.core.errors import QstarError, check
from qstar.reasoning.task import Problem

_STEP = re.compile(r"^\s*(\d+(?:/\d+)?) [-+*/] (\d+(?:/\d+)?) = (-?\d+(?:/\d+)?)( \(left: [^)]*\))?\s*$")
_NEAT = re.compile(r"^\s*\d+ [-+*/] \d+ = \d+ \(left: [\d ]+\)\s*$")  # whole numbers and the bookkeeping


@dataclass(frozen=True)
class Vibe:
    """What a hurried rater likes, as weights on features of the text in [0, 1]."""

    claims_target: float = 2.0  # the last line's result is the target
    neat: float = 1.0  # share of lines in the full step format with whole numbers only
    uses_all: float = 0.5  # every given number appears as an operand somewhere
    length: float = 0.5  # share of the expected number of lines written (len(numbers) - 1), capped at 1
    temperature: float = 0.5  # Bradley–Terry noise: larger is noisier; 0 is a deterministic rater

    def __post_init__(self):
        check(self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}")


def vibe_features(problem: Problem, text: str) -> dict[str, float]:
    """``'4 5 6 10 -> 24'`` and ``'10 - 4 = 6 (left: 5 6 6)\\n...\\n30 - 6 = 24 (left: 24)'`` ->
    ``{'claims_target': 1.0, 'neat': 1.0, 'uses_all': 1.0, 'length': 1.0}``."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    steps = [_STEP.match(ln) for ln in lines]
    last = steps[-1] if steps else None
    operands = [m.group(k) for m in steps if m for k in (1, 2)]
    pool = list(operands)
    uses_all = True
    for n in problem.numbers:
        if str(n) in pool:
            pool.remove(str(n))
        else:
            uses_all = False
    return {
        "claims_target": float(last is not None and last.group(3) == str(problem.target)),
        "neat": sum(bool(_NEAT.match(ln)) for ln in lines) / max(len(lines), 1),
        "uses_all": float(uses_all),
        "length": min(len(lines) / max(len(problem.numbers) - 1, 1), 1.0),
    }


def vibe_score(problem: Problem, text: str, vibe: Vibe = Vibe()) -> float:
    f = vibe_features(problem, text)
    return sum(getattr(vibe, k) * v for k, v in f.items())


def bradley_terry_prob(d: float, temperature: float) -> float:
    """P(a rater picks the first) for a score difference ``d``: sigmoid(d / temperature); 0 is deterministic."""
    if temperature == 0:
        return 1.0 if d > 0 else 0.0 if d < 0 else 0.5
    return 1.0 / (1.0 + math.exp(-max(min(d / temperature, 50.0), -50.0)))


class Labeler(Protocol):
    name: str

    def prefers_first(self, problem: Problem, a: str, b: str, rng: random.Random) -> bool:
        """True if the rater picks ``a`` over ``b``."""


class VibeLabeler:
    name = "vibe"

    def __init__(self, vibe: Vibe = Vibe()):
        self.vibe = vibe

    def prob_first(self, problem: Problem, a: str, b: str) -> float:
        return bradley_terry_prob(vibe_score(problem, a, self.vibe) - vibe_score(problem, b, self.vibe),
                                  self.vibe.temperature)

    def prefers_first(self, problem: Problem, a: str, b: str, rng: random.Random) -> bool:
        return rng.random() < self.prob_first(problem, a, b)


class GoldLabeler:
    """The ground truth as a rater: the verifier's verdict, a fair coin when both are right or both wrong."""

    name = "gold"

    def __init__(self, task):
        self.task = task

    def prefers_first(self, problem: Problem, a: str, b: str, rng: random.Random) -> bool:
        ga, gb = self.task.score_trace(problem, a).value, self.task.score_trace(problem, b).value
        return ga > gb if ga != gb else rng.random() < 0.5


@dataclass(frozen=True)
class Comparison:
    prompt: str
    chosen: str
    rejected: str
    problem: str  # the numbers and target, e.g. '4 5 6 10 -> 24'
    labeler: str


def compare(labeler: Labeler, problems: Sequence[Problem], firsts: Sequence[str], seconds: Sequence[str],
            prompt_of, seed: int) -> list[Comparison]:
    """Label pairs ``(firsts[i], seconds[i])`` of completions of ``problems[i]``; identical pairs are skipped."""
    rng = random.Random(seed)
    out = []
    for p, a, b in zip(problems, firsts, seconds):
        if a == b:
            continue
        win, lose = (a, b) if labeler.prefers_first(p, a, b, rng) else (b, a)
        out.append(Comparison(prompt_of(p), win, lose, f"{p.text} -> {p.target}", labeler.name))
    return out


def write_comparisons(path: str | Path, rows: Sequence[Comparison]) -> Path:
    """JSON lines (prompt, chosen, rejected, problem, labeler), written atomically."""
    return atomic_write_text(path, "".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in rows))


def read_comparisons(path: str | Path) -> list[Comparison]:
    path = Path(path)
    if not path.exists():
        raise QstarError(f"comparison file {path} does not exist")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Comparison(d["prompt"], d["chosen"], d["rejected"], d.get("problem", ""), d.get("labeler", "")))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise QstarError(f"{path}:{n}: not a comparison row with prompt/chosen/rejected ({e})") from None
    return out


def problem_of(row: Comparison) -> Problem:
    nums, _, target = row.problem.partition(" -> ")
    return Problem(tuple(int(x) for x in nums.split()), int(target))
