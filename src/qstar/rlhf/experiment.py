"""The over-optimization experiment on Game of 24, written into a run folder.

1. Sample pairs of completions from the initial policy; vibe raters label them (two independent
   datasets, for two reward models), the verifier labels the same pairs (for gold accuracy).
2. Train reward model 1 (the proxy) and reward model 2 (only watched, for the detector).
3. Best-of-N from the initial policy, N = 1 … 1024, selecting by the proxy and by the verifier.
4. GRPO against ``model:rm1`` and against ``verifier``, same policy, prompts, steps and seed.
5. Optionally, iterated RLHF: audited hacks become new comparisons, the proxy is retrained, RL reruns.

Everything goes to the folder: config.json, comparisons_*.jsonl, rm1/, rm2/, bon.jsonl,
metrics_<run>.jsonl, examples_<run>.jsonl; ``report.write_report`` adds plots and summary.md.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from qstar.core.atomic import append_jsonl, atomic_write_json
from qstar.core.errors import QstarError, check
from qstar.reasoning.game24 import Game24
from qstar.rlhf import policy as P
from qstar.rlhf.labelers import Comparison, GoldLabeler, Vibe, VibeLabeler, compare, write_comparisons
from qstar.rlhf.optimize import GRPOConfig, best_of_n, grpo, sample_pool
from qstar.rlhf.reward_model import (RMConfig, comparison_accuracy, reward_source, save_reward_model,
                                     train_reward_model, verifier_reward)

BON_NS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class ExperimentConfig:
    rl_prompts: int = 64  # training puzzles the policy is optimized on
    comparison_prompts: int = 600  # other training puzzles whose completions the raters compare
    pairs_per_prompt: int = 4
    heldout: float = 0.2  # share of reward-model-1 comparisons held out for accuracy
    bon_prompts: int = 32
    bon_max: int = 1024
    test_samples: int = 8  # samples per test puzzle for the held-out gold of the final policies (0: skip)
    rounds: int = 0  # iterated-RLHF rounds after the first proxy run
    seed: int = 0
    threads: int = 1
    vibe: Vibe = field(default_factory=Vibe)
    rm: RMConfig = field(default_factory=RMConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)

    def __post_init__(self):
        check(self.rl_prompts >= 1 and self.comparison_prompts >= 10, "rl_prompts >= 1, comparison_prompts >= 10")
        check(0 < self.heldout < 1, f"heldout must be in (0, 1), got {self.heldout}")
        check(self.bon_max in BON_NS, f"bon_max must be one of {BON_NS}, got {self.bon_max}")
        check(self.rounds >= 0 and self.threads >= 1 and self.test_samples >= 0,
              "rounds >= 0, threads >= 1, test_samples >= 0")


def run_experiment(out: Path, cfg: ExperimentConfig, log: Callable[[str], None] = print) -> None:
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "summary.json").exists():
        raise QstarError(f"{out} already holds a finished run; pass a new --out folder")
    atomic_write_json(out / "config.json", asdict(cfg))
    for old in out.glob("*.jsonl"):
        old.unlink()  # an interrupted run starts over: metrics files are appended to
    task = Game24()
    train = task.problems("train")
    random.Random(cfg.seed).shuffle(train)
    rl_probs = train[: cfg.rl_prompts]
    cmp_probs = train[cfg.rl_prompts: cfg.rl_prompts + cfg.comparison_prompts]
    init = P.initial(cfg.seed)
    t0, c0 = time.perf_counter(), time.process_time()

    # 1. comparisons -----------------------------------------------------------------------------
    vibe, gold = VibeLabeler(cfg.vibe), GoldLabeler(task)
    pairs_a = _pairs(init, cmp_probs * cfg.pairs_per_prompt, cfg.seed + 1)
    pairs_b = _pairs(init, cmp_probs * cfg.pairs_per_prompt, cfg.seed + 2)
    rows1 = compare(vibe, *pairs_a, task.prompt, seed=cfg.seed)
    rows2 = compare(vibe, *pairs_b, task.prompt, seed=cfg.seed + 1)
    gold_rows = compare(gold, *pairs_a, task.prompt, seed=cfg.seed)
    n_train = int(len(rows1) * (1 - cfg.heldout))
    write_comparisons(out / "comparisons_vibe.jsonl", rows1)
    write_comparisons(out / "comparisons_vibe2.jsonl", rows2)
    write_comparisons(out / "comparisons_gold.jsonl", gold_rows)
    log(f"comparisons: {len(rows1)} + {len(rows2)} vibe-labelled pairs ({time.perf_counter() - t0:.0f} s)")

    # 2. reward models ---------------------------------------------------------------------------
    rm1, st1 = train_reward_model(rows1[:n_train], cfg.rm)
    rm2, st2 = train_reward_model(rows2[:n_train], RMConfig(**{**asdict(cfg.rm), "seed": cfg.rm.seed + 1}))
    save_reward_model(rm1, out / "rm1", st1)
    save_reward_model(rm2, out / "rm2", st2)
    proxy, proxy2, verifier = reward_source(f"model:{out / 'rm1'}", task), reward_source(f"model:{out / 'rm2'}", task), verifier_reward(task)
    held_vibe = rows1[n_train:]
    held_gold = _gold_decided(task, gold_rows[n_train:])
    rm_stats = {"rm1": {**st1, "heldout_vibe_acc": comparison_accuracy(proxy, held_vibe),
                        "heldout_gold_acc": comparison_accuracy(proxy, held_gold)},
                "rm2": {**st2, "heldout_vibe_acc": comparison_accuracy(proxy2, held_vibe),
                        "heldout_gold_acc": comparison_accuracy(proxy2, held_gold)},
                "heldout_vibe_pairs": len(held_vibe), "heldout_gold_pairs": len(held_gold),
                "vibe_vs_gold_agreement": _label_agreement(rows1[n_train:], gold_rows[n_train:], task)}
    atomic_write_json(out / "reward_models.json", rm_stats)
    log(f"reward models: rm1 held-out accuracy {rm_stats['rm1']['heldout_vibe_acc']:.3f} vs vibe, "
        f"{rm_stats['rm1']['heldout_gold_acc']:.3f} vs gold ({time.perf_counter() - t0:.0f} s)")

    # 3. best-of-N -------------------------------------------------------------------------------
    bon_probs = rl_probs[: cfg.bon_prompts]
    texts = sample_pool(init, bon_probs, cfg.bon_max, cfg.seed + 3)
    prompts = [task.prompt(p) for p in bon_probs for _ in range(cfg.bon_max)]
    shape = (len(bon_probs), cfg.bon_max)
    vals = {k: np.array(f(prompts, texts)).reshape(shape) for k, f in
            (("proxy", proxy), ("proxy2", proxy2), ("gold", verifier))}
    ns = [n for n in BON_NS if n <= cfg.bon_max]
    for source in ("proxy", "gold"):
        for rec in best_of_n(vals[source], vals, ns, seed=cfg.seed):
            append_jsonl(out / "bon.jsonl", {"select": "verifier" if source == "gold" else "model:rm1", **rec})
    log(f"best-of-N: {len(texts)} samples ({time.perf_counter() - t0:.0f} s)")

    # 4. RL against the proxy and against the verifier --------------------------------------------
    monitors = {"proxy": proxy, "proxy2": proxy2, "gold": verifier}
    finals = {}
    for name, source in (("rl_proxy", proxy), ("rl_verifier", verifier)):
        finals[name] = _rl(out, name, source, monitors, rl_probs, cfg, task, log, t0)

    # 5. iterated RLHF ---------------------------------------------------------------------------
    train_rows = list(rows1[:n_train])
    policy = finals["rl_proxy"]
    for k in range(1, cfg.rounds + 1):
        audited = audit_hacks(policy, cmp_probs[:200], proxy, task, cfg.seed + 10 + k)
        train_rows += audited
        write_comparisons(out / f"comparisons_round{k}.jsonl", audited)
        rm, st = train_reward_model(train_rows, cfg.rm)
        save_reward_model(rm, out / f"rm1_round{k}", st)
        proxy = reward_source(f"model:{out / f'rm1_round{k}'}", task)
        log(f"round {k}: {len(audited)} audited hacks added; held-out vibe acc "
            f"{comparison_accuracy(proxy, held_vibe):.3f}, gold acc {comparison_accuracy(proxy, held_gold):.3f}")
        policy = _rl(out, f"rl_proxy_round{k}", proxy, {**monitors, "proxy": proxy}, rl_probs, cfg, task, log, t0)
        finals[f"rl_proxy_round{k}"] = policy

    # test-split gold of every final policy --------------------------------------------------------
    if cfg.test_samples:
        test = task.problems("test")
        test_gold = {"initial": _gold_rate(init, test, cfg, task)}
        test_gold.update({k: _gold_rate(v, test, cfg, task) for k, v in finals.items()})
        atomic_write_json(out / "test_gold.json", test_gold)
    atomic_write_json(out / "timing.json", {"wall_seconds": round(time.perf_counter() - t0, 1),
                                            "cpu_seconds": round(time.process_time() - c0, 1)})
    log(f"done in {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")


def _pairs(net, problems, seed):
    gen = torch.Generator().manual_seed(seed)
    a = P.sample(net, problems, gen).texts
    b = P.sample(net, problems, gen).texts
    return problems, a, b


def _gold_decided(task, rows: list[Comparison]) -> list[Comparison]:
    """The gold-labelled pairs where the verifier really decided (one right, one wrong)."""
    from qstar.rlhf.labelers import problem_of
    return [r for r in rows if task.score_trace(problem_of(r), r.chosen).value
            != task.score_trace(problem_of(r), r.rejected).value]


def _label_agreement(vibe_rows, gold_rows, task) -> float | None:
    """How often the vibe rater picked the verifier's choice, on pairs the verifier decides."""
    from qstar.rlhf.labelers import problem_of
    hits = [v.chosen == g.chosen for v, g in zip(vibe_rows, gold_rows)
            if task.score_trace(problem_of(g), g.chosen).value != task.score_trace(problem_of(g), g.rejected).value]
    return float(np.mean(hits)) if hits else None


