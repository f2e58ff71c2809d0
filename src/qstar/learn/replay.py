"""Replay buffer: the last ``capacity`` positions (with their symmetric copies), saved atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qstar.core.atomic import atomic_write
from qstar.core.errors import CheckpointError


class ReplayBuffer:
    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, capacity: int):
        self.obs = np.zeros((capacity, *obs_shape), np.float32)
        self.pi = np.zeros((capacity, num_actions), np.float32)
        self.z = np.zeros(capacity, np.float32)
        self.capacity = capacity
        self.count = 0  # positions ever added
        self.size = 0

    def add(self, obs: np.ndarray, pi: np.ndarray, z: np.ndarray) -> None:
        for o, p, v in zip(obs, pi, z):
            i = self.count % self.capacity
            self.obs[i], self.pi[i], self.z[i] = o, p, v
            self.count += 1
        self.size = min(self.count, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = rng.integers(0, self.size, size=batch_size)
        return self.obs[idx], self.pi[idx], self.z[idx]

    def save(self, path: str | Path) -> None:
        n = self.size

        def write(p: Path) -> None:
            with open(p, "wb") as f:
                np.savez(f, obs=self.obs[:n], pi=self.pi[:n], z=self.z[:n], count=np.array(self.count))

        atomic_write(path, write)

    def load(self, path: str | Path) -> None:
        with np.load(path) as d:
            if d["obs"].shape[1:] != self.obs.shape[1:]:
                raise CheckpointError(f"{path} holds positions encoded as {d['obs'].shape[1:]}, but the game now "
                                      f"encodes {self.obs.shape[1:]}: the run was made by an older qstar")
            n = len(d["z"])
            self.obs[:n], self.pi[:n], self.z[:n] = d["obs"], d["pi"], d["z"]
            self.count = int(d["count"])
            self.size = n
