"""Search strategies over reasoning steps, all with one signature and one budget accounting::

    strategy(task, problems, policy, value, budget, seed) -> list[SearchResult]

Each works on a batch of problems at once (one model call serves many problems), and charges every
call to the problems it served (wall time split evenly among them).

What a strategy may use: the policy, the value model, and the task's world model (which written
steps are legal, when a solution is finished). It never calls ``task.score``: answers are graded
afterwards by the verifier. Only MCTS values finished leaves by the rules (did the last number hit
the target?), as a game engine knows a win; every other strategy picks its answer by model scores
or votes alone.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from qstar.core.errors import check
from qstar.reasoning.interfaces import Budget, Completion, Policy, SearchResult, Usage, ValueModel
from qstar.reasoning.task import Problem, StepState, Task, standing_lines, steps_text

Strategy = Callable[..., list[SearchResult]]
AGGREGATIONS = ("min", "last", "prod")


def state_text(task: Task, state: StepState) -> str:
    """Prompt plus the steps written so far, each ending in a newline: what the policy continues."""
    return task.prompt(state.problem) + steps_text(state.steps)


def _charge(usages: list[Usage], owners: Sequence[int], started: float, counter: str) -> None:
    """Split the wall time since ``started`` among the owner problems of one batched call; one call each."""
    share = (time.perf_counter() - started) / len(set(owners))
    for o in set(owners):
        usages[o].seconds += share
    for o in owners:
        setattr(usages[o], counter, getattr(usages[o], counter) + 1)


def call_policy(policy: Policy, prompts: Sequence[str], owners: Sequence[int], usages: list[Usage], n: int,
                temperature: float, stop: str, seed: int) -> list[list[Completion]]:
    """One batched policy call; charges each prompt as one call to its owner problem."""
    if not prompts:
        return []
    t0 = time.perf_counter()
    out = policy.generate(list(prompts), n=n, temperature=temperature, stop=stop, seed=seed)
    _charge(usages, owners, t0, "policy_calls")
    for o, comps in zip(owners, out):
        usages[o].tokens += sum(c.tokens for c in comps)
    return out


def call_logprob(policy: Policy, prompts: Sequence[str], options: Sequence[Sequence[str]], owners: Sequence[int],
                 usages: list[Usage]) -> list[list[float]]:
    """One batched scoring call: the policy's log-probability of every option after its prompt; charges each
    prompt as one policy call to its owner problem (no tokens are generated)."""
    if not prompts:
        return []
    t0 = time.perf_counter()
    flat = policy.logprob([p for p, opts in zip(prompts, options) for _ in opts], [o for opts in options for o in opts])
    _charge(usages, owners, t0, "policy_calls")
    out, k = [], 0
    for opts in options:
        out.append(flat[k: k + len(opts)])
        k += len(opts)
    return out


def call_value(value: ValueModel, prompts: Sequence[str], steps: Sequence[Sequence[str]], owners: Sequence[int],
               usages: list[Usage]) -> list[list[float]]:
    if not prompts:
        return []
    t0 = time.perf_counter()
    out = value.score(list(prompts), [list(s) for s in steps])
    _charge(usages, owners, t0, "value_calls")
    return out


def aggregate(scores: Sequence[float], how: str) -> float:
    """Combine per-step scores into one: ``min`` (weakest step), ``last`` (final step), ``prod``."""
    if not scores:
        return 0.0
    if how == "min":
        return min(scores)
    if how == "last":
        return scores[-1]
    if how == "prod":
        p = 1.0
        for s in scores:
            p *= s
        return p
    raise ValueError(f"unknown aggregation {how!r}; use one of {AGGREGATIONS}")


def _finish(task: Task, problem: Problem, text: str) -> tuple[StepState, str | None]:
    state, _ = task.parse_trace(problem, text)
    return state, (task.answer(state) if task.is_done(state) else None)


# ----- chain of thought: one sample or many --------------------------------------------------------
def greedy(task: Task, problems: Sequence[Problem], policy: Policy, value: ValueModel | None = None,
           budget: Budget = Budget(), seed: int = 0) -> list[SearchResult]:
    """Greedy chain of thought: the policy writes the whole solution at temperature 0."""
    usages = [Usage() for _ in problems]
    comps = call_policy(policy, [task.prompt(p) for p in problems], range(len(problems)), usages, 1, 0.0, "end", seed)
    out = []
    for p, u, c in zip(problems, usages, comps):
        state, ans = _finish(task, p, c[0].text)
        out.append(SearchResult(ans, state.steps, 1.0 if ans else 0.0, u, [c[0].text]))
    return out


def _samples(task, problems, policy, n, temperature, budget, seed):
    """One call of ``n`` samples per problem: its cost is set by ``n``, so ``budget`` has nothing to cap."""
    usages = [Usage() for _ in problems]
    comps = call_policy(policy, [task.prompt(p) for p in problems], range(len(problems)), usages, n,
                        temperature, "end", seed)
    return usages, comps


def self_consistency(task: Task, problems: Sequence[Problem], policy: Policy, value: ValueModel | None = None,
                     budget: Budget = Budget(), seed: int = 0, n: int = 10, temperature: float = 1.0
                     ) -> list[SearchResult]:
    """Majority vote over ``n`` sampled solutions that claim to reach the target; a vote is for the
    answer expression (two step orders writing the same expression vote together).
    Confidence = the winner's share of all ``n`` samples."""
    usages, comps = _samples(task, problems, policy, n, temperature, budget, seed)
    out = []
    for p, u, cs in zip(problems, usages, comps):
        votes: Counter = Counter()
        first: dict[str, StepState] = {}
        for c in cs:
            state, ans = _finish(task, p, c.text)
            if ans and ans.endswith(f"= {p.target}"):
                votes[ans] += 1
                first.setdefault(ans, state)
        if not votes:
            out.append(SearchResult(None, (), 0.0, u, ["no sample claims the target"]))
            continue
        ans, k = votes.most_common(1)[0]
        out.append(SearchResult(ans, first[ans].steps, k / n, u, [f"{v}x {a}" for a, v in votes.most_common(5)]))
    return out


