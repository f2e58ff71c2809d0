"""Where self-play runs: behind one small interface, in-process by default, Ray actors optionally.

A worker holds the game, the network architecture and the self-play config; the learner sends it
weights and asks for games. The local executor runs one worker in this process; ``RayExecutor``
(in ``qstar.learn.ray_executor``, extra ``qstar[ray]``) runs the same worker as Ray actors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from qstar.core.game import Game
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.resnet import PolicyValueNet, ResNetConfig
from qstar.learn.selfplay import GameRecord, SelfPlayConfig, play_games


@dataclass
class SelfPlayWorker:
    """Plays self-play games with the weights it was last sent. Picklable, so it can live in another process."""
    game: Game
    net_config: ResNetConfig
    config: SelfPlayConfig
    cache_size: int = 100_000
    device: str = "cpu"  # where its network runs (the search itself runs on this process's CPU)

    def __post_init__(self):
        self.net = PolicyValueNet(self.net_config)
        self.net.eval()
        self.evaluator = NetworkEvaluator(self.game, self.net, self.cache_size, device=self.device)

    def set_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(weights)
        self.evaluator.refresh()

    def play(self, n_games: int, seed: int, progress: Callable = lambda n=1, **kw: None) -> list[GameRecord]:
        return play_games(self.game, self.evaluator, self.config, n_games, np.random.default_rng(seed), progress)


class Executor(Protocol):
    def self_play(self, weights: dict[str, torch.Tensor], n_games: int, seed: int,
                  progress: Callable = lambda n=1, **kw: None) -> list[GameRecord]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """One worker in this process: no copies of the network, no inter-process traffic."""

    def __init__(self, worker: SelfPlayWorker):
        self.worker = worker

    def self_play(self, weights, n_games, seed, progress=lambda n=1, **kw: None):
        self.worker.set_weights(weights)
        return self.worker.play(n_games, seed, progress)

    def close(self) -> None:
        pass
