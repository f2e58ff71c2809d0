"""A deliberately small policy over Game-of-24 step traces, cheap enough to optimize on one CPU core.

The reasoning package's LM policy (a GPT-2 through ``model.generate``) is too slow to sample hundreds
of thousands of traces on a 2-core CPU, so the over-optimization experiments use this one. It writes
exactly the text format of ``qstar.reasoning`` (``10 - 4 = 6 (left: 5 6 6)``, one step per line) and
is graded by the same verifier, ``task.score_trace``.

Each step is one choice among candidate lines built from the numbers the policy *believes* are on the
table (its own previous lines, true or not):

- an operation ``a op b`` on two of those numbers (every legal one, larger operand first for + and *);
- a written result: ``honest`` (the true value), ``target`` (claims the target whatever the arithmetic
  says) or ``slip`` (the true value plus one: an arithmetic error);
- a format: ``neat`` (with the ``(left: ...)`` bookkeeping the verifier requires) or ``terse``.

The probability of a candidate is a softmax over ``logit = w · φ + MLP(φ)``, where φ are features of
(state, candidate): step, operation, write mode, format, the operands and result written, whether the
result claims the target, and whether the target can still be reached from the numbers left (the
quantity a process reward model learns; computed exactly by the task's solver). ``initial`` sets ``w``
by hand to a *sloppy solver*: mostly honest and neat, a weak preference for steps that keep the target
reachable. Lies exist from the start with small probability, as errors do in any pretrained policy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
import torch

from qstar.core.errors import check
from qstar.reasoning.arithmetic import OPS
from qstar.reasoning.expr import format_number
from qstar.reasoning.task import Problem

WRITES = ("honest", "target", "slip")
FORMATS = ("neat", "terse")
MAX_VALUE = 25  # operand/result values 0..25 get their own one-hot slot; the rest share one

# feature layout: [step(3) op(4) write(3) format(2) claims_target honest_is_target reachable final
#                  integer divides_target a(27) b(27) c(27) bias]
_N_SCALAR = 3 + 4 + 3 + 2 + 6
NUM_FEATURES = _N_SCALAR + 3 * (MAX_VALUE + 2) + 1
F_HONEST, F_TARGET, F_NEAT = 7, 8, 10
F_CLAIMS, F_REACHABLE = 12, 14


@dataclass(frozen=True)
class Candidates:
    """The choices at one believed state: ``texts[i]`` is a step line and ``tables[i]`` the numbers
    believed left after it; ``features`` is float32 [num_candidates, NUM_FEATURES]."""

    texts: tuple[str, ...]
    tables: tuple[tuple[Fraction, ...], ...]
    features: np.ndarray
    write: tuple[int, ...]  # index into WRITES per candidate


Number = int | Fraction  # ints wherever the value is whole: Fraction arithmetic is the slow part


def _slot(x: Number) -> int:
    return x if type(x) is int and 0 <= x <= MAX_VALUE else MAX_VALUE + 1


def _whole(x: Fraction) -> Number:
    return x.numerator if x.denominator == 1 else x


def apply_op(a: Number, op: str, b: Number) -> Number | None:
    """Game-of-24 arithmetic on ints where possible (``a - b`` only when ``a >= b``, no division by 0).
    Agrees with ``qstar.reasoning.arithmetic.combine`` under the Game-of-24 rules (tested)."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a >= b else None
    if b == 0:
        return None
    return _whole(Fraction(a) / b)


@functools.lru_cache(maxsize=1 << 18)
def reachable(values: tuple[Number, ...], target: int) -> bool:
    """Whether ``target`` can be made from all of ``values`` (sorted). The fast twin of ``task.solvable``."""
    if len(values) == 1:
        return values[0] == target
    n = len(values)
    for i in range(n):
        for j in range(n):
            if i == j or (i < j and values[i] == values[j]):
                continue  # an equal pair is tried once
            rest = [values[k] for k in range(n) if k not in (i, j)]
            for op in OPS:
                if op in "+*" and values[i] < values[j]:
                    continue  # the larger operand first, as the task's solver writes them
                r = apply_op(values[i], op, values[j])
                if r is not None and reachable(tuple(sorted(rest + [r])), target):
                    return True
    return False


@functools.lru_cache(maxsize=6000)
def candidates(table: tuple[Number, ...], target: int) -> Candidates:
    """Every candidate line at a believed table (sorted values). Cached: states repeat across samples."""
    n, T = len(table), target
    step = {4: 0, 3: 1}.get(n, 2)
    texts, tables, feats, writes, seen = [], [], [], [], set()
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            rest = [table[k] for k in range(n) if k not in (i, j)]
            for o, op in enumerate(OPS):
                a, b = table[i], table[j]
                r = None if op in "+*" and a < b else apply_op(a, op, b)
                if r is None or (a, op, b) in seen:
                    continue
                seen.add((a, op, b))
                for w, c in ((0, r), (1, T), (2, r + 1)):
                    if w > 0 and c == r or w == 2 and c == T:
                        continue  # the same line as another write mode
                    left = tuple(sorted(rest + [c]))
                    reach = reachable(left, target)
                    for f, fmt in enumerate(FORMATS):
                        head = f"{format_number(a)} {op} {format_number(b)} = {format_number(c)}"
                        text = head + (f" (left: {' '.join(format_number(x) for x in left)})" if fmt == "neat" else "")
                        v = np.zeros(NUM_FEATURES, np.float32)
                        v[step] = 1
                        v[3 + o] = 1
                        v[7 + w] = 1
                        v[10 + f] = 1
                        v[12] = c == T
                        v[13] = r == T
                        v[14] = reach
                        v[15] = n == 2
                        v[16] = type(c) is int
                        v[17] = type(c) is int and c > 0 and target % c == 0
                        base = _N_SCALAR
                        v[base + _slot(a)] = 1
                        v[base + MAX_VALUE + 2 + _slot(b)] = 1
                        v[base + 2 * (MAX_VALUE + 2) + _slot(c)] = 1
                        v[-1] = 1
                        texts.append(text)
                        tables.append(left)
                        feats.append(v)
                        writes.append(w)
    check(bool(texts), f"no legal step from {[format_number(x) for x in table]}")
    return Candidates(tuple(texts), tuple(tables), np.stack(feats), tuple(writes))


