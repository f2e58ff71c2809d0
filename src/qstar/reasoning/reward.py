"""Value models: a process reward model (PRM, a score after every step) and an outcome reward model
(ORM, trained on the final step only), and the Math-Shepherd labels the PRM learns from.

Both are one small model class, ``ValueLM``: a GPT-2 body (separate from the policy) with a linear
head read at the newline that ends each step, squashed to [0, 1].

PRM labels (Math-Shepherd): from each step prefix of a sampled solution, let the policy finish it
``rollouts`` times; the *soft* label is the share of finishes the verifier accepts, the *hard* label
is 1 if any does. A step that breaks the rules gets 0 and a finished solution gets its verdict, with
no rollouts needed. Because the tasks have solvers, ``label_agreement`` reports how often the hard
labels agree with the exact "the target is still reachable from here".
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, asdict
from pathlib import Path
from typing import Callable, Literal, Sequence

from qstar.core.errors import CheckpointError, check
from qstar.reasoning.interfaces import Policy
from qstar.reasoning.lm import TrainConfig, device_of, pad_batch, train_loop
from qstar.reasoning.policy import save_folder
from qstar.reasoning.task import Problem, Task, standing_lines, steps_text

Kind = Literal["prm", "orm"]


@dataclass(frozen=True)
class ValueConfig:
    n_layer: int = 3
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 192

    def __post_init__(self):
        check(self.n_embd % self.n_head == 0, f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")


@dataclass(frozen=True)
class Labeled:
    """One sampled solution with a label after each of its steps (None: no label, skipped in training)."""

    problem: Problem
    steps: tuple[str, ...]
    soft: tuple[float | None, ...]  # share of rollouts that succeeded (PRM target)
    hard: tuple[float | None, ...]  # 1 if any rollout succeeded
    exact: tuple[float | None, ...]  # 1 if the target was still reachable by the rules (solver), for reporting
    outcome: float  # the verifier's verdict on the whole solution (ORM target)
    rolled: tuple[bool, ...] = ()  # which steps were labeled by rollouts (valid, unfinished prefixes)


def _net(tokenizer, cfg: ValueConfig):
    import torch
    from transformers import GPT2Config, GPT2Model

    class ValueNet(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.body = GPT2Model(config)
            self.head = torch.nn.Linear(config.n_embd, 1)

        def forward(self, input_ids, attention_mask):  # -> logits [B, T]
            h = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.head(h).squeeze(-1)

    config = GPT2Config(vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd,
                        n_layer=cfg.n_layer, n_head=cfg.n_head, n_inner=4 * cfg.n_embd,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                        activation_function="gelu_pytorch_tanh")
    return ValueNet(config)


class ValueLM:
    """Implements ``qstar.reasoning.interfaces.ValueModel``. ``kind`` says what it was trained on."""

    def __init__(self, net, tokenizer, kind: Kind, cfg: ValueConfig):
        self.net, self.tokenizer, self.kind, self.cfg = net, tokenizer, kind, cfg
        self.net.eval()

    @classmethod
    def new(cls, tokenizer, kind: Kind, cfg: ValueConfig = ValueConfig(), seed: int = 0) -> "ValueLM":
        import torch
        torch.manual_seed(seed)
        return cls(_net(tokenizer, cfg), tokenizer, kind, cfg)

    def to(self, device) -> "ValueLM":
        """Move the network to a torch device; returns self."""
        self.net.to(device)
        return self

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        def write(tmp: Path):
            save_file({k: v.detach().to("cpu").contiguous() for k, v in self.net.state_dict().items()},
                      tmp / "model.safetensors")
            (tmp / "value.json").write_text(json.dumps({"kind": self.kind, **asdict(self.cfg)}, indent=2) + "\n")
            self.tokenizer.save_pretrained(tmp)

        save_folder(path, write)

    @classmethod
    def load(cls, path: str | Path) -> "ValueLM":
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        path = Path(path)
        if not (path / "value.json").exists():
            raise CheckpointError(f"{path} is not a value-model folder (no value.json)")
        meta = json.loads((path / "value.json").read_text())
        kind = meta.pop("kind")
        tok = AutoTokenizer.from_pretrained(path)
        vm = cls(_net(tok, ValueConfig(**meta)), tok, kind, ValueConfig(**meta))
        vm.net.load_state_dict(load_file(path / "model.safetensors"))
        vm.net.eval()
        return vm

    # ----- inputs: prompt ids, then each step's ids followed by the newline that ends it --------
    def _encode(self, prompts: Sequence[str], steps: Sequence[Sequence[str]]) -> list[tuple[list[int], list[int]]]:
        """[(ids, positions)]: positions[k] is the index of the newline ending step k."""
        tok = self.tokenizer
        nl = tok.encode("\n", add_special_tokens=False)[0]
        p_ids = tok(list(prompts), add_special_tokens=False)["input_ids"]
        flat = [ln.replace("\n", " ") for s in steps for ln in s]
        l_ids = tok(flat, add_special_tokens=False)["input_ids"] if flat else []
        limit = self.net.config.n_positions
        out, k = [], 0
        for p, s in zip(p_ids, steps):
            ids, pos = list(p), []
            for _ in s:
                ids += l_ids[k][:40] + [nl]
                k += 1
                pos.append(min(len(ids) - 1, limit - 1))
            out.append((ids[:limit], pos))
        return out

    def score(self, prompts: Sequence[str], steps: Sequence[Sequence[str]]) -> list[list[float]]:
        import torch

        if not prompts:
            return []
        enc = self._encode(prompts, steps)
        out: list[list[float]] = []
        with torch.inference_mode():
            for b in range(0, len(enc), 512):
                chunk = enc[b: b + 512]
                ids, mask = pad_batch([e[0] for e in chunk], self.tokenizer.pad_token_id, device_of(self.net))
                probs = torch.sigmoid(self.net(ids, mask)).cpu()
                out += [[float(probs[r, j]) for j in pos] for r, (_, pos) in enumerate(chunk)]
        return out

    def fit(self, task: Task, data: Sequence[Labeled], cfg: TrainConfig, progress: Callable | None = None) -> dict:
        """PRM: binary cross-entropy against the soft label of every labeled step. ORM: against the
        outcome, at the last step only."""
        import torch

        check(len(data) > 0, "no labeled solutions to train the value model on")
        enc = self._encode([task.prompt(d.problem) for d in data], [d.steps for d in data])
        targets = []
        for d in data:
            if self.kind == "orm":
                targets.append([None] * (len(d.steps) - 1) + [d.outcome])
            else:
                targets.append(list(d.soft))
        pad = self.tokenizer.pad_token_id
        self.net.train()

        def loss_of_batch(idx):
            dev = device_of(self.net)
            ids, mask = pad_batch([enc[i][0] for i in idx], pad, dev)
            logits = self.net(ids, mask)
            rows, cols, ys = [], [], []
            for r, i in enumerate(idx):
                for p, y in zip(enc[i][1], targets[i]):
                    if y is not None:
                        rows.append(r), cols.append(p), ys.append(y)
            if not ys:
                return logits.sum() * 0.0, 0
            sel = logits[torch.tensor(rows, device=dev), torch.tensor(cols, device=dev)]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(sel, torch.tensor(ys, device=dev))
            return loss, len(ys)

        return train_loop(self.net, len(data), loss_of_batch, cfg, progress)


# ----- Math-Shepherd labels -------------------------------------------------------------------------
def mc_labels(task: Task, problems: Sequence[Problem], policy: Policy, samples: int = 2, rollouts: int = 4,
              temperature: float = 1.0, seed: int = 0, progress: Callable | None = None) -> list[Labeled]:
    """Sample ``samples`` solutions per problem, then label each step by ``rollouts`` policy finishes
    from it (see the module docstring). One batched policy call per stage."""
    from qstar.reasoning.strategies import state_text

    rng = random.Random(seed)
    sols = policy.generate([task.prompt(p) for p in problems], n=samples, temperature=temperature, stop="end",
                           seed=seed)
    traces = []  # (problem, states after each valid step, the steps as written, broke_rules)
    for p, cs in zip(problems, sols):
        for c in cs:
            lines = standing_lines(c.text)[:8]
            state, states, broke = task.initial_state(p), [], False
            for ln in lines:
                nxt, _ = task.apply(state, ln)
                if nxt is None:
                    broke = True
                    break
                state = nxt
                states.append(state)
            written = tuple(s.steps[-1] for s in states) + ((ln,) if broke else ())
            if written:
                traces.append((p, states, written, broke))
    # prefixes that need rollouts: valid and unfinished
    todo = [(t, k) for t, (_, states, _, _) in enumerate(traces) for k, s in enumerate(states) if not task.is_done(s)]
    wins: dict[tuple[int, int], int] = {}
    for b in range(0, len(todo), 64):
        chunk = todo[b: b + 64]
        outs = policy.generate([state_text(task, traces[t][1][k]) for t, k in chunk], n=rollouts,
                               temperature=temperature, stop="end", seed=rng.randrange(1 << 30))
        for (t, k), cs in zip(chunk, outs):
            s = traces[t][1][k]
            prefix = steps_text(s.steps)
            wins[(t, k)] = sum(task.score_trace(s.problem, prefix + c.text).ok for c in cs)
        if progress:
            progress(len(chunk))
    out = []
    for t, (p, states, written, broke) in enumerate(traces):
        soft, hard, exact, rolled = [], [], [], []
        for k, s in enumerate(states):
            if task.is_done(s):
                v = 1.0 if task.is_goal(s) else 0.0
                soft.append(v), hard.append(v), exact.append(v), rolled.append(False)
            else:
                w = wins[(t, k)]
                soft.append(w / rollouts), hard.append(1.0 if w else 0.0), rolled.append(True)
                exact.append(1.0 if task.state_solvable(s) else 0.0)
        if broke:
            soft.append(0.0), hard.append(0.0), exact.append(0.0), rolled.append(False)
        final = states[-1] if states else None
        outcome = 1.0 if (not broke and final is not None and task.is_goal(final)) else 0.0
        out.append(Labeled(p, written, tuple(soft), tuple(hard), tuple(exact), outcome, tuple(rolled)))
    return out


def label_agreement(data: Sequence[Labeled]) -> dict:
    """How often Math-Shepherd hard labels agree with exact solvability, over the steps that needed
    rollouts (valid, unfinished prefixes). Also: false negatives (solvable but no rollout succeeded)."""
    seen: dict[tuple, tuple] = {}  # each distinct step prefix once (records may share a prefix)
    for d in data:
        for k, (s, h, e, r) in enumerate(zip(d.soft, d.hard, d.exact, d.rolled)):
            if r:
                seen.setdefault((d.problem.numbers, d.problem.target, d.steps[: k + 1]), (s, h, e))
    pairs = [(h, e) for _, h, e in seen.values()]
    n = len(pairs)
    agree = sum(h == e for h, e in pairs)
    fn = sum(e == 1.0 and h == 0.0 for h, e in pairs)
    fp = sum(e == 0.0 and h == 1.0 for h, e in pairs)
    soft = [(s, e) for s, _, e in seen.values()]
    mse = sum((s - e) ** 2 for s, e in soft) / n if n else None
    return {"steps": n, "soft_mse": round(mse, 4) if mse is not None else None, "agreement": round(agree / n, 4) if n else None, "false_negative": fn, "false_positive": fp,
            "solvable_share": round(sum(e for _, e in pairs) / n, 4) if n else None}


def step_labels(task: Task, problems: Sequence[Problem], policy: Policy, rollouts: int = 4,
                temperature: float = 1.0, seed: int = 0, chunk: int = 256, per_first: int = 2,
                progress: Callable | None = None) -> list[Labeled]:
    """Math-Shepherd labels for *every legal first step* of each problem, and for the second-step
    states its rollouts reach (up to ``per_first`` records per first step).

    Why: search asks the PRM to rank every step the policy proposes, most of them steps the policy
    would rarely write itself; labels on its own samples only (``mc_labels``) leave those unseen.

    The rollouts are grown level by level, so no prompt is read twice: from each first-step state s1
    the policy samples ``rollouts`` next steps (one call, one read of the prompt); from every distinct
    unfinished second-step state s2 so reached it writes ``rollouts`` finishes. Rollout j of s1 is its
    j-th sampled step followed by an unused finish of the state that step reached — a policy rollout
    from s1 like any other, since each finish is an independent sample. Soft label: the share of
    rollouts the verifier accepts; hard: any. One record per (s1, s2) pair, completed by one of the
    finishes from s2 and labelled at its end by the verifier. ``exact`` (the solver's truth) is kept
    for reporting agreement only.

    A state's value depends only on the numbers left (and the target), and many problems share them
    after one step; each such set of numbers is rolled out once, from the first state that has it.
    """
    from qstar.reasoning.strategies import state_text

    rng = random.Random(seed)

    def sample(states: list, stop: str) -> list[list[tuple[object, object]]]:
        """``rollouts`` samples from each state: [(state after the first new step or None, end state)]."""
        out: list[list[tuple[object, object]]] = []
        for b in range(0, len(states), chunk):
            part = states[b: b + chunk]
            gens = policy.generate([state_text(task, s) for s in part], n=rollouts, temperature=temperature,
                                   stop=stop, seed=rng.randrange(1 << 30))
            for s, cs in zip(part, gens):
                row = []
                for c in cs:
                    lines = standing_lines(c.text)
                    first = task.apply(s, lines[0])[0] if lines else None
                    end = first
                    for ln in lines[1:]:
                        if end is None or task.is_done(end):
                            break
                        nxt, _ = task.apply(end, ln)
                        if nxt is None:
                            break
                        end = nxt
                    row.append((first, end))
                out.append(row)
            if progress:
                progress(len(part))
        return out

    def won(s) -> bool:
        return s is not None and task.is_done(s) and task.is_goal(s)

    def numbers(s) -> tuple:  # what a state's value depends on: the numbers left and the target
        return s.values, s.problem.target

    firsts = list({numbers(nxt): nxt for p in problems for _, nxt in task.moves(task.initial_state(p))}.values())
    open1 = [s for s in firsts if not task.is_done(s)]
    steps1 = dict(zip([s.key for s in open1], sample(open1, "line")))
    seconds: dict[tuple, object] = {}
    for s in open1:
        for nxt, _ in steps1[s.key]:
            if nxt is not None and not task.is_done(nxt):
                seconds.setdefault(numbers(nxt), nxt)
    open2 = list(seconds.values())
    fin2 = dict(zip([numbers(s) for s in open2], sample(open2, "end")))

    def label(s, wins: int) -> tuple[float, float, float]:
        return wins / rollouts, 1.0 if wins else 0.0, 1.0 if task.state_solvable(s) else 0.0

    out: list[Labeled] = []
    for s1 in firsts:
        if task.is_done(s1):  # finished in one step (Countdown): the verifier's verdict, no rollouts
            v = 1.0 if won(s1) else 0.0
            out.append(Labeled(s1.problem, s1.steps, (v,), (v,), (v,), v, (False,)))
            continue
        used: dict[tuple, int] = {}
        wins1 = 0
        for s2, _ in steps1[s1.key]:  # rollout j: sampled step j, then an unused finish from where it led
            if s2 is None:
                continue
            if task.is_done(s2):
                wins1 += won(s2)
                continue
            k = used.get(s2.key, 0)
            used[s2.key] = k + 1
            wins1 += won(fin2[numbers(s2)][k % rollouts][1])
        a = label(s1, wins1)
        nexts = list({n.key: n for n, _ in steps1[s1.key] if n is not None}.values())[:per_first]
        if not nexts:
            out.append(Labeled(s1.problem, s1.steps, (a[0],), (a[1],), (a[2],), 0.0, (True,)))
            continue
        for s2 in nexts:
            if task.is_done(s2):
                v = 1.0 if won(s2) else 0.0
                out.append(Labeled(s1.problem, s2.steps, (a[0], v), (a[1], v), (a[2], v), v, (True, False)))
                continue
            fins = fin2[numbers(s2)]
            b = label(s2, sum(won(e) for _, e in fins))
            end = fins[0][1]
            if end is not None:  # the finish was written from a state with the same numbers; replay it here
                end, _ = task.parse_trace(s2.problem, steps_text(s2.steps + end.steps[len(s2.steps):]))
            if end is None or not task.is_done(end):  # no valid finish written: the pair alone
                out.append(Labeled(s1.problem, s2.steps, (a[0], b[0]), (a[1], b[1]), (a[2], b[2]), 0.0, (True, True)))
                continue
            k = len(end.steps) - len(s2.steps)
            v = 1.0 if won(end) else 0.0
            # after the second step only the finished end is labelled (by the verifier); steps in between
            # (Countdown's longer solutions) carry no label
            none = (None,) * (k - 1)
            out.append(Labeled(s1.problem, end.steps, (a[0], b[0]) + none + (v,), (a[1], b[1]) + none + (v,),
                               (a[2], b[2]) + none + (v,), v, (True, True) + (False,) * k))
    return out