def best_of_n(task: Task, problems: Sequence[Problem], policy: Policy, value: ValueModel,
              budget: Budget = Budget(), seed: int = 0, n: int = 10, temperature: float = 1.0,
              aggregation: str = "min") -> list[SearchResult]:
    """Sample ``n`` solutions, score each with the value model (PRM: per-step scores combined by
    ``aggregation``; an ORM is a value model read with ``last``), answer with the best-scored one."""
    check(aggregation in AGGREGATIONS, f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    usages, comps = _samples(task, problems, policy, n, temperature, budget, seed)
    prompts, steps, owners, states = [], [], [], []
    for i, (p, cs) in enumerate(zip(problems, comps)):
        for c in cs:
            lines = standing_lines(c.text)[:8]
            prompts.append(task.prompt(p))
            steps.append(lines or [""])
            owners.append(i)
            states.append(_finish(task, p, c.text))
    scores = call_value(value, prompts, steps, owners, usages)
    best: dict[int, tuple[float, int]] = {}
    for k, (o, sc) in enumerate(zip(owners, scores)):
        s = aggregate(sc, aggregation)
        if o not in best or s > best[o][0]:
            best[o] = (s, k)
    out = []
    for i, (p, u) in enumerate(zip(problems, usages)):
        s, k = best[i]
        state, ans = states[k]
        out.append(SearchResult(ans, state.steps, s, u, [f"best of {n} by {aggregation}: {s:.3f}"]))
    return out


# ----- Tree of Thoughts: breadth-first beam over steps ---------------------------------------------
@dataclass
class _Node:
    state: StepState
    score: float


def beam(task: Task, problems: Sequence[Problem], policy: Policy, value: ValueModel,
         budget: Budget = Budget(), seed: int = 0, width: int = 5, proposals: int = 8,
         temperature: float = 1.0, max_depth: int = 8) -> list[SearchResult]:
    """Tree-of-Thoughts BFS: from every state in the beam, sample ``proposals`` next steps; keep the
    legal, distinct children; value them with the value model (score after their last step); keep the
    top ``width``. Finished states stay in the pool. The answer is the best-valued finished state."""
    check(width >= 1 and proposals >= 1, "beam width and proposals must be >= 1")
    usages = [Usage() for _ in problems]
    beams = [[_Node(task.initial_state(p), 1.0)] for p in problems]
    logs: list[list[str]] = [[] for _ in problems]
    for depth in range(max_depth):
        todo = []
        for i, b in enumerate(beams):
            open_nodes = [nd for nd in b if not task.is_done(nd.state)]
            if budget.max_policy_calls is not None:  # never start more calls than the budget has left
                open_nodes = open_nodes[: max(0, budget.max_policy_calls - usages[i].policy_calls)]
            if not usages[i].exhausted(budget):
                todo += [(i, nd) for nd in open_nodes]
        if not todo:
            break
        comps = call_policy(policy, [state_text(task, nd.state) for _, nd in todo], [i for i, _ in todo], usages,
                            proposals, temperature, "line", seed * 1000 + depth)
        children: dict[int, dict[tuple, StepState]] = {i: {} for i, _ in todo}
        for (i, nd), cs in zip(todo, comps):
            for c in cs:
                nxt, _ = task.apply(nd.state, c.text)
                if nxt is not None:
                    children[i].setdefault(nxt.key, nxt)
        flat = [(i, s) for i in children for s in children[i].values()]
        scores = call_value(value, [task.prompt(s.problem) for _, s in flat], [s.steps for _, s in flat],
                            [i for i, _ in flat], usages)
        for i in children:
            pool = [nd for nd in beams[i] if task.is_done(nd.state)]
            pool += [_Node(s, sc[-1]) for (j, s), sc in zip(flat, scores) if j == i]
            pool.sort(key=lambda nd: -nd.score)
            beams[i] = pool[:width]
            logs[i].append(f"depth {depth + 1}: " + " | ".join(
                f"{nd.state.steps[-1]} [{nd.score:.2f}]" for nd in beams[i] if nd.state.steps))
    out = []
    for p, b, u, log in zip(problems, beams, usages, logs):
        done = [nd for nd in b if task.is_done(nd.state)]
        if not done:
            out.append(SearchResult(None, b[0].state.steps if b else (), 0.0, u, log))
            continue
        nd = max(done, key=lambda nd: nd.score)
        out.append(SearchResult(task.answer(nd.state), nd.state.steps, nd.score, u, log))
    return out


def get_strategy(name: str) -> Strategy:
    from qstar.reasoning.mcts_steps import mcts
    table = {"greedy": greedy, "self_consistency": self_consistency, "best_of_n": best_of_n, "beam": beam,
             "mcts": mcts}
    check(name in table, f"unknown strategy {name!r}; use one of {sorted(table)}")
    return table[name]