class StepNet(torch.nn.Module):
    """logit(φ) = w · φ + MLP(φ); the MLP's output layer starts at zero, so ``initial`` sets the policy."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.linear = torch.nn.Linear(NUM_FEATURES, 1, bias=False)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(NUM_FEATURES, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, 1))
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.mlp[2].weight)
        torch.nn.init.zeros_(self.mlp[2].bias)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:  # [..., F] -> [...]
        return (self.linear(feats) + self.mlp(feats)).squeeze(-1)


@dataclass(frozen=True)
class PriorConfig:
    """The hand-set initial policy: logit bonuses of the sloppy solver."""

    honest: float = 3.0
    target: float = -0.5  # writing the target regardless of the arithmetic (a lie)
    slip: float = 0.5
    neat: float = 2.0
    reachable: float = 2.0
    claims_target: float = 0.5


def initial(seed: int = 0, prior: PriorConfig = PriorConfig(), hidden: int = 64) -> StepNet:
    torch.manual_seed(seed)
    net = StepNet(hidden)
    with torch.no_grad():
        w = net.linear.weight[0]
        w[F_HONEST], w[F_TARGET], w[F_HONEST + 2] = prior.honest, prior.target, prior.slip
        w[F_NEAT], w[F_REACHABLE], w[F_CLAIMS] = prior.neat, prior.reachable, prior.claims_target
    return net


@dataclass
class Rollouts:
    """``B`` sampled traces. ``states[t][b]`` is the believed table before step t (None once finished),
    ``choices[t][b]`` the candidate taken; ``texts[b]`` the completion (step lines joined by newlines)."""

    problems: list[Problem]
    states: list[list[tuple | None]]
    choices: list[list[int]]
    texts: list[str]
    writes: list[list[int]]  # per trace, the write mode of each step
    inputs: list[tuple[torch.Tensor, torch.Tensor]]  # per step: candidate features [B, C, F], mask [B, C]


def _padded(tables: Sequence[tuple | None], target: Sequence[int]):
    """Features [B, C, F] and mask [B, C] (True on real candidates) for the states of one step."""
    cands = [candidates(t, g) if t is not None else None for t, g in zip(tables, target)]
    C = max(len(c.texts) for c in cands if c is not None)
    feats = np.zeros((len(cands), C, NUM_FEATURES), np.float32)
    mask = np.zeros((len(cands), C), bool)
    for b, c in enumerate(cands):
        if c is not None:
            feats[b, : len(c.texts)] = c.features
            mask[b, : len(c.texts)] = True
        else:
            mask[b, 0] = True  # a finished trace: one dummy choice keeps every row a distribution
    return cands, torch.from_numpy(feats), torch.from_numpy(mask)


def _log_probs(net: StepNet, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logits = net(feats).masked_fill(~mask, float("-inf"))
    out = torch.log_softmax(logits, dim=-1)
    return out.masked_fill(~mask, 0.0)  # finite everywhere so that p*logp sums stay finite


def sample(net: StepNet, problems: Sequence[Problem], gen: torch.Generator, temperature: float = 1.0) -> Rollouts:
    """One trace per problem (repeat a problem for a group). The same generator state gives the same traces."""
    B = len(problems)
    tables: list[tuple | None] = [tuple(sorted(p.numbers)) for p in problems]
    targets = [p.target for p in problems]
    lines: list[list[str]] = [[] for _ in range(B)]
    writes: list[list[int]] = [[] for _ in range(B)]
    states, choices, inputs = [], [], []
    with torch.no_grad():
        while any(t is not None for t in tables):
            cands, feats, mask = _padded(tables, targets)
            logits = (net(feats) / temperature).masked_fill(~mask, float("-inf"))
            pick = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(-1).tolist()
            states.append(list(tables))
            choices.append(pick)
            inputs.append((feats, mask))
            for b, c in enumerate(cands):
                if c is None:
                    continue
                k = pick[b]
                lines[b].append(c.texts[k])
                writes[b].append(c.write[k])
                nxt = c.tables[k]
                tables[b] = nxt if len(nxt) > 1 else None
    return Rollouts(list(problems), states, choices, ["\n".join(ls) for ls in lines], writes, inputs)


def trace_log_probs(net: StepNet, ro: Rollouts, ref: StepNet | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(trace) [B], exact KL(π ‖ ref) summed over the trace's visited states [B]; zeros if no ref).

    The KL term is the sum over visited states of the full per-step KL, an unbiased, low-variance
    sample estimate of KL between the two trace distributions."""
    B = len(ro.problems)
    total, kl = torch.zeros(B), torch.zeros(B)
    for tables, pick, (feats, mask) in zip(ro.states, ro.choices, ro.inputs):
        live = torch.tensor([t is not None for t in tables])
        lp = _log_probs(net, feats, mask)
        idx = torch.tensor(pick)
        total = total + torch.where(live, lp.gather(1, idx[:, None]).squeeze(1), torch.zeros(()))
        if ref is not None:
            with torch.no_grad():
                lq = _log_probs(ref, feats, mask)
            step_kl = (lp.exp() * (lp - lq)).sum(-1)
            kl = kl + torch.where(live, step_kl, torch.zeros(()))
    return total, kl
