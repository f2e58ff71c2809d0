"""Self-play speed: batched search across many games versus one game at a time, one position per
network call (the way most Python AlphaZero projects do it), measured in the same run."""

from __future__ import annotations

import resource
import time
from dataclasses import replace

import numpy as np
import torch

from qstar.core.game import Game
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.selfplay import SelfPlayConfig, play_games


def _run(game: Game, net, cfg: SelfPlayConfig, n_games: int, seed: int, cache: bool) -> dict:
    ev = NetworkEvaluator(game, net, cache_size=100_000 if cache else 0)
    t0 = time.perf_counter()
    recs = play_games(game, ev, cfg, n_games, np.random.default_rng(seed))
    wall = time.perf_counter() - t0
    moves = sum(r.length for r in recs)
    return {"games": len(recs), "positions": moves, "seconds": round(wall, 3),
            "positions_per_second": round(moves / wall, 2), "network_calls": ev.calls,
            "network_positions": ev.positions, "mean_batch": round(ev.positions / max(ev.calls, 1), 1),
            "network_share": round(ev.net_seconds / wall, 3), "cache_hits": ev.cache_hits}


def bench_selfplay(game: Game, net: torch.nn.Module, cfg: SelfPlayConfig, batched_games: int = 64,
                   sequential_games: int = 2, seed: int = 0) -> dict:
    """Both paths play full self-play games with the same network and simulations per move.

    - batched: ``batched_games`` games at once, ``leaves_per_step`` leaves per tree, one network call
      for all of them, with the evaluation cache;
    - sequential: one game at a time, one leaf per network call, no cache.
    """
    net.eval()
    seq_cfg = replace(cfg, parallel_games=1, mcts=replace(cfg.mcts, leaves_per_step=1))
    bat_cfg = replace(cfg, parallel_games=batched_games)
    sequential = _run(game, net, seq_cfg, sequential_games, seed, cache=False)
    batched = _run(game, net, bat_cfg, batched_games, seed, cache=True)
    return {"game": game.name, "simulations": cfg.mcts.num_simulations,
            "parameters": sum(p.numel() for p in net.parameters()), "torch_threads": torch.get_num_threads(),
            "batched": batched, "sequential": sequential,
            "speedup": round(batched["positions_per_second"] / sequential["positions_per_second"], 2),
            "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
