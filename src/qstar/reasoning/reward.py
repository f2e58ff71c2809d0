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
from qstar.reasoning.lm import TrainConfig, pad_batch, train_loop
from qstar.reasoning.policy import save_folder
from qstar.reasoning.task import Problem, Task

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
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
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

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        def write(tmp: Path):
            save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, tmp / "model.safetensors")
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
                ids, mask = pad_batch([e[0] for e in chunk], self.tokenizer.pad_token_id)
                probs = torch.sigmoid(self.net(ids, mask))
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
            ids, mask = pad_batch([enc[i][0] for i in idx], pad)
            logits = self.net(ids, mask)
            rows, cols, ys = [], [], []
            for r, i in enumerate(idx):
                for p, y in zip(enc[i][1], targets[i]):
                    if y is not None:
                        rows.append(r), cols.append(p), ys.append(y)
            if not ys:
                return logits.sum() * 0.0, 0
            sel = logits[torch.tensor(rows), torch.tensor(cols)]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(sel, torch.tensor(ys))
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
            lines = [ln for ln in c.text.strip().splitlines() if ln.strip()][:8]
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
            prefix = "".join(x + "\n" for x in s.steps)
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
    pairs = [(h, e) for d in data for h, e, r in zip(d.hard, d.exact, d.rolled) if r]
    n = len(pairs)
    agree = sum(h == e for h, e in pairs)
    fn = sum(e == 1.0 and h == 0.0 for h, e in pairs)
    fp = sum(e == 0.0 and h == 1.0 for h, e in pairs)
    soft = [(s, e) for d in data for s, e, r in zip(d.soft, d.exact, d.rolled) if r]
    mse = sum((s - e) ** 2 for s, e in soft) / n if n else None
    return {"steps": n, "soft_mse": round(mse, 4) if mse is not None else None, "agreement": round(agree / n, 4) if n else None, "false_negative": fn, "false_positive": fp,
            "solvable_share": round(sum(e for _, e in pairs) / n, 4) if n else None}
