"""The policy with a calculator: the model chooses each step's operation (``10 - 4``); the task's world
model writes the rest of the line exactly (`` = 6 (left: 5 6 6)``), as a game engine applies a move.

The model then only has to plan: which two numbers, which operation. Arithmetic and bookkeeping,
where a model of a million parameters spends most of its capacity and makes most of its mistakes,
are the rules' job. Tokens, calls and log-probabilities count only what the model wrote.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

from qstar.reasoning.interfaces import Completion, Policy, Stop
from qstar.reasoning.task import MAX_UNDOS, UNDO, Task

MAX_STEPS = 8


class Calculator:
    """Implements ``Policy`` on top of a policy that supports ``stop="action"``.

    ``undo=True``: a policy trained to look before it commits (``docs/reasoning.md``, "Second thoughts").
    After the rules have written a step's result, the policy writes either the newline (the step stands)
    or ``' undo'`` (the step is taken back; the next line starts again from the numbers before it). So one
    greedy solution can try a step, see the numbers it leaves, and reject it. Taken-back lines stay in the
    text (``parse_trace`` skips them); one-step proposals (``stop="line"``) are the policy's first tries."""

    def __init__(self, policy: Policy, task: Task, undo: bool = False):
        self.policy, self.task, self.undo = policy, task, undo
        self.retries = 0  # steps replaced because they were taken back here already or not legal (``_retry``)

    def __getattr__(self, name):  # num_parameters, save, model ... of the wrapped policy
        return getattr(self.policy, name)

    def generate(self, prompts: Sequence[str], n: int, temperature: float, stop: Stop,
                 seed: int) -> list[list[Completion]]:
        task = self.task
        states = [task.read_prompt(p) for p in prompts]
        # one running sample per (prompt, j):
        # [prompt index, text so far, state, logprob, tokens, alive, steps taken back, numbers they left here]
        runs = [[i, "", s, 0.0, 0, s is not None and not task.is_done(s), 0, set()] for i, s in enumerate(states)
                for _ in range(1 if temperature <= 0 else n)]
        second_thoughts = self.undo and stop != "line"
        for k in range(1 if stop == "line" else MAX_STEPS + (MAX_UNDOS if second_thoughts else 0)):
            live = [r for r in runs if r[5]]
            if not live:
                break
            if k == 0:  # n samples per prompt in one call
                groups = [[r for r in runs if r[0] == i] for i in range(len(prompts))]
                asked = [(i, g) for i, g in enumerate(groups) if g and g[0][5]]
                outs = self.policy.generate([prompts[i] for i, _ in asked], n=len(asked[0][1]) if asked else 1,
                                            temperature=temperature, stop="action", seed=seed)
                pairs = [(r, c) for (_, g), cs in zip(asked, outs) for r, c in zip(g, cs)]
            else:
                outs = self.policy.generate([prompts[r[0]] + r[1] for r in live], n=1, temperature=temperature,
                                            stop="action", seed=seed + k)
                pairs = [(r, cs[0]) for r, cs in zip(live, outs)]
            lines = []
            for r, c in pairs:
                nxt, line = task.complete_step(r[2], c.text)
                r[4] += c.tokens
                lines.append([r, nxt, line, c.logprob])
            if second_thoughts:
                self._retry(lines, prompts, temperature, seed + k)
            for r, _, _, lp in lines:
                r[3] += lp
            back = set()
            if second_thoughts:  # the policy reads each step's result, then keeps it or takes it back
                asking = [(r, line) for r, nxt, line, _ in lines if nxt is not None and r[6] < MAX_UNDOS]
                verdicts = self.policy.generate([prompts[r[0]] + r[1] + line for r, line in asking], n=1,
                                                temperature=temperature, stop="line", seed=seed + 7919 + k)
                for (r, _), v in zip(asking, verdicts):
                    r[3] += v[0].logprob
                    r[4] += v[0].tokens
                    if v[0].text.strip() == UNDO.strip():
                        back.add(id(r))
            for r, nxt, line, _ in lines:
                if id(r) in back:  # the numbers stay as they were
                    r[1] += line + UNDO + "\n"
                    r[6] += 1
                    r[7].add(nxt.values)
                else:
                    r[1] += line + "\n"
                    r[2] = nxt
                    r[5] = nxt is not None and not task.is_done(nxt)
                    r[7] = set()
        per = 1 if temperature <= 0 else n
        out = []
        for i in range(len(prompts)):
            mine = [r for r in runs if r[0] == i]
            comps = [Completion(r[1].rstrip("\n") if stop == "line" else r[1], r[3], r[4]) for r in mine]
            out.append([comps[j % per] for j in range(n)])
        return out

    def _retry(self, lines: list, prompts: Sequence[str], temperature: float, seed: int) -> None:
        """With second thoughts, a step the policy took back from these numbers cannot be tried again (nor
        another that leaves the same numbers), nor can a step that is not legal here: as a game policy's
        illegal moves are masked, the policy's most probable (at ``temperature`` > 0: sampled) legal step not
        yet taken back is tried instead. ``lines`` entries ``[run, next state, line, logprob]`` are replaced in
        place; ``self.retries`` counts them."""
        redo = [x for x in lines if x[1] is None or x[1].values in x[0][7]]
        options = [[(ln, nxt) for ln, nxt in self.task.moves(x[0][2]) if nxt.values not in x[0][7]] for x in redo]
        redo, options = [x for x, o in zip(redo, options) if o], [o for o in options if o]
        if not redo:
            return
        flat = self.logprob([prompts[x[0][0]] + x[0][1] for x, o in zip(redo, options) for _ in o],
                            [ln for o in options for ln, _ in o])
        rng, k = random.Random(seed), 0
        for x, o in zip(redo, options):
            lp, k = flat[k: k + len(o)], k + len(o)
            if temperature > 0:
                w = [math.exp((v - max(lp)) / temperature) for v in lp]
                i = rng.choices(range(len(o)), weights=w)[0]
            else:
                i = max(range(len(o)), key=lambda j: lp[j])
            x[2], x[1], x[3] = o[i][0], o[i][1], lp[i]
            self.retries += 1

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Only what the model writes counts: the operation of each step line (``'10 - 4 ='``); the rules'
        text is context."""
        return self.policy.logprob(prompts, [action_segments(c) for c in continuations])


def action_segments(completion: str, undo: bool = False) -> list[tuple[str, bool]]:
    """Training targets for a calculator policy: learn each step's operation, not what the rules write.
    The ``' ='`` that ends the operation is learned too: it is where the model hands over to the rules.
    ``'10 - 4 = 6 (left: 5 6 6)\\n'`` -> ``[('10 - 4 =', True), (' 6 (left: 5 6 6)\\n', False)]``.
    ``undo=True`` also learns the verdict after the rules' text: the newline that keeps a step, or
    ``' undo'`` and the newline that take it back."""
    out = []
    for line in completion.splitlines():
        head, sep, tail = line.partition(" =")
        if not undo:
            out += [(head + sep, True), (tail + "\n", False)]
            continue
        taken_back = tail.endswith(UNDO)
        tail = tail[: -len(UNDO)] if taken_back else tail
        out += [(head + sep, True), (tail, False), ((UNDO if taken_back else "") + "\n", True)]
    return out
