"""The improvement loop for a reasoning task, from nothing to a policy and value models.

Round 0: train qstar's BPE tokenizer on solver traces of the training problems, train the policy on
those traces, then on the first-step loss (which of every legal first step keep the target reachable, by the
exact solver: ``first_step_choices``), label the policy's own samples by Math-Shepherd rollouts, train the PRM
and the ORM. Rounds 1..R: search on training problems with the current policy (ToT beam with the PRM, or MCTS
over every legal step) and sample it on more of them → keep the solutions the verifier accepts → fine-tune the
policy on them (with a replay of the solver traces and the first-step loss) → second thoughts: the new
policy's own tries at every step, judged by the exact solver, dead ends taken back (``second_thought_traces``;
``undo_steps_round``) → relabel the PRM/ORM data with rollouts of the new policy's first tries and retrain →
evaluate on the test split (greedy with second thoughts). ``extra_split`` adds the task's extra training problems (Game of 24: ``synthetic``)
to the solver traces and to the problems searched.

Run folder: ``config.json``, ``metrics.jsonl`` (one line per round), ``policy/`` ``prm/`` ``orm/``
(latest checkpoints, written atomically), ``solutions-K.json`` (the verified solutions round K kept),
``solve_rate.png``, ``summary.md``.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from qstar.core.atomic import append_jsonl, atomic_write_json, atomic_write_png, atomic_write_text, read_jsonl
from qstar.core.errors import ConfigError, check
from qstar.core.progress import progress_bar
from qstar.reasoning.task import MAX_UNDOS, UNDO, Problem, Task, steps_text


@dataclass(frozen=True)
class LoopConfig:
    rounds: int = 2  # improvement rounds after round 0
    seed: int = 0
    vocab_size: int = 320  # BPE vocabulary (256 bytes + merges + 2 specials)
    traces_per_problem: int = 6  # solver traces per training problem for the first policy
    extra_split: str | None = "synthetic"  # the task's extra training problems, or None
    extra_traces_per_problem: int = 6  # solver traces per extra problem
    sft_epochs: float = 6.9
    policy_layers: int = 4
    policy_width: int = 128
    value_layers: int = 3
    value_width: int = 96
    search_problems: int = 300  # training problems searched per round
    search: str = "beam"  # the search that gathers solutions: "beam" (ToT beam with the PRM) or "mcts"
    search_width: int = 5  # beam: width
    search_proposals: int = 16  # beam: sampled proposals per state
    search_sims: int = 200  # mcts: simulations per step, over every legal step, no value model
    samples_per_problem: int = 4  # also keep verified plain samples (temperature 1) ...
    sample_problems: int = 2000  # ... of this many problems: the searched ones, then more from the pool
    finetune_epochs: float = 2.0  # over the kept solutions and the replayed traces
    finetune_lr: float = 1e-3  # peak learning rate of each round's fine-tuning
    first_step_steps: int = 600  # round 0, after the traces: steps of the first-step loss (0: none)
    first_step_puzzles: int = 16  # puzzles per step whose every legal first step is scored (solver-labelled)
    first_step_traces: int = 32  # solver traces per step beside them (the usual loss)
    first_step_lr: float = 5e-4
    first_step_in_rounds: bool = True  # add the first-step loss to every round's fine-tuning too
    replay: float = 4.0  # solver traces replayed per new solution when fine-tuning
    accumulate: bool = False  # fine-tune on every verified solution kept so far, not only this round's
    label_problems: int = 200  # training problems whose samples get Math-Shepherd labels per round
    label_samples: int = 2
    step_label_problems: int = 1300  # round 0: training problems whose every legal first step is labelled (all)
    step_label_problems_round: int = 150  # later rounds: fresh problems labelled with the new policy
    rollouts: int = 4
    value_epochs: float = 1.5  # first training of the PRM and ORM
    value_epochs_round: float = 1.5  # later rounds: continue from the previous round on the new labels
    eval_problems: int = 100  # test problems evaluated after each round
    eval_beam: bool = True  # also evaluate ToT beam b=5 and MCTS each round (greedy always)
    threads: int = 1
    train_problems: int | None = None  # use only the first N training problems (smoke tests)
    calculator: bool = True  # the policy writes operations, the rules write results (see calculator.py)
    undo_steps: int = 0  # second thoughts (Calculator(undo=True)): round 0's steps on traces that take dead ends back (0: none)
    undo_steps_round: int = 1500  # later rounds: such steps after the round's fine-tuning, on the current policy's traces
    undo_traces: int = 2  # such traces per problem (the first in the policy's order, the others with Gumbel noise)
    undo_problems_round: int = 10000  # later rounds: problems whose such traces the round learns (at most the pool)
    undo_lr: float = 5e-4
    task_options: dict = field(default_factory=dict)

    def __post_init__(self):
        check(self.rounds >= 0, f"rounds must be >= 0, got {self.rounds}")
        check(self.first_step_steps >= 0, f"first_step_steps must be >= 0, got {self.first_step_steps}")
        for name in ("first_step_puzzles", "first_step_traces", "traces_per_problem", "search_problems", "search_width",
                     "search_proposals", "label_problems", "label_samples", "rollouts", "eval_problems", "threads"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.step_label_problems >= 0 and self.step_label_problems_round >= 0,
              "step_label_problems must be >= 0")
        check(self.search in ("beam", "mcts"), f"search must be beam or mcts, got {self.search!r}")
        check(min(self.undo_steps, self.undo_steps_round) >= 0 and self.undo_traces >= 1 and self.undo_problems_round >= 1,
              "undo_steps and undo_steps_round must be >= 0, undo_traces and undo_problems_round >= 1")
        check(not self.undo or self.calculator, "second thoughts (undo_steps or undo_steps_round > 0) need the "
              "calculator; set both to 0 with calculator=False")

    @property
    def undo(self) -> bool:
        return self.undo_steps > 0 or self.undo_steps_round > 0


def solver_traces(task: Task, problems: list[Problem], per_problem: int, seed: int) -> tuple[list[str], list[str]]:
    """(prompts, completions): up to ``per_problem`` distinct solver solutions per problem, the shortest
    first (Countdown has solutions with idle steps), chosen at random among equally short ones."""
    rng = random.Random(seed)
    prompts, comps = [], []
    for p in problems:
        sols = task.solve(p, max_solutions=200)
        rng.shuffle(sols)
        sols.sort(key=len)
        for s in sols[:per_problem]:
            prompts.append(task.prompt(p))
            comps.append(steps_text(s))
    return prompts, comps


def first_step_choices(task: Task, problems: list[Problem], calculator: bool, depth: int = 1,
                       per_state: int = 1, seed: int = 0) -> list[tuple[str, list]]:
    """``[(prompt, [(step target, keeps the target reachable?)])]``: every legal first step of each problem
    that has a solvable one, labelled by the exact solver (``LMPolicy.finetune``'s ``choices``). The target is
    what the policy writes: the operation with the calculator, the whole line without. ``depth`` > 1 adds the
    choices further down: after ``per_state`` solvable steps of each choice (drawn with ``seed``), every legal
    next step, labelled the same way, its prompt the problem's with the steps so far written out."""
    rng, out = random.Random(seed), []

    def visit(prompt: str, state, level: int) -> None:
        moves = list(task.moves(state))
        good = [task.state_solvable(nxt) for _, nxt in moves]
        if not any(good):
            return
        out.append((prompt, [(targets([line], calculator)[0][:1] if calculator else [(line + "\n", True)], g)
                             for (line, _), g in zip(moves, good)]))
        if level < depth:
            ok = [m for m, g in zip(moves, good) if g]
            for line, nxt in rng.sample(ok, min(per_state, len(ok))):
                visit(prompt + steps_text([line]), nxt, level + 1)

    for p in problems:
        visit(task.prompt(p), task.initial_state(p), 1)
    return out


def second_thought_traces(task: Task, acting, problems: list[Problem], traces: int, temperature: float = 1.0,
                          seed: int = 0) -> tuple[list[str], list[str]]:
    """(prompts, completions) that teach second thoughts (``Calculator(undo=True)``): ``traces`` solutions per
    problem in which, at every state, the legal steps are tried in the order ``acting`` ranks them (its
    log-probability after the steps that stand; traces after the first rank them with Gumbel noise at
    ``temperature``, the order of sampling without replacement). A step from which the target cannot be reached
    (the exact solver) is written and taken back; the first one from which it can stands. At most
    ``MAX_UNDOS`` per solution, then the next step stands. Problems without a solution are skipped."""
    rng = random.Random(seed)
    # one run per (problem, trace): [prompt, text so far, state, steps taken back, ranked with noise?]
    runs = [[task.prompt(p), "", task.initial_state(p), 0, j > 0] for p in problems
            if task.state_solvable(task.initial_state(p)) for j in range(traces)]
    while live := [r for r in runs if not task.is_done(r[2])]:
        texts = {r[0] + steps_text(r[2].steps): list(task.moves(r[2])) for r in live}  # each state scored once
        flat = acting.logprob([t for t, ms in texts.items() for _ in ms], [ln for ms in texts.values() for ln, _ in ms])
        ranked, k = {}, 0
        for t, ms in texts.items():
            ranked[t], k = (ms, flat[k: k + len(ms)]), k + len(ms)
        for r in live:
            ms, lp = ranked[r[0] + steps_text(r[2].steps)]
            if r[4]:
                lp = [x / temperature - math.log(-math.log(rng.random() or 1e-12)) for x in lp]
            for i in sorted(range(len(ms)), key=lambda i: -lp[i]):
                line, nxt = ms[i]
                if task.state_solvable(nxt) or r[3] >= MAX_UNDOS:
                    r[1] += line + "\n"
                    r[2] = nxt
                    break
                r[1] += line + UNDO + "\n"
                r[3] += 1
    return [r[0] for r in runs], [r[1] for r in runs]


def acting_policy(policy, task: Task, calculator: bool, undo: bool = False):
    """The policy as search sees it: with the calculator (and its second thoughts), or writing whole steps itself."""
    from qstar.reasoning.calculator import Calculator
    return Calculator(policy, task, undo=undo) if calculator else policy


def targets(completions: list[str], calculator: bool, undo: bool = False) -> list:
    """Training targets: whole completions, or only the operations (and verdicts) when the rules write the rest."""
    from qstar.reasoning.calculator import action_segments
    return [action_segments(c, undo) for c in completions] if calculator else list(completions)


def _wrapped(items: list, start: int, n: int) -> list:
    """``n`` items (at most all of them) from ``start``, wrapping around the end: round r's slice of a fixed shuffle."""
    return (items + items)[start % max(1, len(items)):][:min(n, len(items))]


def _second_thoughts(task: Task, policy, problems: list[Problem], steps: int, cfg: LoopConfig, seed: int, r: int,
                     log) -> dict:
    """Teach the policy to look at each step's result and take dead ends back: ``second_thought_traces`` of its
    own tries on ``problems``, then ``steps`` steps of fine-tuning on them (operations and verdicts)."""
    t0 = time.perf_counter()
    sp, sc = second_thought_traces(task, acting_policy(policy, task, True), problems, cfg.undo_traces, seed=seed)
    t_traces = time.perf_counter() - t0
    with progress_bar("policy (second thoughts)", steps, "step") as adv:
        out = policy.finetune(sp, targets(sc, True, undo=True),
                              _train_cfg(cfg, steps / -(-len(sp) // 64), seed, cfg.undo_lr), adv)
    out.update(problems=len(problems), traces=len(sp), taken_back=sum(c.count(UNDO) for c in sc),
               trace_seconds=round(t_traces, 1))
    log(f"round {r}: second thoughts, {len(sp)} traces of {len(problems)} problems taking back {out['taken_back']} "
        f"steps ({out['trace_seconds']}s), {out['steps']} steps, {out['seconds']}s, loss {out['loss']}")
    return out


def _train_cfg(cfg: LoopConfig, epochs: float, seed: int, lr: float = 2e-3, batch_size: int = 64):
    from qstar.reasoning.lm import TrainConfig
    return TrainConfig(epochs=epochs, lr=lr, seed=seed, threads=cfg.threads, batch_size=batch_size)


ROUND_METHODS = (("greedy", "greedy", {}), ("beam5", "beam", {"width": 5, "proposals": 8}),
                 ("mcts", "mcts", {"simulations": 24, "proposals": 8}))


def _eval_round(task, test, policy, prm, cfg: LoopConfig, seed: int) -> dict:
    """Test solve rate after a round: greedy, and (``eval_beam``) ToT beam b=5 and MCTS with the
    settings of the evaluation table's rows of the same names."""
    from qstar.reasoning.strategies import get_strategy
    out = {}
    for key, name, kw in ROUND_METHODS if cfg.eval_beam else ROUND_METHODS[:1]:
        t0 = time.perf_counter()
        res = get_strategy(name)(task, test, policy, prm, seed=seed, **kw)
        out[key] = round(sum(r.answer is not None and task.score(p, r.answer).ok for p, r in zip(test, res)) / len(test), 4)
        out[f"{key}_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _label_and_fit(task, problems, step_problems, policy, prm, orm, cfg: LoopConfig, seed: int, epochs: float) -> dict:
    """Math-Shepherd labels with the current policy — its own samples on ``problems`` and every legal
    first step of ``step_problems`` — then train the PRM and ORM on them (continuing from their weights)."""
    from qstar.reasoning.reward import label_agreement, mc_labels, step_labels
    t0 = time.perf_counter()
    data = mc_labels(task, problems, policy, samples=cfg.label_samples, rollouts=cfg.rollouts, seed=seed)
    sampled = label_agreement(data)
    steps = step_labels(task, step_problems, policy, rollouts=cfg.rollouts, seed=seed + 1) if step_problems else []
    data = data + steps
    t_label = time.perf_counter() - t0
    s_prm = prm.fit(task, data, _train_cfg(cfg, epochs, seed, lr=1e-3))
    s_orm = orm.fit(task, data, _train_cfg(cfg, epochs / 4, seed, lr=1e-3))  # an easy target: is the end the target?
    return {"labeled_solutions": len(data), "step_label_problems": len(step_problems), "label_seconds": round(t_label, 1),
            "label_outcome_rate": round(sum(d.outcome for d in data) / max(1, len(data)), 4),
            "label_agreement": label_agreement(data), "label_agreement_own_samples": sampled,
            "prm_train": s_prm, "orm_train": s_orm}


def run_loop(task: Task, run_dir: str | Path, cfg: LoopConfig, resume: bool = False,
             log: Callable[[str], None] = print, device: str = "cpu") -> list[dict]:
    """Run (or continue) the loop in ``run_dir``. Returns the metrics lines. ``device``: where the models
    train and run (the saved models are the same files either way; bit-reproducible on CPU only)."""
    from qstar.reasoning.lm import quiet_transformers, train_step_tokenizer
    from qstar.reasoning.policy import LMPolicy, PolicyConfig
    from qstar.reasoning.reward import ValueConfig, ValueLM
    from qstar.reasoning.mcts_steps import mcts
    from qstar.reasoning.strategies import beam

    quiet_transformers()
    import torch
    torch.set_num_threads(cfg.threads)
    run = Path(run_dir)
    if run.exists() and any(run.iterdir()) and not resume:
        raise ConfigError(f"run folder {run} is not empty; pass --resume to continue it or choose another folder")
    if resume and (run / "config.json").exists():
        saved = json.loads((run / "config.json").read_text())
        saved["rounds"] = cfg.rounds  # a resumed run may be extended by more rounds
        if saved != json.loads(json.dumps(asdict(cfg))):
            log(f"note: resuming with the config saved in {run}/config.json (rounds = {cfg.rounds})")
        cfg = LoopConfig(**saved)
        torch.set_num_threads(cfg.threads)
    atomic_write_json(run / "config.json", asdict(cfg))
    train = task.problems("train", seed=cfg.seed)[: cfg.train_problems]
    extra = task.problems(cfg.extra_split, seed=cfg.seed)[: cfg.train_problems] if cfg.extra_split else []
    test = task.problems("test", seed=cfg.seed)[: cfg.eval_problems]
    pool = train + extra
    check(not {p.numbers for p in pool} & {p.numbers for p in test} or task.name != "game24",
          "training problems overlap the test split")
    rng = random.Random(cfg.seed)
    metrics = read_jsonl(run / "metrics.jsonl")
    done = {m["round"] for m in metrics}
    prompts0, comps0, choices0 = None, None, None

    def choices():
        nonlocal choices0
        if choices0 is None:
            choices0 = first_step_choices(task, pool, cfg.calculator)
        return choices0

    def sft_data():
        nonlocal prompts0, comps0
        if prompts0 is None:
            prompts0, comps0 = solver_traces(task, train, cfg.traces_per_problem, cfg.seed)
            more = solver_traces(task, extra, cfg.extra_traces_per_problem, cfg.seed + 1)
            prompts0, comps0 = prompts0 + more[0], comps0 + more[1]
        return prompts0, comps0

    if 0 not in done:
        t0, c0 = time.perf_counter(), time.process_time()
        prompts, comps = sft_data()
        log(f"round 0: {len(prompts)} solver traces from {len(train)} training problems"
            + (f" and {len(extra)} {cfg.extra_split} ones" if extra else ""))
        tok = train_step_tokenizer([a + b for a, b in zip(prompts, comps)][:4000], cfg.vocab_size)
        policy = LMPolicy.new(tok, PolicyConfig(n_layer=cfg.policy_layers, n_embd=cfg.policy_width), seed=cfg.seed)
        vcfg = ValueConfig(n_layer=cfg.value_layers, n_embd=cfg.value_width)
        prm, orm = ValueLM.new(tok, "prm", vcfg, cfg.seed), ValueLM.new(tok, "orm", vcfg, cfg.seed + 1)
        policy, prm, orm = policy.to(device), prm.to(device), orm.to(device)
        steps = max(1, int(cfg.sft_epochs * len(prompts) / 64))
        with progress_bar("policy (solver traces)", steps, "step") as adv:
            sft = policy.finetune(prompts, targets(comps, cfg.calculator), _train_cfg(cfg, cfg.sft_epochs, cfg.seed, lr=3e-3),
                                  adv)
        log(f"round 0: policy {policy.num_parameters:,} parameters, {sft['tokens']:,} tokens, {sft['seconds']}s, loss {sft['loss']}")
        first = None
        if cfg.first_step_steps:  # then which legal first steps keep the target reachable, by the solver
            n = cfg.first_step_steps / -(-len(prompts) // cfg.first_step_traces)
            with progress_bar("policy (first-step loss)", cfg.first_step_steps, "step") as adv:
                first = policy.finetune(prompts, targets(comps, cfg.calculator),
                                        _train_cfg(cfg, n, cfg.seed, cfg.first_step_lr, cfg.first_step_traces), adv,
                                        choices=choices(), choices_per_step=cfg.first_step_puzzles)
            log(f"round 0: first-step loss on {len(choices())} problems' legal first steps, {first['steps']} steps, "
                f"{first['seconds']}s, loss {first['loss']}")
        second = _second_thoughts(task, policy, pool, cfg.undo_steps, cfg, cfg.seed, 0, log) if cfg.undo_steps else None
        acting = acting_policy(policy, task, cfg.calculator, cfg.undo)
        order = rng.sample(train, len(train))  # label problems: a fixed shuffle, fresh ones each round
        lab = _label_and_fit(task, order[: cfg.label_problems], order[: cfg.step_label_problems],
                             acting_policy(policy, task, cfg.calculator), prm, orm, cfg, cfg.seed, cfg.value_epochs)
        row = {"round": 0, "sft_traces": len(prompts), "policy_params": policy.num_parameters, "value_params": sum(
            p.numel() for p in prm.net.parameters()), "sft": sft, "first_step": first, "second_thoughts": second,
            "first_step_problems": len(choices()) if first else 0, **lab}
        _finish_round(row, run, task, test, acting, policy, prm, orm, cfg, t0, c0, metrics, log)
    policy, prm, orm = (m.to(device) for m in (LMPolicy.load(run / "policy"), ValueLM.load(run / "prm"),
                                                ValueLM.load(run / "orm")))
    acting = acting_policy(policy, task, cfg.calculator, cfg.undo)
    plain = acting_policy(policy, task, cfg.calculator)  # first tries only: search, samples and rollouts
    for r in range(1, cfg.rounds + 1):
        if r in done:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        rr = random.Random(cfg.seed * 1000 + r)
        probs = rr.sample(pool, min(cfg.search_problems, len(pool)))
        found: dict[tuple, set[str]] = {}
        if cfg.search == "mcts":
            res = mcts(task, probs, plain, None, seed=cfg.seed + r, simulations=cfg.search_sims, proposals=0)
        else:
            res = beam(task, probs, plain, prm, seed=cfg.seed + r, width=cfg.search_width,
                       proposals=cfg.search_proposals)
        n_search = 0
        for p, x in zip(probs, res):
            if x.answer is not None and task.score(p, x.answer).ok:  # the verifier decides what is kept
                found.setdefault(p.numbers, set()).add(steps_text(x.steps))
                n_search += 1
        sampled = probs + rr.sample(pool, min(max(0, cfg.sample_problems - len(probs)), len(pool)))
        samples = plain.generate([task.prompt(p) for p in sampled], n=cfg.samples_per_problem, temperature=1.0,
                                  stop="end", seed=cfg.seed + r)
        for p, cs in zip(sampled, samples):
            for c in cs:
                if task.score_trace(p, c.text).ok:
                    state, _ = task.parse_trace(p, c.text)
                    found.setdefault(p.numbers, set()).add(steps_text(state.steps))
        by_numbers = {p.numbers: p for p in sampled}
        kept = [(task.prompt(by_numbers[k]), t) for k, v in found.items() for t in sorted(v)]
        atomic_write_json(run / f"solutions-{r}.json", kept)
        if cfg.accumulate:  # the verified solutions of every round so far, like AlphaZero's replay buffer
            old = [tuple(x) for q in range(1, r) for x in json.loads((run / f"solutions-{q}.json").read_text())]
            kept = list(dict.fromkeys(old + kept))
        new_p, new_c = [x[0] for x in kept], [x[1] for x in kept]
        prompts, comps = sft_data()
        k = min(len(prompts), int(cfg.replay * len(new_p)))
        idx = rr.sample(range(len(prompts)), k)
        # the solutions teach operations only: their steps all stand, so learning their newlines would teach
        # "keep every step" (measured: after such a round the policy took back 10% of the dead ends)
        ft = policy.finetune(new_p + [prompts[i] for i in idx], targets(new_c + [comps[i] for i in idx], cfg.calculator),
                             _train_cfg(cfg, cfg.finetune_epochs, cfg.seed + r, lr=cfg.finetune_lr),
                             choices=choices() if cfg.first_step_in_rounds else (),
                             choices_per_step=cfg.first_step_puzzles)
        second = None
        if cfg.undo_steps_round:  # then the new policy's tries, judged by the solver: the next slice of a fixed
            # shuffle of the pool each round (by default the slice is the whole pool)
            n = min(cfg.undo_problems_round, len(pool))
            some = _wrapped(random.Random(cfg.seed + 1).sample(pool, len(pool)), (r - 1) * n, n)
            second = _second_thoughts(task, policy, some, cfg.undo_steps_round, cfg, cfg.seed + r, r, log)
        fresh = _wrapped(random.Random(cfg.seed).sample(train, len(train)),
                         cfg.step_label_problems + (r - 1) * cfg.step_label_problems_round, cfg.step_label_problems_round)
        lab = _label_and_fit(task, rr.sample(train, min(cfg.label_problems, len(train))), fresh, plain, prm, orm,
                             cfg, cfg.seed + r, cfg.value_epochs_round)
        row = {"round": r, "search_problems": len(probs), "sampled_problems": len(by_numbers),
               "search_solved": round(sum(p.numbers in found for p in probs) / len(probs), 4),
               "solved_any": round(len(found) / len(by_numbers), 4),
               "search": cfg.search,
               "search_alone_solved": round(n_search / len(probs), 4), "kept_solutions": len(new_c), "replayed": k,
               "second_thoughts": second,
               "new_solutions": sum(len(v) for v in found.values()),
               "finetune": ft, **lab}
        _finish_round(row, run, task, test, acting, policy, prm, orm, cfg, t0, c0, metrics, log)
    write_report(run, metrics, task.name)
    return metrics


def _finish_round(row: dict, run: Path, task: Task, test, acting, policy, prm, orm, cfg: LoopConfig,
                  t0: float, c0: float, metrics: list, log) -> None:
    """Evaluate on the test split, time the round, save the models, then append its metrics line."""
    row.update(_eval_round(task, test, acting, prm, cfg, cfg.seed))
    row["seconds"] = round(time.perf_counter() - t0, 1)
    row["cpu_seconds"] = round(time.process_time() - c0, 1)
    _save(run, policy, prm, orm, task, cfg)
    append_jsonl(run / "metrics.jsonl", row)
    metrics.append(row)
    log(_round_line(row))


def _save(run: Path, policy, prm, orm, task: Task, cfg: LoopConfig) -> None:
    policy.save(run / "policy")
    prm.save(run / "prm")
    orm.save(run / "orm")
    atomic_write_json(run / "models.json", {"task": task.name, "calculator": cfg.calculator, "undo": cfg.undo})


def _round_line(row: dict) -> str:
    s = f"round {row['round']}: greedy {100 * row['greedy']:.0f}%"
    if "beam5" in row:
        s += f", beam b=5 {100 * row['beam5']:.0f}%"
    if "search_solved" in row:
        s += f", search solved {100 * row['search_solved']:.0f}% of training problems, kept {row['kept_solutions']}"
    return s + f", label agreement {row['label_agreement']['agreement']}, {row['seconds']}s"


def write_report(run: Path, metrics: list[dict], task_name: str) -> None:
    """``solve_rate.png`` (test solve rate per round, greedy and beam) and ``summary.md``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = [m["round"] for m in metrics]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label in (("greedy", "greedy CoT"), ("beam5", "ToT beam b=5 (PRM)"), ("mcts", "MCTS 24 sims (PRM)")):
        if all(key in m for m in metrics):
            ax.plot(rounds, [100 * m[key] for m in metrics], marker="o", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("test solve rate (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(rounds)
    ax.set_title(f"{task_name}: solve rate per round")
    ax.legend()
    fig.tight_layout()
    atomic_write_png(run / "solve_rate.png", fig)
    plt.close(fig)
    total = sum(m["seconds"] for m in metrics)
    cpu = sum(m.get("cpu_seconds", 0.0) for m in metrics)
    lines = [f"# {task_name} improvement loop\n",
             f"Total: {total / 60:.1f} min wall clock, {cpu / 60:.1f} min of CPU time in this process "
             f"(wall time depends on what else shares the machine).\n",
             "| round | greedy (test) | beam b=5 (test) | MCTS 24 sims (test) | training problems solved by search "
             "| kept solutions | PRM label agreement with exact solvability | CPU s | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in metrics:
        cell = {k: f"{100 * m[k]:.0f}%" if k in m else "-" for k in ("beam5", "mcts", "search_solved")}
        lines.append(f"| {m['round']} | {100 * m['greedy']:.0f}% | {cell['beam5']} | {cell['mcts']} | {cell['search_solved']} "
                     f"| {m.get('kept_solutions', '-')} | {m['label_agreement']['agreement']} "
                     f"| {m.get('cpu_seconds', '-')} | {m['seconds']} |")
    m0 = metrics[0]
    lines += ["", f"Policy: {m0['policy_params']:,} parameters; first training {m0['sft']['tokens']:,} tokens in "
              f"{m0['sft']['seconds']} s. Value models: {m0['value_params']:,} parameters each.", "",
              "![solve rate](solve_rate.png)", ""]
    atomic_write_text(run / "summary.md", "\n".join(lines))
