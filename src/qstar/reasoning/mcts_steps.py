"""MCTS over reasoning steps with the foundation's search core (``qstar.search.run_mcts``).

A single-player ``Game`` adapter: the actions of a state are the K candidate steps the policy
proposed for it (sampled once, cached per state), the evaluator gives priors (the proposals'
probabilities, duplicates merged) and values (the PRM's score after the last step, mapped to
[-1, 1]). Finished states are valued by the rules: +1 if the target was reached, -1 if not. A state
whose proposals are all illegal gets one action, 'give up', into a lost terminal state.

A single-player puzzle has no opponent to answer a move, so the search keeps the best line it has
found (as single-player MCTS does): the first simulation that reaches the target by the rules ends
the search for that problem with that line. Without one, it commits to the most visited step and
searches again from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qstar.core.evaluator import Evaluation
from qstar.core.errors import IllegalMove, check
from qstar.reasoning.interfaces import Budget, Policy, SearchResult, Usage, ValueModel
from qstar.reasoning.strategies import call_logprob, call_policy, call_value, state_text
from qstar.reasoning.task import Problem, StepState, Task


@dataclass(frozen=True)
class DeadEnd:
    """The policy proposed no legal step from ``state``."""

    state: StepState

    @property
    def key(self) -> tuple:
        return self.state.key + ("<dead end>",)


class StepGame:
    """``qstar.core.game.Game`` over steps. ``proposals`` maps a state key to [(line, next state, prob)],
    filled by ``StepEvaluator`` before the search expands that state."""

    name = "steps"
    obs_shape = (0,)
    num_actions: int

    def __init__(self, task: Task, num_actions: int, every_step: bool = False, uniform: bool = False):
        self.task, self.num_actions = task, num_actions
        self.every_step = every_step  # actions: every legal step (priors from the policy) instead of K samples
        self.uniform = uniform  # with every_step: equal priors, the policy is not asked (the no-model baseline)
        self.proposals: dict[tuple, list[tuple[str, StepState, float]]] = {}
        self.wins: dict[tuple, StepState] = {}  # (numbers, target) -> first finished state that hit the target

    def legal_mask(self, state) -> np.ndarray:
        mask = np.zeros(self.num_actions, bool)
        mask[: max(1, len(self.proposals[state.key]))] = True
        return mask

    def next_state(self, state, action: int):
        props = self.proposals.get(state.key)
        if props is None or action >= max(1, len(props)):
            raise IllegalMove(f"action {action} is not among the proposals for {state_text(self.task, state)!r}")
        return DeadEnd(state) if not props else props[action][1]

    def is_terminal(self, state) -> bool:
        return isinstance(state, DeadEnd) or self.task.is_done(state)

    def terminal_value(self, state) -> float:
        if isinstance(state, DeadEnd) or not self.task.is_goal(state):
            return -1.0
        self.wins.setdefault((state.problem.numbers, state.problem.target), state)
        return 1.0

    def to_play(self, state) -> int:
        return 0

    def key(self, state):
        return state.key

    def action_to_string(self, state, action: int) -> str:
        props = self.proposals.get(state.key) or []
        return props[action][0] if action < len(props) else "give up"


class StepEvaluator:
    """Batched: one policy call proposes K steps for every new state of the batch, one value-model call
    scores them all. Charges each problem for its states."""

    def __init__(self, game: StepGame, policy: Policy, value: ValueModel | None, temperature: float, seed: int,
                 owner_of: dict[tuple, int], usages: list[Usage], budget: Budget = Budget()):
        self.game, self.policy, self.value = game, policy, value
        self.temperature, self.seed, self.calls = temperature, seed, 0
        self.owner_of, self.usages, self.budget = owner_of, usages, budget

    def _owner(self, s: StepState) -> int:
        return self.owner_of[(s.problem.numbers, s.problem.target)]

    def __call__(self, states: Sequence[StepState]) -> Evaluation:
        task, K = self.game.task, self.game.num_actions
        new = list({s.key: s for s in states if s.key not in self.game.proposals}.values())
        spent = [s for s in new if self.usages[self._owner(s)].exhausted(self.budget)]
        for s in spent:  # out of budget: no proposals, the state becomes a dead end
            self.game.proposals[s.key] = []
        new = [s for s in new if s.key not in self.game.proposals]
        if self.budget.max_policy_calls is not None:  # never start more calls than the budget has left
            left: dict[int, int] = {}
            keep = []
            for s in new:
                o = self._owner(s)
                left.setdefault(o, self.budget.max_policy_calls - self.usages[o].policy_calls)
                if left[o] > 0:
                    left[o] -= 1
                    keep.append(s)
                else:
                    self.game.proposals[s.key] = []
            new = keep
        if self.game.every_step:
            self._score_all_steps(new)
        else:
            self._sample_steps(new)
        priors = np.zeros((len(states), K), np.float32)
        for b, s in enumerate(states):
            probs = np.array([p for _, _, p in self.game.proposals[s.key]] or [1.0], np.float64)
            priors[b, : len(probs)] = probs / probs.sum() if probs.sum() > 0 else 1.0 / len(probs)
        scored = [(b, s) for b, s in enumerate(states) if s.steps and self.value is not None]
        values = np.zeros(len(states), np.float32)  # no value model: every unfinished state is worth 0
        scores = call_value(self.value, [task.prompt(s.problem) for _, s in scored], [s.steps for _, s in scored],
                            [self._owner(s) for _, s in scored], self.usages)
        for (b, _), sc in zip(scored, scores):
            values[b] = 2.0 * sc[-1] - 1.0
        return Evaluation(priors, values)

    def _sample_steps(self, new: list[StepState]) -> None:
        """K sampled steps per state (one batched call), duplicates merged, illegal ones dropped."""
        task, K = self.game.task, self.game.num_actions
        comps = call_policy(self.policy, [state_text(task, s) for s in new], [self._owner(s) for s in new],
                            self.usages, K, self.temperature, "line", self.seed * 7919 + self.calls)
        self.calls += 1
        for s, cs in zip(new, comps):
            merged: dict[str, tuple[str, StepState, float]] = {}
            for c in cs:
                nxt, _ = task.apply(s, c.text)
                if nxt is None:
                    continue
                line, _, p = merged.get(nxt.steps[-1], (c.text, nxt, 0.0))
                merged[nxt.steps[-1]] = (line, nxt, p + math.exp(c.logprob))
            self.game.proposals[s.key] = sorted(merged.values(), key=lambda x: -x[2])[:K]

    def _score_all_steps(self, new: list[StepState]) -> None:
        """AlphaZero's way: every legal step is an action, its prior the policy's probability of writing it
        (renormalised over the legal steps). One batched scoring call for all new states."""
        task = self.game.task
        moves = [list(task.moves(s)) for s in new]
        if self.game.uniform:
            lps = [[0.0] * len(m) for m in moves]
        else:
            lps = call_logprob(self.policy, [state_text(task, s) for s in new],  # a written step ends its line
                               [[line + "\n" for line, _ in m] for m in moves], [self._owner(s) for s in new],
                               self.usages)
        for s, m, lp in zip(new, moves, lps):
            check(len(m) <= self.game.num_actions, f"{len(m)} legal steps, more than {self.game.num_actions} actions")
            probs = np.exp(np.asarray(lp, np.float64) - max(lp, default=0.0))
            self.game.proposals[s.key] = sorted(((line, nxt, float(p)) for (line, nxt), p in zip(m, probs)),
                                                key=lambda x: -x[2])


def mcts(task: Task, problems: Sequence[Problem], policy: Policy, value: ValueModel | None,
         budget: Budget = Budget(), seed: int = 0, simulations: int = 24, proposals: int = 8,
         temperature: float = 1.0, max_depth: int = 8, c_puct: float = 1.25,
         keep_wins: bool = True, uniform_priors: bool = False) -> list[SearchResult]:
    """At each step, ``simulations`` MCTS simulations from the current state (all problems' trees
    searched together), then commit to the most visited step. The actions of a state are ``proposals``
    sampled steps, or with ``proposals=0`` every legal step, the policy's probabilities as priors
    (``uniform_priors``: equal priors, the policy unused). Without a value model (``value=None``) every
    unfinished state is worth 0 and only finished lines (+1 / -1 by the rules) steer the search. The answer is where that walk ends, or
    (``keep_wins``) the first line a simulation found that reaches the target by the rules."""
    from qstar.search import MCTSConfig, Tree, run_mcts

    check(simulations >= 1 and proposals >= 0, "simulations must be >= 1 and proposals >= 0 (0: every legal step)")
    # one tree per distinct problem; duplicates share their result
    uniq = list(dict.fromkeys((p.numbers, p.target) for p in problems))
    owner_of = {k: i for i, k in enumerate(uniq)}
    usages = [Usage() for _ in uniq]
    if proposals == 0:  # every legal step: at most n(n-1) ordered pairs times the operations
        most = max((len(p.numbers) for p in problems), default=2)
        game = StepGame(task, most * (most - 1) * 4, every_step=True, uniform=uniform_priors)
    else:
        check(not uniform_priors, "uniform_priors needs proposals=0 (every legal step)")
        game = StepGame(task, proposals)
    ev = StepEvaluator(game, policy, value, temperature, seed, owner_of, usages, budget)
    cfg = MCTSConfig(num_simulations=simulations, c_puct_init=c_puct, noise_weight=0.0, leaves_per_step=4)
    first = {}
    for p in problems:
        first.setdefault((p.numbers, p.target), p)
    trees = [Tree(game, task.initial_state(first[k]), capacity=64) for k in uniq]
    logs: list[list[str]] = [[] for _ in uniq]
    won: dict[int, StepState] = {}
    for _ in range(max_depth):
        live = [i for i, t in enumerate(trees) if not t.terminal[t.root] and not usages[i].exhausted(budget)
                and i not in won]
        if not live:
            break
        run_mcts([trees[i] for i in live], ev, cfg)
        for i in live:
            if keep_wins and uniq[i] in game.wins:
                won[i] = game.wins[uniq[i]]
                logs[i].append(f"a simulation reached {won[i].problem.target}: " + " | ".join(won[i].steps))
                continue
            t = trees[i]
            visits = t.visit_counts()
            a = int(visits.argmax())
            q = t.W[t.root, a] / max(t.N[t.root, a], 1.0)
            logs[i].append(f"{game.action_to_string(t.root_state, a)}  [visits {int(visits[a])}/"
                           f"{int(visits.sum())}, Q {q:+.2f}]")
            t.advance(a)
    results = []
    for i, t in enumerate(trees):
        if i in won:
            results.append(SearchResult(task.answer(won[i]), won[i].steps, 1.0, usages[i], logs[i]))
            continue
        s = t.root_state
        if isinstance(s, DeadEnd) or not task.is_done(s):
            st = s.state if isinstance(s, DeadEnd) else s
            results.append(SearchResult(None, st.steps, 0.0, usages[i], logs[i]))
            continue
        conf = float(np.clip((t.value[t.root] + 1) / 2, 0, 1))
        results.append(SearchResult(task.answer(s), s.steps, conf, usages[i], logs[i]))
    return [results[owner_of[(p.numbers, p.target)]] for p in problems]
