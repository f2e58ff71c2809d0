"""The network as a batched evaluator, with a cache of results keyed by the state's identity."""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from typing import Sequence

import numpy as np
import torch

from qstar.core.errors import ConfigError
from qstar.core.evaluator import Evaluation
from qstar.core.game import Game


def symmetry_permutations(game: Game, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``k`` of the game's symmetries as index arrays (obs, policy): the transformed flat observation
    is ``obs.ravel()[o]`` and its move ``j`` is the position's move ``p[j]``. Every game's symmetries move entries
    without changing them, so they are found by transforming the indices themselves."""
    n = len(game.symmetries(np.zeros(game.obs_shape, np.float32), np.zeros(game.num_actions, np.float32)))
    if not 1 <= k <= n:
        raise ConfigError(f"--symmetries must be 1..{n} for {game.name}, got {k}")
    index = np.arange(int(np.prod(game.obs_shape)), dtype=np.float64).reshape(game.obs_shape)
    moves = np.arange(game.num_actions, dtype=np.float64)
    return [(o.ravel().astype(np.int64), p.astype(np.int64)) for o, p in game.symmetries(index, moves)[:k]]


class NetworkEvaluator:
    """Priors (softmax over legal moves) and values for a batch of states, in one forward pass.

    The network is snapshotted at construction and by ``refresh()``; call ``refresh()`` after changing its
    weights. With ``optimize`` (the default) and a network that supports it, the snapshot has BatchNorm
    folded into the convolutions and keeps its tensors channels-last (for the Connect Four net on one CPU
    thread, about 1.35x the positions/s of the plain module at batch 256); without, the module is called
    as it is (the way most AlphaZero code does; ``qstar bench`` uses that for its dict-search baseline).
    With ``symmetries`` = k > 1 each position is evaluated in the first k of the game's symmetries (Go: 8,
    Connect Four: 2; identity first) in the same forward pass, and the priors (mapped back to the position's own
    frame) and the values are averaged: a steadier estimate from the same network for k times the positions.
    Counts positions, calls and seconds spent inside the network.
    """

    def __init__(self, game: Game, net: torch.nn.Module, cache_size: int = 100_000, optimize: bool = True,
                 device: str = "cpu", symmetries: int = 1):
        self.game, self.net = game, net
        self.perms = symmetry_permutations(game, symmetries)
        self.cache_size, self.optimize, self.device = cache_size, optimize, torch.device(device)
        # for each symmetry, the column of its output that holds each of the position's own moves
        self.back = torch.from_numpy(np.stack([np.argsort(p) for _, p in self.perms])).to(self.device)
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
        obs = self.game.encode(states)
        k = len(self.perms)
        if k > 1:  # the k transformed copies of the batch, one after the other
            flat = obs.reshape(len(states), -1)
            obs = np.concatenate([flat[:, o] for o, _ in self.perms]).reshape(k * len(states), *obs.shape[1:])
        x = torch.from_numpy(obs)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        masks = torch.from_numpy(np.stack([self.game.legal_mask(s) for s in states]))
        t0 = time.perf_counter()
        logits, values = self.infer(x.to(self.device))
        if k > 1:  # each copy's logits back in the position's own frame, then the average of the k softmaxes
            logits = logits.view(k, len(states), -1)
            logits = logits.gather(2, self.back[:, None, :].expand_as(logits))
            logits = logits.masked_fill(~masks.to(self.device), float("-inf"))
            priors = torch.softmax(logits, dim=2).nan_to_num_(0.0).mean(0).cpu().numpy()
            values = values.view(k, len(states)).mean(0)
        else:
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
