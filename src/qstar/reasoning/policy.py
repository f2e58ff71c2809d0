"""The policy: a Hugging Face causal language model that writes solution steps.

``LMPolicy.new`` builds a tiny GPT-2 from scratch on qstar's own BPE tokenizer; ``LMPolicy.load``
reads any local model folder (``save_pretrained`` layout: config, safetensors weights, tokenizer),
so the same code runs a pretrained model on a machine that has one. Sampling uses the
model's KV cache (any ``transformers`` causal LM that takes ``past_key_values`` and ``position_ids``),
with temperature and n continuations per prompt sharing one read of the prompt.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from qstar.core.errors import CheckpointError, check
from qstar.reasoning.interfaces import Completion, Stop
from qstar.reasoning.lm import (Segments, TrainConfig, device_of, encode_pairs, learned_logprobs, newline_id,
                               pad_batch, train_loop)


@dataclass(frozen=True)
class PolicyConfig:
    n_layer: int = 4
    n_embd: int = 160
    n_head: int = 4
    n_positions: int = 192
    max_step_tokens: int = 24  # new tokens allowed for one step (stop="line")
    max_action_tokens: int = 12  # new tokens allowed for one operation (stop="action"): 'a op b =' is 4-9
    max_solution_tokens: int = 120  # new tokens allowed for a whole solution (stop="end")

    def __post_init__(self):
        check(self.n_embd % self.n_head == 0, f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        check(self.n_layer >= 1 and self.n_positions >= 32, "n_layer must be >= 1 and n_positions >= 32")


class LMPolicy:
    """Implements ``qstar.reasoning.interfaces.Policy`` with a causal LM and its tokenizer."""

    def __init__(self, model, tokenizer, cfg: PolicyConfig = PolicyConfig()):
        self.model, self.tokenizer, self.cfg = model, tokenizer, cfg
        self.model.eval()
        self.newline = newline_id(tokenizer)
        eq = tokenizer.encode(" =", add_special_tokens=False)
        self.equals = eq[0] if len(eq) == 1 else None  # stop="action" ends at " ="

    # ----- construction / files ------------------------------------------------------------------
    @classmethod
    def new(cls, tokenizer, cfg: PolicyConfig = PolicyConfig(), seed: int = 0) -> "LMPolicy":
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.manual_seed(seed)
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd,
                            n_layer=cfg.n_layer, n_head=cfg.n_head, n_inner=4 * cfg.n_embd,
                            bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                            activation_function="gelu_pytorch_tanh")  # the fused kernel of gelu_new
        return cls(GPT2LMHeadModel(config), tokenizer, cfg)

    @classmethod
    def load(cls, path: str | Path, cfg: PolicyConfig = PolicyConfig()) -> "LMPolicy":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").exists():
            raise CheckpointError(f"{path} is not a model folder (no config.json); pass a folder written by "
                                  f"save_pretrained, e.g. a run's policy/ folder")
        tok = AutoTokenizer.from_pretrained(path)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        return cls(AutoModelForCausalLM.from_pretrained(path), tok, cfg)

    def save(self, path: str | Path) -> None:
        """Writes config, safetensors weights and tokenizer into ``path`` (written to a temp folder, then renamed)."""
        save_folder(path, lambda tmp: (self.model.save_pretrained(tmp, safe_serialization=True),
                                       self.tokenizer.save_pretrained(tmp)))

    def to(self, device) -> "LMPolicy":
        """Move the model to a torch device (``cpu``, ``cuda``, ...); returns self."""
        self.model.to(device)
        return self

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # ----- sampling ------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], n: int, temperature: float, stop: Stop,
                 seed: int) -> list[list[Completion]]:
        """Sample with the model's KV cache. Each prompt is read once and its cache shared by its ``n``
        samples (``model.generate`` would read ``n`` copies: most of the cost, for step-sized outputs)."""
        import torch

        check(n >= 1, f"n must be >= 1, got {n}")
        check(stop != "action" or self.equals is not None, "this tokenizer has no single ' =' token for stop='action'")
        if not prompts:
            return []
        tok = self.tokenizer
        tok.padding_side = "left"
        dev = device_of(self.model)
        enc = tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False).to(dev)
        greedy = temperature <= 0
        per = 1 if greedy else n
        stops = [tok.eos_token_id] + ([self.newline] if stop in ("line", "action") else [])
        if stop == "action":
            stops.append(self.equals)
        max_new = {"end": self.cfg.max_solution_tokens, "line": self.cfg.max_step_tokens,
                   "action": self.cfg.max_action_tokens}[stop]
        max_new = max(1, min(max_new, self.model.config.max_position_embeddings - enc["input_ids"].shape[1]))
        gen = torch.Generator().manual_seed(seed)  # sampled on the CPU: the same seed, the same draws on any device
        stop_t = torch.tensor(stops, device=dev)
        with torch.inference_mode(), warnings.catch_warnings():
            # newer transformers rename ``past_key_values``; the old name keeps older versions working
            warnings.filterwarnings("ignore", message=".*past_key_values.*", category=FutureWarning)
            mask = enc["attention_mask"]
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            out = self.model(input_ids=enc["input_ids"], attention_mask=mask, position_ids=pos, use_cache=True)
            cache = out.past_key_values
            logits = out.logits[:, -1].float()  # [B, V]
            if per > 1:
                cache.batch_repeat_interleave(per)
                logits = logits.repeat_interleave(per, 0)
                mask = mask.repeat_interleave(per, 0)
                pos = pos.repeat_interleave(per, 0)
            rows = logits.shape[0]
            last_pos = pos[:, -1]
            alive = torch.arange(rows, device=dev)  # original row of each row still in the batch
            new_ids = torch.full((rows, max_new), tok.pad_token_id, dtype=torch.long, device=dev)
            new_lp = torch.zeros(rows, max_new, device=dev)
            for t in range(max_new):
                if greedy:
                    logp = torch.log_softmax(logits, -1)
                    nxt = logits.argmax(-1)
                else:
                    logp = torch.log_softmax(logits / temperature, -1)
                    nxt = torch.multinomial(logp.exp().cpu(), 1, generator=gen).squeeze(-1).to(dev)
                new_ids[alive, t] = nxt
                new_lp[alive, t] = logp.gather(-1, nxt[:, None]).squeeze(-1)
                going = ~torch.isin(nxt, stop_t)
                if not bool(going.any()) or t == max_new - 1:
                    break
                if not bool(going.all()):  # drop finished rows: later steps cost only what is still running
                    keep = going.nonzero().squeeze(-1)
                    cache.batch_select_indices(keep)
                    alive, nxt, mask, last_pos = alive[keep], nxt[keep], mask[keep], last_pos[keep]
                mask = torch.cat([mask, torch.ones(len(alive), 1, dtype=mask.dtype, device=dev)], 1)
                last_pos = last_pos + 1
                out = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos[:, None],
                                 past_key_values=cache, use_cache=True)
                cache, logits = out.past_key_values, out.logits[:, -1].float()
        new = new_ids.tolist()
        lps = new_lp.tolist()
        comps = []
        for row, lp in zip(new, lps):
            k = next((j for j, t in enumerate(row) if t in stops), None)
            used = row if k is None else row[: k + 1]
            text = tok.decode([t for t in used if t not in stops])
            comps.append(Completion(text, float(sum(lp[: len(used)])), len(used)))
        return [[comps[i * per + (j % per)] for j in range(n)] for i in range(len(prompts))]

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str | Segments],
                batch_size: int = 256) -> list[float]:
        """Sum of the continuation tokens' log-probabilities after each prompt, in batches of ``batch_size``.
        A continuation given as segments ``[(text, counted?)]`` counts only its marked tokens."""
        import torch

        check(len(prompts) == len(continuations), "one continuation per prompt")
        max_len = self.model.config.max_position_embeddings
        segs = [[(c, True)] if isinstance(c, str) else c for c in continuations]
        data = encode_pairs(self.tokenizer, prompts, segs, add_eos=False,
                            max_len=max_len)
        out: list[float] = []
        with torch.inference_mode():
            for k in range(0, len(data), batch_size):
                out += learned_logprobs(self.model, data[k: k + batch_size], self.tokenizer.pad_token_id).tolist()
        return out

    # ----- training ------------------------------------------------------------------------------
    def finetune(self, prompts: Sequence[str], completions: Sequence, cfg: TrainConfig,
                 progress: Callable | None = None, choices: Sequence[tuple[str, Sequence[tuple[Segments, bool]]]] = (),
                 choices_per_step: int = 16, choices_weight: float = 1.0) -> dict:
        """Supervised training on completions (strings, or segments ``[(text, learn?)]``); the loss skips
        prompt tokens and unlearned segments. Returns training stats.

        ``choices``: ``[(prompt, [(alternative, good?)])]``, the alternatives a step after ``prompt`` could take
        (segments), at least one of them good. Each optimizer step then also lowers, averaged over
        ``choices_per_step`` random choices, -log of the total probability the policy gives a choice's good
        alternatives, times ``choices_weight``: it learns which of the legal steps keep the goal reachable, not
        only the steps that traces happen to show (the loop's first-step loss, see docs/reasoning.md)."""
        import torch

        data = encode_pairs(self.tokenizer, prompts, completions, max_len=self.model.config.max_position_embeddings)
        pad = self.tokenizer.pad_token_id
        dev = device_of(self.model)
        sets = []
        for prompt, alts in choices:
            check(any(good for _, good in alts), "every choice needs at least one good alternative")
            sets.append((encode_pairs(self.tokenizer, [prompt] * len(alts), [a for a, _ in alts], add_eos=False),
                         torch.tensor([good for _, good in alts], device=dev)))
        rng = random.Random(cfg.seed + 1)

        def loss_of_batch(idx):
            seqs = [data[i][0] for i in idx]
            ids, mask = pad_batch(seqs, pad)
            labels = ids.clone()
            labels[mask == 0] = -100
            for r, i in enumerate(idx):
                learn = data[i][1]
                labels[r, : len(learn)][~torch.tensor(learn)] = -100
            loss = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), labels=labels.to(dev)).loss
            if sets:  # every alternative of the picked choices in one forward pass
                pick = rng.sample(range(len(sets)), min(choices_per_step, len(sets)))
                scores = learned_logprobs(self.model, [d for i in pick for d in sets[i][0]], pad)
                scores = scores.split([len(sets[i][1]) for i in pick])
                set_nll = torch.stack([-torch.logsumexp(s[sets[i][1]], 0) for s, i in zip(scores, pick)])
                loss = loss + choices_weight * set_nll.mean()
            return loss, int((labels != -100).sum())

        return train_loop(self.model, len(data), loss_of_batch, cfg, progress)


def save_folder(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write a folder atomically: into a sibling temp folder, then swap it in by rename."""
    import shutil
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(tmp)
        old = path.with_name(f".{path.name}.old")
        if path.exists():
            if old.exists():
                shutil.rmtree(old)
            path.rename(old)
        tmp.rename(path)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path