def _rl(out, name, source, monitors, problems, cfg, task, log, t0):
    net = P.initial(cfg.seed)

    def on_step(m, examples):
        append_jsonl(out / f"metrics_{name}.jsonl", m)
        for e in examples:
            append_jsonl(out / f"examples_{name}.jsonl", e)

    grpo(net, problems, source, monitors, task.prompt, cfg.grpo, on_step)
    log(f"{name}: {cfg.grpo.steps} GRPO steps ({time.perf_counter() - t0:.0f} s)")
    return net


def audit_hacks(net, problems, proxy, task, seed: int, per_prompt: int = 4) -> list[Comparison]:
    """Iterated RLHF's new data: the policy's completions that the proxy scores above its median but
    the verifier fails, each paired with a correct solution of the same puzzle (from the solver) and
    labelled by a careful rater (the verifier): chosen = correct, rejected = hack."""
    flat = [p for p in problems for _ in range(per_prompt)]
    texts = sample_pool(net, problems, per_prompt, seed)
    prompts = [task.prompt(p) for p in flat]
    r = np.array(proxy(prompts, texts))
    med = float(np.median(r))
    rows, seen = [], set()
    for p, t, s in zip(flat, texts, r):
        if s < med or t in seen or task.score_trace(p, t).ok:
            continue
        sol = task.solve(p, max_solutions=1)
        if sol:
            seen.add(t)
            rows.append(Comparison(task.prompt(p), "\n".join(sol[0]), t, f"{p.text} -> {p.target}", "audit"))
    return rows


def _gold_rate(net, problems, cfg, task) -> float:
    texts = sample_pool(net, problems, cfg.test_samples, cfg.seed + 99)
    flat = [p for p in problems for _ in range(cfg.test_samples)]
    return float(np.mean([task.score_trace(p, t).value for p, t in zip(flat, texts)]))
