"""A reward model learned from comparisons, and reward functions with TRL's signature.

The model is a bag of hashed n-grams of the completion (per line position and for the last line, so it
can see "the last line says = 24") and of the prompt's numbers, summed in an ``EmbeddingBag`` and read
by a small MLP to one scalar. It trains on the Bradley–Terry loss ``-log σ(r_chosen − r_rejected)``
in seconds on one CPU core. It sees tokens, never the arithmetic: what it learns is what the raters
rewarded.

Reward sources are plain functions ``f(prompts, completions, **kwargs) -> list[float]`` — the
signature TRL's ``GRPOTrainer`` takes in ``reward_funcs`` — built by ``reward_source('verifier')`` or
``reward_source('model:PATH')``.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from qstar.core.atomic import atomic_write, atomic_write_json
from qstar.core.errors import CheckpointError, QstarError, check
from qstar.rlhf.labelers import Comparison

RewardFn = Callable[..., list[float]]
_TOKEN = re.compile(r"\d+(?:/\d+)?|left:|[-+*/=()]|->")


@dataclass(frozen=True)
class RMConfig:
    buckets: int = 1 << 14  # hashed n-gram vocabulary
    dim: int = 32
    hidden: int = 32
    lr: float = 3e-3
    epochs: int = 8
    batch_size: int = 64
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self):
        check(self.buckets >= 16 and self.dim >= 1 and self.hidden >= 1, "buckets >= 16, dim >= 1, hidden >= 1")
        check(self.epochs >= 1 and self.batch_size >= 1 and self.lr > 0, "epochs, batch_size >= 1 and lr > 0")


def ngrams(prompt: str, completion: str) -> list[str]:
    """``('4 5 6 10 -> 24\\n', '10 - 4 = 6 (left: 5 6 6)')`` -> ``['P:4', ..., '0:10', '0:10 -', ..., 'last:= 6', ...]``:
    prompt numbers, then completion unigrams and bigrams tagged by line index and again for the last line."""
    out = ["P:" + t for t in _TOKEN.findall(prompt.split("->")[0])]
    lines = [ln for ln in completion.strip().splitlines() if ln.strip()]
    out.append(f"lines:{len(lines)}")
    for i, line in enumerate(lines):
        toks = _TOKEN.findall(line)
        tags = [str(i)] + (["last"] if i == len(lines) - 1 else [])
        for tag in tags:
            out += [f"{tag}:{t}" for t in toks]
            out += [f"{tag}:{a} {b}" for a, b in zip(toks, toks[1:])]
    return out


def _hash(feature: str, buckets: int) -> int:
    return zlib.crc32(feature.encode()) % buckets


class BagRM(torch.nn.Module):
    def __init__(self, cfg: RMConfig):
        super().__init__()
        self.cfg = cfg
        self.bag = torch.nn.EmbeddingBag(cfg.buckets, cfg.dim, mode="sum")
        self.mlp = torch.nn.Sequential(torch.nn.Linear(cfg.dim, cfg.hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(cfg.hidden, 1))
        torch.nn.init.normal_(self.bag.weight, std=0.02)

    def ids(self, prompt: str, completion: str) -> list[int]:
        return [_hash(f, self.cfg.buckets) for f in ngrams(prompt, completion)]

    def encode(self, prompts: Sequence[str], completions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return pack([self.ids(p, c) for p, c in zip(prompts, completions)])

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:  # -> [B]
        return self.mlp(self.bag(ids, offsets)).squeeze(-1)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        with torch.no_grad():
            return self(*self.encode(prompts, completions)).tolist()


def pack(rows: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """EmbeddingBag input: flat ids and the offset where each row starts."""
    offsets = np.cumsum([0] + [len(r) for r in rows[:-1]])
    return torch.tensor([i for r in rows for i in r], dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def bt_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Bradley–Terry: mean of ``-log σ(r_chosen − r_rejected)``."""
    return torch.nn.functional.softplus(r_rejected - r_chosen).mean()


