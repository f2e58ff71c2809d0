"""Self-play: many games at once, one batched search step for all of them, positions with search targets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qstar.core.collector import frozen_heap
from qstar.core.errors import check
from qstar.core.evaluator import Evaluator
from qstar.core.game import Game, random_action
from qstar.search import Forest, MCTSConfig, Tree, choose_action, run_mcts


@dataclass(frozen=True)
class SelfPlayConfig:
    mcts: MCTSConfig = field(default_factory=MCTSConfig)
    parallel_games: int = 64  # games played at once; their leaves share one network batch
    temperature_moves: int = 8  # moves sampled ∝ visits (T = 1) at the start; argmax after
    fast_simulations: int = 0  # playout cap randomization (KataGo): 0 = off
    full_search_prob: float = 0.25  # share of moves searched fully and kept as policy targets when on
    reuse_tree: bool = True
    # random openings: with this probability a game first plays 1..random_opening_moves uniformly random legal
    # moves (never one that ends the game), not searched and not kept as training positions; the rest of the game
    # is self-play as usual, so the result still teaches the value of the positions that follow
    random_opening_prob: float = 0.0
    random_opening_moves: int = 0
    # value target = (1 - w) * z + w * q: the game's result z mixed with the search's own value q of the position
    # (the root's mean value after its search), as the Oracle team's Connect Four work found better than z alone
    value_q_weight: float = 0.0

    def __post_init__(self):
        check(self.parallel_games >= 1, f"parallel_games must be >= 1, got {self.parallel_games}")
        check(0 <= self.fast_simulations <= self.mcts.num_simulations,
              "fast_simulations must be in [0, num_simulations]")
        check(0.0 < self.full_search_prob <= 1.0, "full_search_prob must be in (0, 1]")
        check(0.0 <= self.random_opening_prob <= 1.0, "random_opening_prob (--random-openings) must be in [0, 1]")
        check(self.random_opening_moves >= 0, "random_opening_moves must be >= 0")
        check(self.random_opening_prob == 0 or self.random_opening_moves >= 1,
              "random openings need random_opening_moves >= 1 (--opening-moves)")
        check(0.0 <= self.value_q_weight <= 1.0, "value_q_weight (--value-q) must be in [0, 1]")


@dataclass
class GameRecord:
    """One finished game: per kept position, the input planes, the search policy and the result."""
    obs: np.ndarray  # [T, *obs_shape]
    pi: np.ndarray  # [T, num_actions]
    z: np.ndarray  # [T] final result for the player to move at each position
    moves: list[int]
    result: float  # for the first player: +1 win, 0 draw, -1 loss
    length: int
    opening: int = 0  # how many of ``moves`` were random opening moves
    q: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # [T] search value for the player to move


def play_games(game: Game, evaluator: Evaluator, cfg: SelfPlayConfig, n_games: int,
               rng: np.random.Generator, progress=lambda n=1, **kw: None) -> list[GameRecord]:
    """Play ``n_games`` of self-play, ``cfg.parallel_games`` at a time.

    All trees live in one forest, so the search selects across the games with array operations; the
    forest is compacted whenever it is half full (only the subtrees under the live games' roots stay)."""
    records: list[GameRecord] = []
    started = 0
    live: list[dict] = []
    forest = Forest(game, capacity=max(256, 2 * min(cfg.parallel_games, n_games) * (cfg.mcts.num_simulations + 1)))

    def start() -> dict:
        nonlocal started
        started += 1
        state, moves = random_opening(game, cfg, rng)
        return {"tree": Tree(game, state, forest=forest), "states": [], "pis": [], "players": [], "qs": [],
                "moves": moves, "opening": len(moves)}

    while len(live) < min(cfg.parallel_games, n_games):
        live.append(start())
    with frozen_heap():
        while live:
            pcr = cfg.fast_simulations > 0
            full = [(not pcr) or rng.random() < cfg.full_search_prob for _ in live]
            sims = [cfg.mcts.num_simulations if f else cfg.fast_simulations for f in full]
            run_mcts([g["tree"] for g in live], evaluator, cfg.mcts, rng, add_noise=True, num_simulations=sims)
            still = []
            for g, f in zip(live, full):
                tree: Tree = g["tree"]
                state = tree.root_state
                visits = tree.visit_counts()
                if f:
                    g["states"].append(state)
                    g["pis"].append(visits / visits.sum())
                    g["players"].append(game.to_play(state))
                    g["qs"].append(tree.root_value())
                temp = 1.0 if len(g["moves"]) < cfg.temperature_moves else 0.0
                a = choose_action(visits, temp, rng)
                g["moves"].append(a)
                if cfg.reuse_tree:
                    tree.advance(a)
                else:
                    g["tree"] = tree = Tree(game, game.next_state(state, a), forest=forest)
                final = tree.root_state
                if game.is_terminal(final):
                    records.append(_finish(game, g, final))
                    progress(1)
                    if started < n_games:
                        still.append(start())
                else:
                    still.append(g)
            live = still
            if forest.size > forest.capacity // 2:
                forest.compact([g["tree"] for g in live])
    return records


def random_opening(game: Game, cfg: SelfPlayConfig, rng: np.random.Generator):
    """The start of one game: the initial state, or (with ``random_opening_prob``) the state after 1..k uniformly
    random legal moves that do not end the game. Returns (state, moves)."""
    state, moves = game.initial_state(), []
    if cfg.random_opening_moves and rng.random() < cfg.random_opening_prob:
        for _ in range(int(rng.integers(1, cfg.random_opening_moves + 1))):
            a = random_action(game, state, rng)
            nxt = game.next_state(state, a)
            if game.is_terminal(nxt):
                break
            state = nxt
            moves.append(a)
    return state, moves


def _finish(game: Game, g: dict, final) -> GameRecord:
    v = game.terminal_value(final)
    last = game.to_play(final)
    players = np.array(g["players"])
    z = np.where(players == last, v, -v).astype(np.float32)
    result = v if last == 0 else -v
    obs = game.encode(g["states"]) if g["states"] else np.zeros((0, *game.obs_shape), np.float32)
    pi = np.array(g["pis"], np.float32).reshape(len(g["pis"]), game.num_actions)
    return GameRecord(obs, pi, z, g["moves"], float(result), len(g["moves"]), g["opening"],
                      np.array(g["qs"], np.float32))


def augment(game: Game, rec: GameRecord, q_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All symmetric copies of a record's positions, with value targets (1 - q_weight) * z + q_weight * q."""
    target = rec.z if q_weight == 0.0 else ((1.0 - q_weight) * rec.z + q_weight * rec.q).astype(np.float32)
    obs, pis, zs = [], [], []
    for o, p, z in zip(rec.obs, rec.pi, target):
        for so, sp in game.symmetries(o, p):
            obs.append(so)
            pis.append(sp)
            zs.append(z)
    shape = (0, *game.obs_shape)
    return (np.array(obs, np.float32).reshape(-1, *shape[1:]), np.array(pis, np.float32).reshape(-1, game.num_actions),
            np.array(zs, np.float32))
