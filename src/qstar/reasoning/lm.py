"""Pieces the policy and the value models share: qstar's BPE tokenizer for the step grammar, and a
small supervised training loop over (prompt, completion) texts. Imports torch and transformers.

The tokenizer's split pattern keeps every newline a token of its own, so one step is one line and
"stop at the end of the step" is "stop at the newline token".
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from qstar.core.errors import check

EOS = "<|endoftext|>"
PAD = "<|pad|>"
STEP_PATTERN = r"\n| ?\d+(?:/\d+)?| ?[a-z]+| ?[^\s\da-z]+|[^\S\n]+"


def quiet_transformers() -> None:
    """No per-save progress bars or config chatter from ``transformers`` in our logs."""
    from transformers.utils import logging
    logging.set_verbosity_error()
    logging.disable_progress_bar()


def train_step_tokenizer(texts: Sequence[str], vocab_size: int = 320):
    """qstar's byte-level BPE trained on step text, wrapped as a ``transformers`` fast tokenizer."""
    from qstar.tokenizer import BPETokenizer

    bpe = BPETokenizer.train("".join(texts), vocab_size, pattern=STEP_PATTERN, special_tokens=[EOS, PAD])
    return hf_tokenizer(bpe)


def hf_tokenizer(bpe):
    tok = bpe.to_transformers(eos_token=EOS, pad_token=PAD)
    check(len(tok.encode("\n")) == 1, "the tokenizer must keep '\\n' a single token")
    return tok


def newline_id(tokenizer) -> int:
    ids = tokenizer.encode("\n", add_special_tokens=False)
    check(len(ids) == 1, "the tokenizer must keep '\\n' a single token for step-wise generation")
    return ids[0]


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 10.0  # passes over the examples (fractions allowed)
    batch_size: int = 64
    lr: float = 2e-3  # peak AdamW learning rate; linear warm-up, cosine decay to 10%
    warmup_steps: int = 30
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 1  # torch CPU threads (the project's machine has 2 cores shared with other jobs)

    def __post_init__(self):
        check(self.epochs > 0, f"epochs must be > 0, got {self.epochs}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.threads >= 1, f"threads must be >= 1, got {self.threads}")


Segments = Sequence[tuple[str, bool]]  # (text, learn it?) pieces of one completion


def encode_pairs(tokenizer, prompts: Sequence[str], completions: Sequence[str | Segments], add_eos: bool = True,
                 max_len: int = 256) -> list[tuple[list[int], list[bool]]]:
    """[(ids, learn)]: the prompt's ids then the completion's (+ eos when the completion is one string);
    ``learn[i]`` says whether token i is a training target. A completion given as segments trains only
    on the segments marked True (the split pattern never merges across segment borders here)."""
    if not prompts:
        return []
    p_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    out = []
    for p, c in zip(p_ids, completions):
        ids, learn = list(p), [False] * len(p)
        if isinstance(c, str):
            c_ids = tokenizer.encode(c, add_special_tokens=False) + ([tokenizer.eos_token_id] if add_eos else [])
            ids += c_ids
            learn += [True] * len(c_ids)
        else:
            for text, on in c:
                t = tokenizer.encode(text, add_special_tokens=False)
                ids += t
                learn += [on] * len(t)
        out.append((ids[:max_len], learn[:max_len]))
    return out


def pad_batch(seqs: Sequence[list[int]], pad_id: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids [B, T] and attention mask [B, T] (built on the CPU, then moved to ``device``)."""
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return (ids, mask) if device is None else (ids.to(device), mask.to(device))


def device_of(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters are on (where its inputs must go)."""
    return next(model.parameters()).device


def learned_logprobs(model: torch.nn.Module, data: Sequence[tuple[list[int], list[bool]]], pad_id: int) -> torch.Tensor:
    """[len(data)] the sum of the log-probabilities of each sequence's learned tokens (``encode_pairs``'s output),
    in one forward pass; with gradients unless the caller turns them off."""
    dev = device_of(model)
    ids, mask = pad_batch([d[0] for d in data], pad_id, dev)
    learn, _ = pad_batch([[int(x) for x in d[1]] for d in data], 0, dev)
    logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
    return (logp.gather(-1, ids[:, 1:, None]).squeeze(-1) * learn[:, 1:]).sum(-1)


def train_loop(model: torch.nn.Module, num_examples: int, loss_of_batch: Callable[[list[int]], tuple[torch.Tensor, int]],
               cfg: TrainConfig, progress: Callable | None = None) -> dict:
    """AdamW over shuffled minibatches of example indices. ``loss_of_batch(indices) -> (loss, tokens)``.
    Returns {"steps", "tokens", "seconds" (wall), "cpu_seconds" (this process), "loss"} (loss: mean over the last 10% of steps)."""
    if num_examples == 0:
        return {"steps": 0, "tokens": 0, "seconds": 0.0, "loss": None}
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    steps_per_epoch = max(1, math.ceil(num_examples / cfg.batch_size))
    total = max(1, int(round(cfg.epochs * steps_per_epoch)))
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "ln" in n or "wpe" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    model.train()
    order: list[int] = []
    losses, tokens, t0, c0 = [], 0, time.perf_counter(), time.process_time()
    for step in range(total):
        if len(order) < cfg.batch_size:
            fresh = list(range(num_examples))
            rng.shuffle(fresh)
            order += fresh
        idx, order = order[: cfg.batch_size], order[cfg.batch_size:]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss, n_tok = loss_of_batch(idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        tokens += n_tok
        if progress:
            progress(1, info=f"loss {losses[-1]:.3f}")
    model.eval()
    tail = losses[-max(1, total // 10):]
    return {"steps": total, "tokens": tokens, "seconds": round(time.perf_counter() - t0, 2),
            "cpu_seconds": round(time.process_time() - c0, 2),
            "loss": round(sum(tail) / len(tail), 4)}