def fit_bradley_terry(model: torch.nn.Module, n_pairs: int,
                      pair_scores: Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]],
                      lr: float, weight_decay: float, epochs: int, batch_size: int, seed: int) -> dict:
    """Bradley–Terry training of any scalar model with AdamW on minibatches of comparisons.

    ``pair_scores(idx)`` returns the model's scores ``(r_chosen [b], r_rejected [b])`` of the comparisons
    ``idx``, so the same loop trains the text model (hashed n-grams) and the board model (a CNN on
    tensors). Leaves the model in eval mode; returns the number of steps and the final loss."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    losses = []
    for _ in range(epochs):
        order = rng.permutation(n_pairs)
        for k in range(0, n_pairs, batch_size):
            loss = bt_loss(*pair_scores(order[k: k + batch_size]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    model.eval()
    tail = losses[-max(1, len(losses) // 10):]
    return {"steps": len(losses), "loss": round(sum(tail) / len(tail), 4), "comparisons": n_pairs}


def train_reward_model(rows: Sequence[Comparison], cfg: RMConfig = RMConfig()) -> tuple[BagRM, dict]:
    """Bradley–Terry training with AdamW on minibatches of comparisons. Returns (model, stats)."""
    if not rows:
        raise QstarError("no comparisons to train a reward model on")
    torch.manual_seed(cfg.seed)
    model = BagRM(cfg)
    chosen = [model.ids(r.prompt, r.chosen) for r in rows]
    rejected = [model.ids(r.prompt, r.rejected) for r in rows]

    def pair_scores(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return model(*pack([chosen[i] for i in idx])), model(*pack([rejected[i] for i in idx]))

    stats = fit_bradley_terry(model, len(rows), pair_scores, cfg.lr, cfg.weight_decay, cfg.epochs,
                              cfg.batch_size, cfg.seed)
    return model, stats


def comparison_accuracy(score: RewardFn, rows: Sequence[Comparison]) -> float | None:
    """Share of comparisons where ``score(chosen) > score(rejected)`` (ties count half); None if no rows."""
    if not rows:
        return None
    prompts = [r.prompt for r in rows]
    c = np.array(score(prompts, [r.chosen for r in rows]))
    j = np.array(score(prompts, [r.rejected for r in rows]))
    return float(np.mean((c > j) + 0.5 * (c == j)))


def save_model_folder(model: torch.nn.Module, path: str | Path, kind: str, meta: dict | None = None) -> Path:
    """A reward-model folder: ``model.safetensors`` and ``config.json`` (``kind``, the model's ``cfg``, ``meta``),
    each written atomically."""
    path = Path(path)
    atomic_write(path / "model.safetensors", lambda p: save_file(model.state_dict(), str(p)))
    atomic_write_json(path / "config.json", {"kind": kind, "config": asdict(model.cfg), **(meta or {})})
    return path


def load_model_folder(path: str | Path, kind: str, build: Callable[[dict], torch.nn.Module], what: str):
    """The model ``save_model_folder`` wrote with ``kind``, built by ``build(config)``, in eval mode; anything
    else is a CheckpointError naming ``what`` the folder should have been."""
    path = Path(path)
    try:
        info = json.loads((path / "config.json").read_text())
        check(info.get("kind") == kind, f"not a {kind}")
        model = build(info["config"])
        model.load_state_dict(load_file(str(path / "model.safetensors")))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, RuntimeError, QstarError) as e:
        raise CheckpointError(f"{path} is not {what} ({e})") from None
    model.eval()
    return model


def save_reward_model(model: BagRM, path: str | Path, meta: dict | None = None) -> Path:
    return save_model_folder(model, path, "bag_rm", meta)


def load_reward_model(path: str | Path) -> BagRM:
    return load_model_folder(path, "bag_rm", lambda c: BagRM(RMConfig(**c)),
                             "a reward model folder written by qstar rlhf")


def model_reward(model: BagRM) -> RewardFn:
    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs) -> list[float]:
        return model.score(prompts, completions)
    return reward


def verifier_reward(task) -> RewardFn:
    """The ground truth as a reward function: 1.0 if the completion's steps replay to a correct answer."""
    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs) -> list[float]:
        out = []
        for p, c in zip(prompts, completions):
            state = task.read_prompt(p)
            if state is None:
                raise QstarError(f"not a {task.name} prompt: {p[:40]!r}")
            out.append(task.score_trace(state.problem, c).value)
        return out
    return reward


def reward_source(spec: str, task) -> RewardFn:
    """``'verifier'`` (ground truth) or ``'model:PATH'`` (a reward model folder)."""
    if spec == "verifier":
        return verifier_reward(task)
    if spec.startswith("model:") and len(spec) > 6:
        return model_reward(load_reward_model(spec[6:]))
    raise QstarError(f"unknown reward source {spec!r}; use 'verifier' or 'model:PATH'")
