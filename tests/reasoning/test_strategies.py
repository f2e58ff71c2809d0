"""Every strategy on a tiny deterministic stub policy: it finds the solution the stub makes reachable,
stays within its budget, and gives the same result for the same seed."""

import pytest

from qstar.core.errors import ConfigError
from qstar.reasoning.game24 import Game24
from qstar.reasoning.interfaces import Budget
from qstar.reasoning.strategies import aggregate, beam, best_of_n, greedy, self_consistency
from qstar.reasoning.mcts_steps import mcts
from qstar.reasoning.task import Problem

G = Game24()
P = Problem((4, 5, 6, 10), 24)
SOLUTION = ("10 - 4 = 6 (left: 5 6 6)", "5 * 6 = 30 (left: 6 30)", "30 - 6 = 24 (left: 24)")


@pytest.fixture(autouse=True)
def _stubs(stub_policy, exact_value):
    global StubPolicy, ExactValue
    StubPolicy, ExactValue = stub_policy, exact_value


def run(strategy, policy, seed=0, **kw):
    return strategy(G, [P], policy, ExactValue(), seed=seed, **kw)[0]


def test_greedy_follows_the_policy():
    assert G.score(P, run(greedy, StubPolicy()).answer).ok
    r = run(greedy, StubPolicy(greedy_right=False))
    assert not G.score(P, r.answer or "").ok and r.usage.policy_calls == 1


@pytest.mark.parametrize("strategy, kw", [
    (self_consistency, {"n": 40}),
    (best_of_n, {"n": 40, "aggregation": "min"}),
    (best_of_n, {"n": 40, "aggregation": "last"}),
    (best_of_n, {"n": 40, "aggregation": "prod"}),
    (beam, {"width": 2, "proposals": 8}),
    (mcts, {"simulations": 16, "proposals": 8}),
    (mcts, {"simulations": 16, "proposals": 0}),
])
def test_search_finds_the_solution_greedy_misses(strategy, kw):
    policy = StubPolicy(p_right=0.4, greedy_right=False)
    r = run(strategy, policy, **kw)
    assert G.score(P, r.answer).ok, (r.answer, r.log)
    assert 0.0 < r.confidence <= 1.0 and r.usage.policy_calls > 0 and r.usage.seconds >= 0
    assert (r.usage.tokens > 0) == (kw.get("proposals") != 0)  # scoring every legal step generates nothing


@pytest.mark.parametrize("strategy, kw", [
    (self_consistency, {"n": 12}), (best_of_n, {"n": 12}), (beam, {"width": 3, "proposals": 4}),
    (mcts, {"simulations": 8, "proposals": 4}), (mcts, {"simulations": 8, "proposals": 0}),
])
def test_same_seed_same_result(strategy, kw):
    a, b = (run(strategy, StubPolicy(0.3, False), seed=7, **kw) for _ in range(2))
    assert (a.answer, a.steps, a.confidence, a.log) == (b.answer, b.steps, b.confidence, b.log)
    assert (a.usage.policy_calls, a.usage.tokens) == (b.usage.policy_calls, b.usage.tokens)


@pytest.mark.parametrize("strategy, kw", [(beam, {"width": 5, "proposals": 4}),
                                          (mcts, {"simulations": 32, "proposals": 4}),
                                          (mcts, {"simulations": 32, "proposals": 0})])
@pytest.mark.parametrize("calls", [1, 2, 5])
def test_policy_call_budget_is_respected(strategy, kw, calls):
    r = run(strategy, StubPolicy(0.3, False), budget=Budget(max_policy_calls=calls), **kw)
    assert 1 <= r.usage.policy_calls <= calls


def test_mcts_keeps_the_first_line_that_reaches_the_target():
    r = run(mcts, StubPolicy(0.4, False), simulations=16, proposals=8)
    assert G.score(P, r.answer).ok and r.confidence == 1.0
    assert any(line.startswith("a simulation reached 24") for line in r.log), r.log
    plain = run(mcts, StubPolicy(0.4, False), simulations=16, proposals=8, keep_wins=False)
    assert not any(line.startswith("a simulation reached") for line in plain.log)


def test_mcts_over_every_legal_step_takes_its_priors_from_the_policy():
    """proposals=0: every legal step is an action and the policy's probability its prior. A policy that
    favours the solution leads the search straight down it, even without a value model; uniform priors
    (the policy unused) give equal priors over all legal first steps."""
    from qstar.reasoning.mcts_steps import StepEvaluator, StepGame
    from qstar.reasoning.interfaces import Usage

    first = len(list(G.moves(G.initial_state(P))))
    for uniform in (False, True):
        game = StepGame(G, 48, every_step=True, uniform=uniform)
        ev = StepEvaluator(game, StubPolicy(0.9, False), None, 1.0, 0, {(P.numbers, P.target): 0}, [Usage()])
        out = ev([G.initial_state(P)])
        priors = out.priors[0]
        assert (priors > 0).sum() == first and priors.sum() == pytest.approx(1.0) and out.values[0] == 0.0
        lines = [line for line, _, _ in game.proposals[G.initial_state(P).key]]
        if uniform:
            assert priors.max() == pytest.approx(1.0 / first)
        else:
            assert lines[int(priors.argmax())] == SOLUTION[0] and priors.max() > 0.9
    r = mcts(G, [P], StubPolicy(0.9, False), None, simulations=4, proposals=0)[0]
    assert G.score(P, r.answer).ok and r.steps[0] == SOLUTION[0] and r.usage.value_calls == 0
    with pytest.raises(ConfigError, match="uniform_priors needs proposals=0"):
        mcts(G, [P], StubPolicy(), None, proposals=4, uniform_priors=True)


def test_aggregations():
    assert aggregate([0.9, 0.2, 0.8], "min") == 0.2
    assert aggregate([0.9, 0.2, 0.8], "last") == 0.8
    assert aggregate([0.5, 0.5], "prod") == 0.25
    with pytest.raises(ValueError):
        aggregate([0.5], "mean")
