"""Countdown: 3–6 source numbers and a target; reach it with + - * /, each number at most once,
every intermediate a positive integer. Problems are generated with a seed and solvable by
construction (the target is the value of a random expression over some of the numbers).

Held-out targets: the ``test`` split only has targets ending in 7; ``train`` never does.
"""

from __future__ import annotations

import random
from fractions import Fraction

from qstar.core.errors import QstarError
from qstar.reasoning.arithmetic import OPS, ArithmeticTask, Rules, combine
from qstar.reasoning.task import Problem

SOURCE_MAX = 25
TARGET_RANGE = (10, 199)


def held_out(target: int) -> bool:
    return target % 10 == 7


class Countdown(ArithmeticTask):
    name = "countdown"
    rules = Rules(use_all=False, integers_only=True, positive_only=True)

    def __init__(self, min_numbers: int = 3, max_numbers: int = 6):
        if not 2 <= min_numbers <= max_numbers <= 6:
            raise QstarError("Countdown takes 2 <= min_numbers <= max_numbers <= 6 source numbers")
        self.min_numbers, self.max_numbers = min_numbers, max_numbers

    def generate(self, rng: random.Random) -> Problem:
        """One solvable problem: random numbers, then a random expression over at least two of them."""
        while True:
            n = rng.randint(self.min_numbers, self.max_numbers)
            numbers = [rng.randint(1, SOURCE_MAX) for _ in range(n)]
            pool = [Fraction(x) for x in rng.sample(numbers, rng.randint(2, n))]
            while len(pool) > 1:
                a, b = rng.sample(range(len(pool)), 2)
                r = combine(pool[a], rng.choice(OPS), pool[b], self.rules)
                if r is None:
                    break
                pool = [x for k, x in enumerate(pool) if k not in (a, b)] + [r]
            if len(pool) != 1:
                continue
            target = int(pool[0])
            if TARGET_RANGE[0] <= target <= TARGET_RANGE[1] and target not in numbers:
                return Problem(tuple(numbers), target)

    def problems(self, split: str, seed: int = 0, n: int | None = None) -> list[Problem]:
        if split not in ("train", "test"):
            raise QstarError(f"unknown split {split!r}; use train or test")
        n = 1000 if n is None else n
        rng = random.Random(f"countdown-{split}-{seed}")
        out: list[Problem] = []
        while len(out) < n:
            p = self.generate(rng)
            if held_out(p.target) == (split == "test"):
                out.append(Problem(p.numbers, p.target, id=f"{split}-{seed}-{len(out)}"))
        return out
