"""Stubs shared by the reasoning tests: a deterministic policy that makes one known solution reachable,
and a value model that knows the exact truth."""

import math
import random

import pytest

from qstar.reasoning.game24 import Game24
from qstar.reasoning.interfaces import Completion
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
        return rng.choice(moves), math.log(max(1e-9, 1 - self.p_right) / len(moves))

    def logprob(self, prompts, continuations):
        """The sampling distribution's log-probability (T=1) of each one-step continuation; a step counts as
        the solution's when it leaves the same numbers (``6 * 5`` is ``5 * 6``)."""
        out = []
        for prompt, line in zip(prompts, continuations):
            line, state = line.rstrip("\n"), G.read_prompt(prompt)
            moves = [m for m, _ in G.moves(state)]
            right = SOLUTION[len(state.steps)] if state.steps == SOLUTION[: len(state.steps)] else None
            nxt = G.apply(state, line)[0]
            is_right = right is not None and nxt is not None and nxt.values == G.apply(state, right)[0].values
            p = (1 - self.p_right) / len(moves) + (self.p_right if is_right else 0.0)
            out.append(math.log(p))
        return out

    def generate(self, prompts, n, temperature, stop, seed):
        rng = random.Random(seed)
        out = []
        for prompt in prompts:
            start = G.read_prompt(prompt)
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



@pytest.fixture
def stub_policy():
    return StubPolicy


@pytest.fixture
def exact_value():
    return ExactValue
