"""Reach-a-target arithmetic: the step rules, verifier and solver shared by Game of 24 and Countdown.

Step format (Tree of Thoughts)::

    4 5 6 10 -> 24            <- prompt
    10 - 4 = 6 (left: 5 6 6)  <- one step per line: two numbers on the table are replaced by the result
    5 * 6 = 30 (left: 6 30)
    30 - 6 = 24 (left: 24)

The two tasks differ only in their rules (``Rules``): Game of 24 uses every number and allows
fractions; Countdown may leave numbers unused and keeps every intermediate a positive integer.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Sequence

from qstar.reasoning.expr import ExprError, format_number, parse, parse_number
from qstar.reasoning.task import Item, Problem, Score, StepState, standing_lines

OPS = ("+", "-", "*", "/")
_STEP_RE = re.compile(r"^\s*(\S+) ([-+*/]) (\S+) = (\S+) \(left: ([^)]*)\)\s*$")
MAX_LINE = 120


@dataclass(frozen=True)
class Rules:
    use_all: bool  # every source number must be used (Game of 24) or any subset (Countdown)
    integers_only: bool  # intermediate results must be integers (Countdown)
    positive_only: bool  # subtraction must give a result > 0 (Countdown) rather than >= 0 (Game of 24)


def combine(a: Fraction, op: str, b: Fraction, rules: Rules, canonical: bool = False) -> Fraction | None:
    """The result of ``a op b`` if the rules allow that step, else None.

    ``-`` never goes below zero (or one, for Countdown). With ``canonical`` the solver writes ``+``/``*``
    with the larger operand first, so each step is enumerated once. Every solution can be written that
    way, so the solver loses nothing.
    """
    if op in "+*" and canonical and a < b:
        return None
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        if a < b or (rules.positive_only and a == b):
            return None
        return a - b
    if b == 0:
        return None
    r = a / b
    if rules.integers_only and r.denominator != 1:
        return None
    return r


def step_text(a: Fraction, op: str, b: Fraction, result: Fraction, left: Sequence[Fraction]) -> str:
    return (f"{format_number(a)} {op} {format_number(b)} = {format_number(result)} "
            f"(left: {' '.join(format_number(x) for x in left)})")


def _sorted_items(items: Sequence[Item]) -> tuple[Item, ...]:
    return tuple(sorted(items, key=lambda i: i.value))


class ArithmeticTask:
    """A Task (see ``qstar.reasoning.task``) for 'reach the target with + - * /' under ``rules``."""

    name = "arithmetic"
    rules = Rules(use_all=True, integers_only=False, positive_only=False)

    # ----- text ----------------------------------------------------------------------------------
    def prompt(self, problem: Problem) -> str:
        return f"{problem.text} -> {problem.target}\n"

    def read_prompt(self, text: str) -> StepState | None:
        """Inverse of ``prompt`` followed by steps: the state a policy prompt describes, or None."""
        head, _, rest = text.partition("\n")
        nums, sep, target = head.partition(" -> ")
        parts = nums.split()
        if not sep or not target.strip().isdigit() or not parts or not all(x.isdigit() for x in parts):
            return None
        problem = Problem(tuple(int(x) for x in parts), int(target))
        state, why = self.parse_trace(problem, rest)
        return state if why in ("ok", "unfinished") or not rest.strip() else None

    def complete_step(self, state: StepState, action: str) -> tuple[StepState | None, str]:
        """Write the rest of a step exactly: ``'10 - 4'`` -> ``'10 - 4 = 6 (left: 5 6 6)'`` and the new state.
        (None, the line as far as it goes) when the operation is not legal here."""
        m = re.match(r"^\s*(\S+) ([-+*/]) (\S+)\s*$", action)
        if not m:
            return None, action.strip() + " = ?"
        try:
            a, b = parse_number(m.group(1)), parse_number(m.group(3))
        except ExprError:
            return None, action.strip() + " = ?"
        r = combine(a, m.group(2), b, self.rules)
        if r is None:
            return None, action.strip() + " = ?"
        items = [i.value for i in state.items]
        for x in (a, b):
            if x not in items:
                return None, action.strip() + " = ?"
            items.remove(x)
        line = step_text(a, m.group(2), b, r, sorted(items + [r]))
        nxt, _ = self.apply(state, line)
        return nxt, line

    def initial_state(self, problem: Problem) -> StepState:
        return StepState(problem, _sorted_items([Item(Fraction(n), str(n)) for n in problem.numbers]))

    # ----- world model ---------------------------------------------------------------------------
    def moves(self, state: StepState) -> Iterator[tuple[str, StepState]]:
        """Every legal step from ``state`` as ``(line, next_state)``, each distinct line once."""
        items, seen = state.items, set()
        for i in range(len(items)):
            for j in range(len(items)):
                if i == j:
                    continue
                rest = [items[k] for k in range(len(items)) if k not in (i, j)]
                for op in OPS:
                    r = combine(items[i].value, op, items[j].value, self.rules, canonical=True)
                    if r is None:
                        continue
                    new = _sorted_items(rest + [Item(r, f"({items[i].expr} {op} {items[j].expr})")])
                    line = step_text(items[i].value, op, items[j].value, r, [x.value for x in new])
                    if line not in seen:
                        seen.add(line)
                        yield line, StepState(state.problem, new, state.steps + (line,))

    def apply(self, state: StepState, line: str) -> tuple[StepState | None, str]:
        if self.is_done(state):
            return None, "no step is needed: the problem is finished"
        if len(line) > MAX_LINE:
            return None, f"step longer than {MAX_LINE} characters"
        m = _STEP_RE.match(line)
        if not m:
            return None, f"not a step of the form 'a op b = c (left: ...)': {line[:40]!r}"
        try:
            a, b, c = (parse_number(m.group(k)) for k in (1, 3, 4))
            left = sorted(parse_number(t) for t in m.group(5).split())
        except ExprError as e:
            return None, str(e)
        op = m.group(2)
        r = combine(a, op, b, self.rules)
        if r is None:
            return None, f"'{format_number(a)} {op} {format_number(b)}' is not allowed here"
        if r != c:
            return None, f"{format_number(a)} {op} {format_number(b)} is {format_number(r)}, not {format_number(c)}"
        items = list(state.items)
        picked = []
        for x in (a, b):
            k = next((k for k, it in enumerate(items) if it.value == x), None)
            if k is None:
                return None, f"{format_number(x)} is not on the table"
            picked.append(items.pop(k))
        new = _sorted_items(items + [Item(r, f"({picked[0].expr} {op} {picked[1].expr})")])
        if [i.value for i in new] != left:
            return None, f"left should be {' '.join(format_number(i.value) for i in new)}"
        return StepState(state.problem, new, state.steps + (line.strip(),)), "ok"

    def is_done(self, state: StepState) -> bool:
        if len(state.items) <= 1:
            return True
        if not self.rules.use_all and state.steps:
            return any(i.value == state.problem.target for i in state.items)
        return False

    def answer(self, state: StepState) -> str | None:
        hits = [i for i in state.items if i.value == state.problem.target]
        if self.rules.use_all:
            chosen = state.items[0] if len(state.items) == 1 else None
        else:
            chosen = hits[0] if hits else (state.items[-1] if state.items else None)
        if chosen is None:
            return None
        expr = chosen.expr[1:-1] if chosen.expr.startswith("(") else chosen.expr
        return f"{expr} = {format_number(chosen.value)}"

    def is_goal(self, state: StepState) -> bool:
        """Finished with the target on the table. Search may use this as a game engine knows a win."""
        return self.is_done(state) and any(i.value == state.problem.target for i in state.items) and (
            len(state.items) == 1 or not self.rules.use_all)

    def parse_trace(self, problem: Problem, text: str) -> tuple[StepState, str]:
        """Apply the step lines of ``text`` (the model's continuation of the prompt) from the start.
        Stops at the first line that breaks the rules; returns the last valid state and the reason. A line
        ending in ``' undo'`` was taken back by its writer and is skipped."""
        state = self.initial_state(problem)
        for line in standing_lines(text)[:16]:
            if self.is_done(state):
                break
            nxt, why = self.apply(state, line)
            if nxt is None:
                return state, why
            state = nxt
        return state, "ok" if self.is_done(state) else "unfinished"

    # ----- ground truth --------------------------------------------------------------------------
    def score(self, problem: Problem, answer: str) -> Score:
        if not isinstance(answer, str):
            return Score(0.0, f"answer must be text, not {type(answer).__name__}")
        text = answer.strip()
        if text.lower().startswith("answer:"):
            text = text[7:]
        parts = text.split("=")
        if len(parts) > 2:
            return Score(0.0, "more than one '='")
        try:
            parsed = parse(parts[0])
            claimed = parse(parts[1]).value if len(parts) == 2 else None
        except ExprError as e:
            return Score(0.0, str(e))
        if claimed is not None and claimed != parsed.value:
            return Score(0.0, f"claims {format_number(claimed)} but the expression is {format_number(parsed.value)}")
        pool = list(problem.numbers)
        for n in parsed.numbers:
            if n not in pool:
                return Score(0.0, f"uses {n} more often than given ({problem.text})" if n in problem.numbers
                             else f"uses {n}, which is not among {problem.text}")
            pool.remove(n)
        if self.rules.use_all and pool:
            return Score(0.0, f"does not use {' '.join(map(str, pool))}")
        if parsed.value != problem.target:
            return Score(0.0, f"equals {format_number(parsed.value)}, not {problem.target}")
        return Score(1.0, "correct")

    def score_trace(self, problem: Problem, text: str) -> Score:
        """Score a model-written continuation: its steps, replayed exactly, must reach a correct answer."""
        state, why = self.parse_trace(problem, text)
        if not self.is_done(state):
            return Score(0.0, f"no answer: {why}")
        ans = self.answer(state)
        return self.score(problem, ans) if ans else Score(0.0, "no answer")

    # ----- solver --------------------------------------------------------------------------------
    def solvable(self, values: Sequence[Fraction | int], target: int) -> bool:
        return _solvable(tuple(sorted(Fraction(v) for v in values)), Fraction(target), self.rules)

    def state_solvable(self, state: StepState) -> bool:
        """Exact 'can the target still be reached from here' (for finished states: reached or not)."""
        if self.is_done(state):
            return self.is_goal(state)
        return self.solvable(state.values, state.problem.target)

    def solve(self, problem: Problem, max_solutions: int | None = None) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []

        def walk(state: StepState) -> bool:
            if self.is_done(state):
                if self.is_goal(state):
                    out.append(state.steps)
                return max_solutions is not None and len(out) >= max_solutions
            for _, nxt in self.moves(state):
                if (self.is_done(nxt) and self.is_goal(nxt)) or (not self.is_done(nxt) and self.state_solvable(nxt)):
                    if walk(nxt):
                        return True
            return False

        walk(self.initial_state(problem))
        return out


@functools.lru_cache(maxsize=1 << 20)
def _solvable(values: tuple[Fraction, ...], target: Fraction, rules: Rules) -> bool:
    if not rules.use_all and target in values:
        return True
    if len(values) == 1:
        return values[0] == target
    n = len(values)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            rest = [values[k] for k in range(n) if k not in (i, j)]
            for op in OPS:
                r = combine(values[i], op, values[j], rules, canonical=True)
                if r is not None and _solvable(tuple(sorted(rest + [r])), target, rules):
                    return True
    return False
