"""Self-play speed: batched search across many games versus one game at a time, one position per
network call, measured in the same run with the same network and simulations per move.

Two baselines:

- ``sequential``: our own search (same code, same tree reuse and noise), one game and one leaf per
  network call: the strict comparison, only batching differs;
- ``dict_search``: the search the way most Python AlphaZero projects write it, after alpha-zero-general's
  description: recursive, statistics in dicts keyed by the board's bytes, one position per network call to
  the PyTorch module as it is (eager, BatchNorm unfolded), written here from that description. It keeps its
  dicts for the whole game, as alpha-zero-general does, so transpositions share statistics.

Both our paths use the same evaluator (BatchNorm folded, channels-last tensors); the batched path also
caches evaluations by position.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from qstar.core.errors import check
from qstar.core.evaluator import Evaluator
from qstar.core.game import Game
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.selfplay import SelfPlayConfig, play_games
from qstar.search import choose_action


class DictMCTS:
    """Recursive PUCT with dicts keyed by the board's bytes (``game.encode`` of the position, from the side
    to move): Q and N per (board, action), N, priors, legal moves and result per board; one position per
    evaluator call. No virtual loss, no batching, no noise; c_puct constant, as in alpha-zero-general."""

    def __init__(self, game: Game, evaluator: Evaluator, c_puct: float):
        self.game, self.evaluator, self.c_puct = game, evaluator, c_puct
        self.Qsa: dict = {}
        self.Nsa: dict = {}
        self.Ns: dict = {}
        self.Ps: dict = {}
        self.Vs: dict = {}  # legal moves
        self.Es: dict = {}  # result by the rules, None while the game goes on

    def visits(self, state: Any, simulations: int) -> np.ndarray:
        """[num_actions] root visit counts after ``simulations`` more searches from ``state``."""
        for _ in range(simulations):
            self.search(state)
        s = self.game.encode([state]).tobytes()
        return np.array([self.Nsa.get((s, a), 0) for a in range(self.game.num_actions)], np.float64)

    def search(self, state: Any) -> float:
        """One simulation; returns the value for the player to move at ``state``."""
        game = self.game
        s = game.encode([state]).tobytes()
        if s not in self.Es:
            self.Es[s] = game.terminal_value(state) if game.is_terminal(state) else None
        if self.Es[s] is not None:
            return self.Es[s]
        if s not in self.Ps:  # leaf: one position, one network call
            ev = self.evaluator([state])
            legal = game.legal_mask(state)
            p = ev.priors[0] * legal
            self.Ps[s] = p / p.sum() if p.sum() > 0 else legal / legal.sum()
            self.Vs[s], self.Ns[s] = legal, 0
            return float(ev.values[0])
        legal, prior, sqrt_n = self.Vs[s], self.Ps[s], math.sqrt(self.Ns[s])
        best, best_a = -math.inf, -1
        for a in range(game.num_actions):
            if legal[a]:
                if (s, a) in self.Qsa:
                    u = self.Qsa[(s, a)] + self.c_puct * prior[a] * sqrt_n / (1 + self.Nsa[(s, a)])
                else:
                    u = self.c_puct * prior[a] * math.sqrt(self.Ns[s] + 1e-8)
                if u > best:
                    best, best_a = u, a
        a = best_a
        child = game.next_state(state, a)
        v = self.search(child)
        if game.to_play(child) != game.to_play(state):
            v = -v
        if (s, a) in self.Qsa:
            self.Qsa[(s, a)] = (self.Nsa[(s, a)] * self.Qsa[(s, a)] + v) / (self.Nsa[(s, a)] + 1)
            self.Nsa[(s, a)] += 1
        else:
            self.Qsa[(s, a)], self.Nsa[(s, a)] = v, 1
        self.Ns[s] += 1
        return v


def _dict_search_games(game: Game, evaluator: Evaluator, cfg: SelfPlayConfig, n_games: int,
                       rng: np.random.Generator) -> int:
    """Self-play with ``DictMCTS``, one game after another; returns the number of moves played."""
    moves = 0
    for _ in range(n_games):
        mcts = DictMCTS(game, evaluator, cfg.mcts.c_puct_init)
        state, ply = game.initial_state(), 0
        while not game.is_terminal(state):
            visits = mcts.visits(state, cfg.mcts.num_simulations)
            a = choose_action(visits, 1.0 if ply < cfg.temperature_moves else 0.0, rng)
            state, ply = game.next_state(state, a), ply + 1
        moves += ply
    return moves


def _run(game: Game, net, cfg: SelfPlayConfig, n_games: int, seed: int, cache: bool, dict_search: bool = False,
         device: str = "cpu") -> dict:
    ev = NetworkEvaluator(game, net, cache_size=100_000 if cache else 0, optimize=not dict_search, device=device)
    for batch in (1, 8):  # warm up (CUDA context, kernel choice), then count from zero
        ev.forward([game.initial_state()] * batch)
    ev.net_seconds, ev.calls, ev.positions = 0.0, 0, 0
    rng = np.random.default_rng(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    if dict_search:
        moves, games = _dict_search_games(game, ev, cfg, n_games, rng), n_games
    else:
        recs = play_games(game, ev, cfg, n_games, rng)
        moves, games = sum(r.length for r in recs), len(recs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"games": games, "positions": moves, "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "positions_per_second": round(moves / wall, 2), "network_calls": ev.calls,
            "network_positions": ev.positions, "mean_batch": round(ev.positions / max(ev.calls, 1), 1),
            "network_share": round(ev.net_seconds / wall, 3), "cache_hits": ev.cache_hits}


def bench_selfplay(game: Game, net: torch.nn.Module, cfg: SelfPlayConfig, batched_games: int = 64,
                   sequential_games: int = 2, seed: int = 0, dict_search: bool = True, device: str = "cpu",
                   repeats: int = 1) -> dict:
    """All paths play full self-play games with the same network and simulations per move, every move searched
    (``cfg``'s playout-cap fast moves and random openings are turned off).

    - batched: ``batched_games`` games at once, ``leaves_per_step`` leaves per tree, one network call
      for all of them, with the evaluation cache;
    - sequential: one game at a time, one leaf per network call, no cache (our search otherwise);
    - dict_search (if asked): ``DictMCTS``, one game at a time, one position per call of the eager module.

    ``network_share`` is the share of each path's wall time spent inside the network's forward pass
    (on ``device``, results copied back included).

    With ``repeats`` > 1 the paths run in turn that many times (the same games each time), so a noisy machine
    slows every path alike; the rows are those of the round with the median speedup, and ``speedup_rounds``
    lists every round's.
    """
    check(repeats >= 1, f"--repeats must be >= 1, got {repeats}")
    check(batched_games >= 1, f"--games must be >= 1, got {batched_games}")
    net.eval()
    # every move searched on every path: no playout-cap fast moves, no unsearched random openings (they would
    # count as positions without a search, and differently on each path, which plays its own games)
    cfg = replace(cfg, fast_simulations=0, random_opening_prob=0.0, random_opening_moves=0)
    seq_cfg = replace(cfg, parallel_games=1, mcts=replace(cfg.mcts, leaves_per_step=1))
    bat_cfg = replace(cfg, parallel_games=batched_games)
    rounds = []
    for _ in range(repeats):
        sequential = _run(game, net, seq_cfg, sequential_games, seed, cache=False, device=device)
        dict_row = (_run(game, net, cfg, sequential_games, seed, cache=False, dict_search=True, device=device)
                    if dict_search else None)
        batched = _run(game, net, bat_cfg, batched_games, seed, cache=True, device=device)
        pps = batched["positions_per_second"]
        rounds.append({"batched": batched, "sequential": sequential, "dict_search": dict_row,
                       "speedup": round(pps / sequential["positions_per_second"], 2),
                       **({"speedup_vs_dict_search": round(pps / dict_row["positions_per_second"], 2)}
                          if dict_row else {})})
    median = sorted(rounds, key=lambda r: r["speedup"])[len(rounds) // 2]
    out = {"game": game.name, "simulations": cfg.mcts.num_simulations, "device": device,
           "parameters": sum(p.numel() for p in net.parameters()), "torch_threads": torch.get_num_threads(),
           **median, "repeats": repeats, "speedup_rounds": [r["speedup"] for r in rounds],
           "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if dict_search:
        out["speedup_vs_dict_search_rounds"] = [r["speedup_vs_dict_search"] for r in rounds]
    return out
