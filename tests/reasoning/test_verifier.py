"""The verifier: correct, wrong, malformed and hostile answers, all scored without crashing."""

from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from qstar.reasoning.expr import ExprError, parse
from qstar.reasoning.game24 import Game24
from qstar.reasoning.countdown import Countdown
from qstar.reasoning.task import Problem

G = Game24()
P = Problem((4, 5, 6, 10), 24)

@pytest.mark.parametrize("answer", [
    "(5 * (10 - 6)) + 4", "4 + 5 * (10 - 6) = 24", "Answer: (10 - 6) * 5 + 4 = 24", "(10−6)×5+4",
])
def test_correct_answers_score_one(answer):
    assert tuple(G.score(P, answer)) == (1.0, "correct")

def test_fraction_solution():
    assert G.score(Problem((3, 3, 8, 8), 24), "8 / (3 - 8 / 3)").ok

@pytest.mark.parametrize("answer, reason", [
    ("4 + 5 + 6 + 10", "equals 25, not 24"),
    ("(10 - 4) * 4", "more often"),
    ("(10 - 6) * 6", "more often"),
    ("4 * 6", "does not use"),
    ("(7 - 4) * 8", "not among"),
    ("4 + 5 * (10 - 6) = 25", "claims 25"),
    ("4 / (5 - 5) + 6 + 10", "division by zero"),
    ("(10 - 4) * (6 - 5 / 0)", "division by zero"),
])
def test_wrong_answers_score_zero_with_reason(answer, reason):
    value, why = G.score(P, answer)
    assert value == 0.0 and reason in why

@pytest.mark.parametrize("answer, reason", [
    ("", "empty"), ("((4 + 5)", "missing ')'"), ("4 + + 5", "expected a number"), ("4 5 6 10", "unexpected"),
    ("import os", "unexpected character"), ("__import__('os').system('x')", "unexpected character"),
    ("-4 + 28", "expected a number"), ("24 = 24 = 24", "more than one"), ("6 * 4)", "unexpected ')'"),
])
def test_malformed_answers(answer, reason):
    value, why = G.score(P, answer)
    assert value == 0.0 and reason in why

@pytest.mark.parametrize("answer, reason", [
    ("9 ** 9 ** 9 ** 9", "power"), ("2 ^ 1000000", "power"), ("9" * 5000, "too long"),
    ("(" * 40 + "4" + ")" * 40, "nested deeper"), ("99999999999999", "digits"),
    ("999999 * 999999 * 999999", "too large"), ("1 / 999999 / 999999 / 999999", "too large"),
])
def test_hostile_answers_are_cheap_and_score_zero(answer, reason):
    value, why = G.score(P, answer)
    assert value == 0.0 and reason in why

def test_non_text_answer():
    assert G.score(P, None).value == 0.0

@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/()^= xX÷", max_size=60))
def test_any_text_scores_without_crashing(text):
    value, why = G.score(P, text)
    assert value in (0.0, 1.0) and why

@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=6), st.lists(st.sampled_from("+-*/"), min_size=5, max_size=5))
def test_parser_matches_fraction_arithmetic(nums, ops):
    text, ref = str(nums[0]), Fraction(nums[0])
    for n, op in zip(nums[1:], ops):  # left-assoc with parentheses: ((a op b) op c) ...
        text = f"({text}) {op} {n}"
        ref = {"+": ref + n, "-": ref - n, "*": ref * n, "/": ref / n}[op]
    assert parse(text).value == ref and parse(text).numbers == tuple(nums)

def test_parse_error_type():
    with pytest.raises(ExprError):
        parse("(((")

def test_countdown_subset_allowed_but_not_reuse():
    c, p = Countdown(), Problem((3, 7, 25, 50), 75)
    assert c.score(p, "50 + 25").ok
    assert "more often" in c.score(p, "25 * 3 + 25 - 25").reason

def test_trace_scoring_replays_steps_exactly():
    good = "10 - 4 = 6 (left: 5 6 6)\n5 * 6 = 30 (left: 6 30)\n30 - 6 = 24 (left: 24)"
    assert G.score_trace(P, good).ok
    assert "not 7" in G.score_trace(P, good.replace("= 6 (left: 5 6 6)", "= 7 (left: 5 6 7)")).reason
    assert "left should be" in G.score_trace(P, good.replace("(left: 5 6 6)", "(left: 5 6)")).reason
    assert "not on the table" in G.score_trace(P, "9 - 4 = 5 (left: 5 5 6)").reason
    assert "no answer" in G.score_trace(P, "10 - 4 = 6 (left: 5 6 6)").reason
    assert not G.score_trace(P, "garbage\n" * 100).ok
