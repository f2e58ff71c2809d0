"""The games qstar trains, each as a TrainingSpec factory with its defaults: network size, loop config,
baselines and ground-truth checks. The CLI looks games up here; search and learning never import this."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from qstar.core.errors import ConfigError
from qstar.core.evaluator import Evaluator
from qstar.core.game import Game
from qstar.learn.loop import LoopConfig, TrainingSpec
from qstar.learn.resnet import ResNetConfig
from qstar.learn.selfplay import SelfPlayConfig
from qstar.search import AlphaBetaPlayer, MCTSConfig, MCTSPlayer, PolicyPlayer, RandomPlayer


@dataclass(frozen=True)
class GameEntry:
    make_game: Callable[[], Game]
    net: Callable[[Game], ResNetConfig]
    loop: LoopConfig
    baselines: Callable[[Game], dict]
    ground_truth: Callable[[Game], Callable[[Evaluator, MCTSConfig], dict]] | None = None
    shipped_model: str | None = None  # file name under qstar/models/
    goal: Callable[[dict], bool] | None = None
    final_net: Callable[[Game], ResNetConfig] | None = None  # the shape of LoopConfig.final_steps' fresh network


def _net(blocks: int, channels: int, planes: int | None = None):
    """A ResNet shape for a game; ``planes``: read only the first planes of the game's encoding."""
    def make(game: Game) -> ResNetConfig:
        c, h, w = game.obs_shape
        return ResNetConfig(planes or c, h, w, game.num_actions, blocks=blocks, channels=channels)
    return make


def _select_fn(player, seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda states: player.select(states, rng)


def _ttt_truth(game: Game):
    from qstar.games.tictactoe.perfect import losses_against_perfect

    def check(evaluator: Evaluator, mcts: MCTSConfig) -> dict:
        out = {}
        for label, player in (("policy", PolicyPlayer(evaluator)), ("mcts", MCTSPlayer(game, evaluator, mcts))):
            r = losses_against_perfect(_select_fn(player))
            out[f"losses_vs_perfect_{label}"] = r["X"]["losses"] + r["O"]["losses"]
        return out
    return check


def _c4_truth(game: Game, search_positions: int = 200):
    from qstar.games.connect4.benchmark import BUNDLED, bundled_path, load_positions, mistake_rate
    sets = {name: load_positions(bundled_path(name)) for name in BUNDLED}

    def check(evaluator: Evaluator, mcts: MCTSConfig) -> dict:
        out = {}
        for name, pos in sets.items():
            out[f"mistake_policy_{name}"] = mistake_rate(pos, _select_fn(PolicyPlayer(evaluator)))
            out[f"mistake_mcts_{name}"] = mistake_rate(pos[:search_positions],
                                                       _select_fn(MCTSPlayer(game, evaluator, mcts)))
        return out
    return check


def _ttt():
    from qstar.games.tictactoe import TicTacToe
    return TicTacToe()


def _c4():
    from qstar.games.connect4 import Connect4
    return Connect4()


GAMES: dict[str, GameEntry] = {
    "tictactoe": GameEntry(
        make_game=_ttt, net=_net(2, 32),
        loop=LoopConfig(iterations=8, games_per_iteration=100, train_steps=150, batch_size=128, lr=3e-3,
                        buffer_size=40_000, eval_games=20, eval_simulations=25, threads=1,
                        selfplay=SelfPlayConfig(MCTSConfig(num_simulations=40, dirichlet_alpha=1.0, leaves_per_step=4),
                                                parallel_games=100, temperature_moves=4)),
        baselines=lambda g: {"random": lambda: RandomPlayer(g)},
        ground_truth=_ttt_truth,
        goal=lambda m: m.get("losses_vs_perfect_policy") == 0 and m.get("losses_vs_perfect_mcts") == 0),
    "connect4": GameEntry(
        # the loop's network reads the stones only (v3's recipe); the final one also the colour plane
        make_game=_c4, net=_net(4, 48, planes=2), final_net=_net(4, 48),
        loop=LoopConfig(iterations=40, games_per_iteration=1000, train_steps=300, batch_size=256, lr=2e-3,
                        lr_schedule=((20, 6e-4), (32, 2e-4)), final_steps=12_000,
                        buffer_size=250_000, eval_games=20, eval_simulations=64, threads=1,
                        selfplay=SelfPlayConfig(MCTSConfig(num_simulations=128, dirichlet_alpha=1.0, leaves_per_step=8),
                                                parallel_games=150, temperature_moves=10,
                                                fast_simulations=24, full_search_prob=0.25,
                                                random_opening_prob=0.75, random_opening_moves=24,
                                                value_q_weight=0.75)),
        baselines=lambda g: {"random": lambda: RandomPlayer(g),
                             "alphabeta3": lambda: AlphaBetaPlayer(g, 3, g.heuristic)},
        ground_truth=_c4_truth,
        shipped_model="connect4.safetensors"),
}


def get_game(name: str) -> GameEntry:
    if name not in GAMES:
        raise ConfigError(f"unknown game {name!r}; available: {', '.join(GAMES)}")
    return GAMES[name]


def training_spec(name: str) -> TrainingSpec:
    e = get_game(name)
    game = e.make_game()
    return TrainingSpec(game, e.net(game), e.baselines(game), e.ground_truth(game) if e.ground_truth else None,
                        e.goal, e.final_net(game) if e.final_net else None)


def with_overrides(cfg: LoopConfig, **kw) -> LoopConfig:
    """Loop config with CLI overrides (None = keep); `simulations` and the self-play fields (`parallel_games`,
    `random_opening_prob`, `random_opening_moves`, `value_q_weight`) reach into self-play."""
    sims = kw.pop("simulations", None)
    sp = cfg.selfplay
    if sims is not None:
        sp = replace(sp, mcts=replace(sp.mcts, num_simulations=sims),
                     fast_simulations=min(sp.fast_simulations, sims))
    sp_kw = {k: kw.pop(k) for k in ("parallel_games", "random_opening_prob", "random_opening_moves", "value_q_weight")
             if k in kw}
    sp = replace(sp, **{k: v for k, v in sp_kw.items() if v is not None})
    return replace(cfg, selfplay=sp, **{k: v for k, v in kw.items() if v is not None})
