"""Every strategy on a tiny deterministic stub policy: it finds the solution the stub makes reachable,
stays within its budget, and gives the same result for the same seed."""

import math
import random

import pytest

from qstar.reasoning.game24 import Game24
from qstar.reasoning.interfaces import Budget, Completion
from qstar.reasoning.strategies import aggregate, beam, best_of_n, greedy, self_consistency
from qstar.reasoning.mcts_steps import mcts
from qstar.reasoning.task import Problem

G = Game24()
P = Problem((4, 5, 6, 10), 24)
SOLUTION = ("10 - 4 = 6 (left: 5 6 6)", "5 * 6 = 30 (left: 6 30)", "30 - 6 = 24 (left: 24)")


class StubPolicy:
    """On the known solution path it proposes the next solution step with probability ``p_right``,
    otherwise a uniformly random legal step. Greedy (T=0) writes the solution step if ``greedy_right``,
    else the first legal step that leaves the path."""

    def __init__(self, p_right=0.3, greedy_right=True):
        self.p_right, self.greedy_right = p_right, greedy_right

    def _step(self, state, temperature, rng):
        moves = [line for line, _ in G.moves(state)]
        right = SOLUTION[len(state.steps)] if state.steps == SOLUTION[: len(state.steps)] else None
        if temperature == 0:
            line = right if (right and self.greedy_right) else next(m for m in moves if m != right)
            return line, 0.0
        if right and rng.random() < self.p_right:
            return right, math.log(self.p_right)
        return rng.choice(moves), math.log((1 - self.p_right) / len(moves))

    def generate(self, prompts, n, temperature, stop, seed):
        rng = random.Random(seed)
        out = []
        for prompt in prompts:
            head, _, rest = prompt.partition("\n")
            nums, target = head.split(" -> ")
            problem = Problem(tuple(int(x) for x in nums.split()), int(target))
            start, _ = G.parse_trace(problem, rest)
            comps = []
            for _ in range(n):
                state, lines, lp = start, [], 0.0
                while not G.is_done(state):
                    line, l = self._step(state, temperature, rng)
                    lines.append(line)
                    lp += l
                    state, _ = G.apply(state, line)
                    if stop == "line":
                        break
                comps.append(Completion("\n".join(lines), lp, 5 * len(lines)))
            out.append(comps)
        return out


class ExactValue:
    """Value model that knows the truth: 0.9 if the target is still reachable after the step, else 0.1."""

    def score(self, prompts, steps):
        out = []
        for prompt, lines in zip(prompts, steps):
            state, scores = G.initial_state(P), []
            for line in lines:
                nxt, _ = G.apply(state, line)
                if nxt is None:
                    scores += [0.0] * (len(lines) - len(scores))
                    break
                state = nxt
                scores.append(0.9 if G.state_solvable(state) else 0.1)
            out.append(scores)
        return out


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
])
def test_search_finds_the_solution_greedy_misses(strategy, kw):
    policy = StubPolicy(p_right=0.4, greedy_right=False)
    r = run(strategy, policy, **kw)
    assert G.score(P, r.answer).ok, (r.answer, r.log)
    assert 0.0 < r.confidence <= 1.0 and r.usage.tokens > 0 and r.usage.seconds >= 0


@pytest.mark.parametrize("strategy, kw", [
    (self_consistency, {"n": 12}), (best_of_n, {"n": 12}), (beam, {"width": 3, "proposals": 4}),
    (mcts, {"simulations": 8, "proposals": 4}),
])
def test_same_seed_same_result(strategy, kw):
    a, b = (run(strategy, StubPolicy(0.3, False), seed=7, **kw) for _ in range(2))
    assert (a.answer, a.steps, a.confidence, a.log) == (b.answer, b.steps, b.confidence, b.log)
    assert (a.usage.policy_calls, a.usage.tokens) == (b.usage.policy_calls, b.usage.tokens)


@pytest.mark.parametrize("strategy, kw", [(beam, {"width": 5, "proposals": 4}),
                                          (mcts, {"simulations": 32, "proposals": 4})])
@pytest.mark.parametrize("calls", [1, 2, 5])
def test_policy_call_budget_is_respected(strategy, kw, calls):
    r = run(strategy, StubPolicy(0.3, False), budget=Budget(max_policy_calls=calls), **kw)
    assert 1 <= r.usage.policy_calls <= calls


def test_aggregations():
    assert aggregate([0.9, 0.2, 0.8], "min") == 0.2
    assert aggregate([0.9, 0.2, 0.8], "last") == 0.8
    assert aggregate([0.5, 0.5], "prod") == 0.25
    with pytest.raises(ValueError):
        aggregate([0.5], "mean")
