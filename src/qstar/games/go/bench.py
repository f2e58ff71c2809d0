"""Speed benchmark: random legal playouts per second on 9x9, qstar's rules against PettingZoo's go_v5
(a well-known pure-Python implementation, minigo's rules) measured in the same run.

The two random players differ the way each library is meant to be used: qstar's never fills its own single-point
eyes and passes only when nothing else is legal (games of ~110 moves); PettingZoo's samples uniformly from its
action mask, pass included. Moves per second are reported beside playouts per second so the comparison does not
depend on game length. PettingZoo is a benchmark-only dependency: without it the comparison is skipped.
"""

from __future__ import annotations

import os
import platform
import random
import time

from qstar.games.go.playout import random_playout
from qstar.games.go.rules import Position


def bench_qstar(size: int = 9, seconds: float = 5.0, seed: int = 0) -> dict:
    rng = random.Random(seed)
    games = moves = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        final = random_playout(Position(size), rng)
        games += 1
        moves += final.move_number
    dt = time.perf_counter() - start
    return {"playouts_per_s": games / dt, "moves_per_s": moves / dt, "games": games, "mean_moves": moves / games}


def bench_pettingzoo(size: int = 9, seconds: float = 5.0, seed: int = 0) -> dict | None:
    """None when pettingzoo (and its pygame dependency) is not installed."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # its old creation API, still the documented one
            from pettingzoo.classic import go_v5
    except ImportError:
        return None
    import numpy as np
    env = go_v5.env(board_size=size, komi=7.5)
    rng = np.random.default_rng(seed)
    games = moves = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.reset(seed=seed + games)
        for _agent in env.agent_iter():
            obs, _reward, terminated, truncated, _info = env.last()
            action = None
            if not (terminated or truncated):
                action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
                moves += 1
            env.step(action)
        games += 1
    dt = time.perf_counter() - start
    env.close()
    return {"playouts_per_s": games / dt, "moves_per_s": moves / dt, "games": games, "mean_moves": moves / games}


def run_bench(size: int = 9, seconds: float = 5.0, seed: int = 0, rounds: int = 5) -> dict:
    """Both implementations in alternating slices of ``seconds / rounds`` each, so a busy machine slows both alike."""
    totals: dict[str, list] = {"qstar": [], "pettingzoo": []}
    for r in range(rounds):
        totals["qstar"].append(bench_qstar(size, seconds / rounds, seed + r))
        theirs = bench_pettingzoo(size, seconds / rounds, seed + r)
        if theirs is not None:
            totals["pettingzoo"].append(theirs)
    ours = _combine(totals["qstar"], seconds)
    theirs = _combine(totals["pettingzoo"], seconds) if totals["pettingzoo"] else None
    out = {"size": size, "seconds_each": seconds, "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
           "cpus": os.cpu_count(), "python": platform.python_version(), "qstar": ours, "pettingzoo": theirs}
    if theirs is not None:
        out["speedup_playouts"] = ours["playouts_per_s"] / theirs["playouts_per_s"]
        out["speedup_moves"] = ours["moves_per_s"] / theirs["moves_per_s"]
    return out


def _combine(parts: list[dict], seconds: float) -> dict:
    games = sum(p["games"] for p in parts)
    moves = sum(p["mean_moves"] * p["games"] for p in parts)
    dt = sum(p["games"] / p["playouts_per_s"] for p in parts)
    return {"playouts_per_s": games / dt, "moves_per_s": moves / dt, "games": games, "mean_moves": moves / games}
