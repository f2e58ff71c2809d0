"""The network as a batched evaluator, with a cache of results keyed by the state's identity."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Sequence

import numpy as np
import torch

from qstar.core.evaluator import Evaluation
from qstar.core.game import Game


class NetworkEvaluator:
    """Priors (softmax over legal moves) and values for a batch of states, in one forward pass.

    The network is snapshotted at construction and by ``refresh()`` (with BatchNorm folded into the
    convolutions where the network supports it); call ``refresh()`` after changing its weights.
    Counts positions, calls and seconds spent inside the network, for the benchmarks.
    """

    def __init__(self, game: Game, net: torch.nn.Module, cache_size: int = 100_000):
        self.game, self.net = game, net
        self.cache_size = cache_size
        self.cache: OrderedDict = OrderedDict()
        self.net_seconds = 0.0
        self.calls = 0
        self.positions = 0
        self.cache_hits = 0
        self.refresh()

    def refresh(self) -> None:
        """Take the network's current weights and forget cached results."""
        self.net.eval()
        fuse = getattr(self.net, "fused_for_inference", None)
        self.infer = fuse() if fuse else self.net
        self.cache.clear()

    @torch.inference_mode()
    def forward(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Raw network output: (masked priors [B, A], values [B]), no cache."""
        x = torch.from_numpy(self.game.encode(states))
        masks = np.stack([self.game.legal_mask(s) for s in states])
        t0 = time.perf_counter()
        logits, values = self.infer(x)
        logits = logits.masked_fill(~torch.from_numpy(masks), float("-inf"))
        priors = torch.softmax(logits, dim=1).nan_to_num_(0.0).numpy()
        self.net_seconds += time.perf_counter() - t0
        self.calls += 1
        self.positions += len(states)
        return priors, values.numpy().astype(np.float32)

    def __call__(self, states: Sequence) -> Evaluation:
        if not self.cache_size:
            return Evaluation(*self.forward(states))
        keys = [self.game.key(s) for s in states]
        priors = np.empty((len(states), self.game.num_actions), np.float32)
        values = np.empty(len(states), np.float32)
        todo: dict = {}
        for i, k in enumerate(keys):
            hit = self.cache.get(k)
            if hit is not None:
                priors[i], values[i] = hit
                self.cache_hits += 1
            else:
                todo.setdefault(k, []).append(i)
        if todo:
            idx = [v[0] for v in todo.values()]
            p, v = self.forward([states[i] for i in idx])
            for (k, rows), pi, vi in zip(todo.items(), p, v):
                priors[rows], values[rows] = pi, vi
                self.cache[k] = (pi, vi)
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return Evaluation(priors, values)
