"""A small arithmetic parser with exact rational arithmetic, for checking answers written by a model.

It never calls ``eval``. Grammar (whitespace ignored)::

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '/') factor)*
    factor := INT | '(' expr ')'

``×``/``x`` are read as ``*``, ``÷`` as ``/``, ``−`` as ``-``. There is no unary minus and no power
operator. Limits keep hostile input cheap: text length, number of digits, nesting depth, and the
size of every intermediate numerator and denominator. Anything outside them raises ``ExprError``
with a reason a person can read.

    >>> parse("(10 - 4) * (5 - 6 / 6)")
    Parsed(value=Fraction(24, 1), numbers=(10, 4, 5, 6, 6))
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

MAX_CHARS = 200
MAX_DIGITS = 6
MAX_DEPTH = 16
MAX_MAGNITUDE = 10**12  # bound on |numerator| and denominator of every intermediate value

_ALIASES = {"×": "*", "x": "*", "X": "*", "÷": "/", "−": "-", "–": "-", "[": "(", "]": ")"}


class ExprError(ValueError):
    """The text is not an acceptable arithmetic expression; the message says why."""


@dataclass(frozen=True)
class Parsed:
    value: Fraction
    numbers: tuple[int, ...]  # the integer literals, left to right


def _tokens(text: str) -> list[str]:
    if len(text) > MAX_CHARS:
        raise ExprError(f"answer too long ({len(text)} characters, at most {MAX_CHARS})")
    out: list[str] = []
    i = 0
    while i < len(text):
        c = _ALIASES.get(text[i], text[i])
        if c.isspace():
            i += 1
        elif c in "+-*/()":
            if c == "*" and i + 1 < len(text) and text[i + 1] == "*":
                raise ExprError("power '**' is not an allowed operation (only + - * /)")
            out.append(c)
            i += 1
        elif c.isdigit():
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            if j - i > MAX_DIGITS:
                raise ExprError(f"number with {j - i} digits (at most {MAX_DIGITS})")
            out.append(str(int(text[i:j])))
            i = j
        elif c == "^":
            raise ExprError("power '^' is not an allowed operation (only + - * /)")
        else:
            raise ExprError(f"unexpected character {text[i]!r} at position {i}")
    if not out:
        raise ExprError("empty expression")
    return out


class _Parser:
    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.numbers: list[int] = []

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ExprError("expression ends too early")
        self.pos += 1
        return tok

    def expr(self, depth: int) -> Fraction:
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            value = _apply(value, op, self.term(depth))
        return value

    def term(self, depth: int) -> Fraction:
        value = self.factor(depth)
        while self.peek() in ("*", "/"):
            op = self.take()
            value = _apply(value, op, self.factor(depth))
        return value

    def factor(self, depth: int) -> Fraction:
        tok = self.take()
        if tok == "(":
            if depth >= MAX_DEPTH:
                raise ExprError(f"parentheses nested deeper than {MAX_DEPTH}")
            value = self.expr(depth + 1)
            if self.peek() != ")":
                raise ExprError("missing ')'")
            self.take()
            return value
        if tok.isdigit():
            self.numbers.append(int(tok))
            return Fraction(int(tok))
        raise ExprError(f"expected a number or '(' but found {tok!r}")


def _apply(a: Fraction, op: str, b: Fraction) -> Fraction:
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    else:
        if b == 0:
            raise ExprError("division by zero")
        r = a / b
    if abs(r.numerator) > MAX_MAGNITUDE or r.denominator > MAX_MAGNITUDE:
        raise ExprError(f"intermediate value too large (limit {MAX_MAGNITUDE:.0e})")
    return r


def parse(text: str) -> Parsed:
    """Evaluate ``text`` exactly. Raises ExprError for anything malformed, hostile or too large."""
    if not isinstance(text, str):
        raise ExprError(f"answer must be text, not {type(text).__name__}")
    p = _Parser(_tokens(text))
    value = p.expr(0)
    if p.peek() is not None:
        raise ExprError(f"unexpected {p.peek()!r} after the end of the expression")
    return Parsed(value, tuple(p.numbers))


def format_number(x: Fraction) -> str:
    """``Fraction(8, 3) -> '8/3'``, ``Fraction(24) -> '24'``, ``Fraction(-1, 2) -> '-1/2'``."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def parse_number(text: str) -> Fraction:
    """Inverse of ``format_number``; raises ExprError on anything else."""
    t = text.strip()
    neg = t.startswith("-")
    body = t[1:] if neg else t
    parts = body.split("/")
    if not (1 <= len(parts) <= 2) or not all(p.isdigit() and len(p) <= MAX_DIGITS for p in parts):
        raise ExprError(f"not a number: {text!r}")
    if len(parts) == 2 and int(parts[1]) == 0:
        raise ExprError(f"zero denominator in {text!r}")
    x = Fraction(int(parts[0]), int(parts[1]) if len(parts) == 2 else 1)
    return -x if neg else x
