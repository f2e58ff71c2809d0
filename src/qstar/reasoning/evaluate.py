"""The evaluation table, in the style of Tree of Thoughts' Table 2: method, success rate, model calls,
tokens and seconds per problem; plus accuracy against coverage when the solver may abstain.

Success is decided by the verifier (``task.score``) alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from qstar.reasoning.interfaces import SearchResult
from qstar.reasoning.strategies import get_strategy
from qstar.reasoning.task import Problem, Task


@dataclass(frozen=True)
class Method:
    label: str
    strategy: str
    value: str | None = None  # "prm", "orm" or None
    kwargs: tuple = ()  # (name, value) pairs passed to the strategy
    second_thoughts: bool = True  # False: a policy with second thoughts runs without them (every step stands)

    def run(self, task, problems, policy, values: dict, seed: int) -> list[SearchResult]:
        if not self.second_thoughts and getattr(policy, "undo", False):
            from qstar.reasoning.calculator import Calculator
            policy = Calculator(policy.policy, task)
        return get_strategy(self.strategy)(task, problems, policy, values.get(self.value), seed=seed,
                                           **dict(self.kwargs))


def default_methods(n: int = 10) -> list[Method]:
    return [
        Method("greedy CoT", "greedy"),
        # the same policy with every step standing (the same row as greedy for models without second thoughts)
        Method("greedy CoT, no second thoughts", "greedy", second_thoughts=False),
        Method(f"CoT self-consistency (n={n})", "self_consistency", None, (("n", n),)),
        Method(f"best-of-{n}, ORM", "best_of_n", "orm", (("n", n), ("aggregation", "last"))),
        Method(f"best-of-{n}, PRM min", "best_of_n", "prm", (("n", n), ("aggregation", "min"))),
        Method(f"best-of-{n}, PRM last", "best_of_n", "prm", (("n", n), ("aggregation", "last"))),
        Method(f"best-of-{n}, PRM product", "best_of_n", "prm", (("n", n), ("aggregation", "prod"))),
        Method("ToT beam, b=1 (PRM)", "beam", "prm", (("width", 1), ("proposals", 8))),
        Method("ToT beam, b=5 (PRM)", "beam", "prm", (("width", 5), ("proposals", 8))),
        Method("MCTS over steps (PRM, 24 sims)", "mcts", "prm", (("simulations", 24), ("proposals", 8))),
        # larger budgets: more proposals per state, a wider beam, more simulations
        Method("ToT beam b=5 16 proposals (PRM)", "beam", "prm", (("width", 5), ("proposals", 16))),
        Method("ToT beam b=10 32 proposals (PRM)", "beam", "prm", (("width", 10), ("proposals", 32))),
        Method("MCTS 64 sims 16 proposals (PRM)", "mcts", "prm", (("simulations", 64), ("proposals", 16))),
        Method("MCTS 200 sims 32 proposals (PRM)", "mcts", "prm", (("simulations", 200), ("proposals", 32))),
        # AlphaZero's way: every legal step is an action, the policy's probability of writing it its prior
        Method("MCTS 64 sims every legal step (PRM)", "mcts", "prm", (("simulations", 64), ("proposals", 0))),
        Method("MCTS 200 sims every legal step (PRM)", "mcts", "prm", (("simulations", 200), ("proposals", 0))),
        Method("MCTS 200 sims every legal step, no value model", "mcts", None,
               (("simulations", 200), ("proposals", 0))),
        Method("MCTS 200 sims every legal step, uniform priors, no value model (no models)", "mcts", None,
               (("simulations", 200), ("proposals", 0), ("uniform_priors", True))),
    ]


def method_names() -> list[str]:
    return [m.label for m in default_methods()]


def evaluate(task: Task, problems: Sequence[Problem], policy, values: dict, methods: Sequence[Method],
             seed: int = 0, progress: Callable | None = None) -> list[dict]:
    """One row per method: {"method", "solved", "problems", "success", "policy_calls", "value_calls",
    "tokens", "seconds" (per problem, wall), "abstain" (accuracy at coverage 100/75/50%)}."""
    rows = []
    for m in methods:
        t0 = time.perf_counter()
        results = m.run(task, problems, policy, values, seed)
        wall = time.perf_counter() - t0
        oks = [r.answer is not None and task.score(p, r.answer).ok for p, r in zip(problems, results)]
        n = len(problems)
        rows.append({
            "method": m.label, "solved": sum(oks), "problems": n, "success": round(sum(oks) / n, 4),
            "policy_calls": round(sum(r.usage.policy_calls for r in results) / n, 2),
            "value_calls": round(sum(r.usage.value_calls for r in results) / n, 2),
            "tokens": round(sum(r.usage.tokens for r in results) / n, 1),
            "seconds": round(wall / n, 4),
            "abstain": abstention(results, oks),
        })
        if progress:
            progress(1, info=f"{m.label}: {sum(oks)}/{n}")
    return rows


def abstention(results: Sequence[SearchResult], oks: Sequence[bool], coverages=(1.0, 0.75, 0.5)) -> dict:
    """Answer only the most confident share of problems (by the strategy's confidence: vote share or
    value score); the rest get 'not sure'. Returns {coverage: accuracy on the answered ones}."""
    order = sorted(range(len(results)), key=lambda i: -results[i].confidence)
    out = {}
    for c in coverages:
        k = max(1, int(round(c * len(order))))
        out[f"{int(c * 100)}%"] = round(sum(oks[i] for i in order[:k]) / k, 4)
    return out


def markdown_table(rows: Sequence[dict], title: str = "") -> str:
    head = ("| method | success | solved | model calls / problem (policy + value) | tokens / problem "
            "| seconds / problem | accuracy at 75% / 50% coverage |\n|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['method']} | {100 * r['success']:.0f}% | {r['solved']}/{r['problems']} | "
        f"{r['policy_calls']:g} + {r['value_calls']:g} | {r['tokens']:g} | {r['seconds']:.3f} | "
        f"{100 * r['abstain']['75%']:.0f}% / {100 * r['abstain']['50%']:.0f}% |\n" for r in rows)
    return (f"{title}\n\n" if title else "") + head + body
