"""Go's training defaults for the domain-free self-play loop (``qstar.learn.loop``): network shape, loop sizes,
baselines. Nothing here is Go-specific inside search or learning; Go only provides its Game."""

from __future__ import annotations

from qstar.games.go.game import GoConfig, GoGame


def go_training(size: int = 9, komi: float = 7.5, blocks: int | None = None, channels: int | None = None,
                max_moves: int = 0, pass_rule: str = "any"):
    """(TrainingSpec, LoopConfig) sized for a 2-core CPU: 7x7 for quick runs, 9x9 the default.

    ``blocks``/``channels`` override the network shape and ``max_moves`` caps self-play and arena games
    (0: twice the number of points); ``pass_rule`` is ``GoConfig.pass_rule``. They shape the game and the network, not the loop: ``qstar train go``
    keeps them in the run's go.json for ``--resume`` (the loop's own settings are in config.json)."""
    from qstar.learn.loop import LoopConfig, TrainingSpec
    from qstar.learn.resnet import ResNetConfig
    from qstar.learn.selfplay import SelfPlayConfig
    from qstar.search import MCTSConfig, MCTSPlayer, RandomPlayer

    game = GoGame(GoConfig(size=size, komi=komi, max_moves=max_moves, pass_rule=pass_rule))
    c, h, w = game.obs_shape
    small = size <= 7
    net = ResNetConfig(c, h, w, game.num_actions, blocks=blocks or (3 if small else 4),
                       channels=channels or (32 if small else 48))
    loop = LoopConfig(
        iterations=20, games_per_iteration=64 if small else 48, train_steps=200, batch_size=128, lr=2e-3,
        buffer_size=150_000, eval_games=10, eval_simulations=32,
        selfplay=SelfPlayConfig(MCTSConfig(num_simulations=64 if small else 96, dirichlet_alpha=10 / size ** 2,
                                           leaves_per_step=8),
                                parallel_games=32, temperature_moves=size, fast_simulations=16, full_search_prob=0.3))

    def playout_mcts():
        from qstar.games.go.playout import PlayoutEvaluator
        return MCTSPlayer(game, PlayoutEvaluator(game), MCTSConfig(num_simulations=32), name="mcts_playouts32")

    baselines = {"random": lambda: RandomPlayer(game), "mcts_playouts32": playout_mcts}
    return TrainingSpec(game, net, baselines), loop


def go_init(path, spec, run_dir) -> tuple:
    """The network a new Go run starts from (``qstar train go --init``): a Go checkpoint of the run's network
    shape, as it is; or one of the same trunk (input planes, blocks, channels) made for another board size,
    whose convolutions are copied into a fresh network of the run's size (the board-sized linear layers of the
    two heads start fresh) and written to ``run_dir/init.safetensors``. Returns (checkpoint path, what was done)."""
    from pathlib import Path

    import torch

    from qstar.core.errors import ConfigError
    from qstar.learn.checkpoint import load_model, read_metadata, save_model, transplant
    from qstar.learn.resnet import PolicyValueNet
    src = load_model(path)
    game = read_metadata(path).get("game", "")
    if not game.startswith("go"):
        raise ConfigError(f"--init {path} is a {game or 'unknown'} network, not a Go one")
    if src.cfg == spec.net and game == spec.game.name:
        return Path(path), f"initialised from {path}"
    diff = src.cfg.differences(spec.net, ("in_channels", "blocks", "channels", "policy_channels", "value_channels",
                                          "value_hidden"))
    if diff:
        raise ConfigError(f"--init {path} does not fit this run's network: {diff}; see --blocks/--channels")
    torch.manual_seed(0)
    net = PolicyValueNet(spec.net)
    fresh = transplant(src, net)
    out = save_model(Path(run_dir) / "init.safetensors", net, spec.game.name, {"transplanted_from": str(path)})
    return out, (f"initialised from {path} ({game}): its convolutions copied, {len(fresh)} board-sized tensors "
                 f"fresh ({', '.join(fresh)})")
