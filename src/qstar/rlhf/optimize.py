"""Optimization against a reward source: best-of-N sampling and a GRPO-style policy-gradient loop.

Whatever is optimized, every record carries the gold reward (the verifier) next to the proxy, and the
distance travelled from the initial policy, ``KL(π ‖ π0)``, and its square root ``d``.

- Best-of-N: ``KL(best-of-N ‖ π0) = log N − (N − 1)/N``. Values for every N come from one pool of
  ``M >= N`` samples per prompt with the unbiased estimator of Gao et al. (2022): sort the pool by the
  selecting reward; the i-th smallest is the maximum of a random N-subset with probability
  ``C(i−1, N−1) / C(M, N)``.
- GRPO: ``G`` samples per prompt, advantage = (reward − group mean) / group std, loss
  ``−mean(A · log π(trace)) + kl_coef · KL``, one Adam step per batch (on-policy, no clipping needed).
  KL is estimated on the sampled traces as the sum of the exact per-step KLs of the states visited.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from qstar.core.errors import check
from qstar.reasoning.task import Problem
from qstar.rlhf import policy as P
from qstar.rlhf.reward_model import RewardFn


def bon_kl(n: int | np.ndarray) -> float | np.ndarray:
    """``KL(best-of-n ‖ π) = log n − (n − 1)/n`` (Stiennon et al. 2020; an upper bound, exact without ties)."""
    return np.log(n) - (n - 1) / n


def bon_weights(m: int, n: int) -> np.ndarray:
    """[m] probabilities that the i-th smallest of ``m`` is the largest of a random ``n``-subset."""
    check(1 <= n <= m, f"best-of-{n} needs at least {n} samples per prompt, got {m}")
    i = np.arange(1, m + 1)
    lw = np.full(m, -np.inf)
    ok = i >= n
    lw[ok] = [_log_choose(k - 1, n - 1) - _log_choose(m, n) for k in i[ok]]
    w = np.exp(lw)
    return w / w.sum()


def _log_choose(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def best_of_n(select: np.ndarray, values: dict[str, np.ndarray], ns: Sequence[int], seed: int = 0) -> list[dict]:
    """``select``: [prompts, M] rewards that choose; ``values[name]``: [prompts, M] what to report.
    Returns one record per N: {n, kl, sqrt_kl, <name>: expected value of the chosen sample}. Ties in
    ``select`` are broken at random."""
    rng = np.random.default_rng(seed)
    Pn, M = select.shape
    order = np.empty_like(select, dtype=int)
    for p in range(Pn):
        perm = rng.permutation(M)
        order[p] = perm[np.argsort(select[p, perm], kind="stable")]
    out = []
    for n in ns:
        w = bon_weights(M, n)
        rec = {"n": int(n), "kl": float(bon_kl(n)), "sqrt_kl": float(math.sqrt(bon_kl(n)))}
        for name, v in values.items():
            rec[name] = float(np.mean([np.dot(w, v[p, order[p]]) for p in range(Pn)]))
        out.append(rec)
    return out


def sample_pool(net: P.StepNet, problems: Sequence[Problem], m: int, seed: int, chunk: int = 512):
    """``m`` traces per problem from ``net``: (prompts-major list of texts [len(problems) * m])."""
    gen = torch.Generator().manual_seed(seed)
    flat = [p for p in problems for _ in range(m)]
    texts = []
    for k in range(0, len(flat), chunk):
        texts += P.sample(net, flat[k: k + chunk], gen).texts
    return texts


@dataclass(frozen=True)
class GRPOConfig:
    steps: int = 150
    prompts_per_step: int = 16
    group: int = 8  # samples per prompt
    lr: float = 0.01
    kl_coef: float = 0.0  # KL penalty against the initial policy (0: none)
    seed: int = 0
    examples_every: int = 5  # record example completions every this many steps

    def __post_init__(self):
        check(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        check(self.group >= 2, f"group must be >= 2 (advantages are relative within a group), got {self.group}")
        check(self.prompts_per_step >= 1 and self.lr > 0 and self.kl_coef >= 0,
              "prompts_per_step >= 1, lr > 0, kl_coef >= 0")


def group_advantages(rewards: np.ndarray, group: int) -> np.ndarray:
    """[B] rewards in consecutive groups -> (r − group mean) / group std (0 where a group is all equal)."""
    r = rewards.reshape(-1, group)
    std = r.std(axis=1, keepdims=True)
    return np.where(std > 1e-8, (r - r.mean(axis=1, keepdims=True)) / np.maximum(std, 1e-8), 0.0).reshape(-1)


def pair_agreement(a: np.ndarray, b: np.ndarray, group: int) -> float | None:
    """Share of within-group pairs that two reward models order the same way (pairs either ties skipped)."""
    a, b = a.reshape(-1, group), b.reshape(-1, group)
    da = np.sign(a[:, :, None] - a[:, None, :])
    db = np.sign(b[:, :, None] - b[:, None, :])
    both = (da != 0) & (db != 0)
    return float((da == db)[both].mean()) if both.any() else None


def grpo(net: P.StepNet, problems: Sequence[Problem], reward: RewardFn, monitors: dict[str, RewardFn],
         prompt_of: Callable[[Problem], str], cfg: GRPOConfig,
         on_step: Callable[[dict, list[dict]], None] | None = None) -> P.StepNet:
    """Optimize ``net`` (in place) against ``reward``. After each step ``on_step(metrics, examples)``:
    metrics hold step, reward (the optimized source), every monitor's mean, kl, sqrt_kl, the
    agreement of monitors ``proxy`` and ``proxy2`` when both are given, lies (share of steps that
    claim the target against the arithmetic), seconds (wall) and cpu_seconds (this process)."""
    torch.manual_seed(cfg.seed)
    ref = copy.deepcopy(net).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = random.Random(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(cfg.steps + 1):
        batch = [p for p in rng.sample(list(problems), min(cfg.prompts_per_step, len(problems)))
                 for _ in range(cfg.group)]
        ro = P.sample(net, batch, gen)
        prompts = [prompt_of(p) for p in batch]
        r = np.array(reward(prompts, ro.texts), dtype=np.float64)
        seen = {k: np.array(f(prompts, ro.texts)) for k, f in monitors.items()}
        logp, kl = P.trace_log_probs(net, ro, ref)
        kl_mean = float(kl.detach().mean())
        m = {"step": step, "reward": float(r.mean()), "kl": kl_mean,
             "sqrt_kl": math.sqrt(max(kl_mean, 0.0)),
             "lies": float(np.mean([w == 1 for ws in ro.writes for w in ws])),
             "seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2)}
        m.update({k: float(v.mean()) for k, v in seen.items()})
        if "proxy" in seen and "proxy2" in seen:
            m["agreement"] = pair_agreement(seen["proxy"], seen["proxy2"], cfg.group)
        examples = []
        if step % cfg.examples_every == 0:
            examples = [{"step": step, "problem": f"{p.text} -> {p.target}", "completion": t,
                         **{k: float(v[i]) for k, v in seen.items()}}
                        for i, (p, t) in enumerate(zip(batch, ro.texts)) if i % cfg.group == 0][:4]
        if on_step:
            on_step(m, examples)
        if step == cfg.steps:
            break  # the last batch is measured, not trained on
        adv = torch.tensor(group_advantages(r, cfg.group), dtype=torch.float32)
        loss = -(adv * logp).mean() + cfg.kl_coef * kl.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net
