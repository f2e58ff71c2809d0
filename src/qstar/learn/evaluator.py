"""The network as a batched evaluator, with a cache of results keyed by the state's identity."""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from typing import Sequence

import numpy as np
import torch

from qstar.core.evaluator import Evaluation
from qstar.core.game import Game


class NetworkEvaluator:
    """Priors (softmax over legal moves) and values for a batch of states, in one forward pass.

    The network is snapshotted at construction and by ``refresh()``; call ``refresh()`` after changing its
    weights. With ``optimize`` (the default) and a network that supports it, the snapshot has BatchNorm
    folded into the convolutions and keeps its tensors channels-last (for the Connect Four net on one CPU
    thread, about 1.35x the positions/s of the plain module at batch 256); without, the module is called
    as it is (the way most AlphaZero code does; ``qstar bench`` uses that for its dict-search baseline).
    Counts positions, calls and seconds spent inside the network.
    """

    def __init__(self, game: Game, net: torch.nn.Module, cache_size: int = 100_000, optimize: bool = True,
                 device: str = "cpu"):
        self.game, self.net = game, net
        self.cache_size, self.optimize, self.device = cache_size, optimize, torch.device(device)
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
        self.channels_last = bool(self.optimize and fuse)
        if self.channels_last:
            self.infer = fuse().to(self.device, memory_format=torch.channels_last)
        else:  # the module as it is (a copy if it must move to another device: the caller's stays put)
            on = next(self.net.parameters(), torch.empty(0)).device
            self.infer = self.net if on == self.device else copy.deepcopy(self.net).to(self.device)
        self.cache.clear()

    @torch.inference_mode()
    def forward(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Raw network output: (masked priors [B, A], values [B]), no cache."""
        x = torch.from_numpy(self.game.encode(states))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        masks = torch.from_numpy(np.stack([self.game.legal_mask(s) for s in states]))
        t0 = time.perf_counter()
        logits, values = self.infer(x.to(self.device))
        logits = logits.masked_fill(~masks.to(self.device), float("-inf"))
        priors = torch.softmax(logits, dim=1).nan_to_num_(0.0).cpu().numpy()  # .cpu() waits for the device
        self.net_seconds += time.perf_counter() - t0
        self.calls += 1
        self.positions += len(states)
        return priors, values.cpu().numpy().astype(np.float32)

    def __call__(self, states: Sequence) -> Evaluation:
        if not self.cache_size:
            return Evaluation(*self.forward(states))
        cache, A = self.cache, self.game.num_actions
        keys = list(map(self.game.key, states))
        found = list(map(cache.get, keys))  # each cached result one row: the priors, then the value
        out = np.empty((len(states), A + 1), np.float32)
        hits = [i for i, f in enumerate(found) if f is not None]
        if hits:
            out[hits] = [found[i] for i in hits]
            self.cache_hits += len(hits)
        if len(hits) < len(states):
            miss = [i for i, f in enumerate(found) if f is None]
            first = dict(zip([keys[i] for i in miss], miss))  # one row per position (a batch can hold one twice)
            p, v = self.forward([states[i] for i in first.values()])
            rows = np.concatenate([p, v[:, None]], axis=1)
            at = {k: j for j, k in enumerate(first)}
            out[miss] = rows[[at[keys[i]] for i in miss]]
            cache.update(zip(first, rows))
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        return Evaluation(np.ascontiguousarray(out[:, :A]), np.ascontiguousarray(out[:, A]))
