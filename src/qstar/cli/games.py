"""Commands for the board games trained by self-play: train, play, eval, bench, demo (tic-tac-toe, Connect Four)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from qstar.cli.app import (DEVICE_HELP, JSON_HELP, TRAIN_DEVICE_HELP, app, bench_app, eval_app, play_app,
                           torch_device, train_app)
from qstar.cli.output import console, emit_json, print_table
from qstar.core.errors import ConfigError

BOARD_GAMES = ["tictactoe", "connect4"]


def _load_net(game_name: str, model: Optional[Path]):
    """The network given by path, else the shipped one, else a clear error."""
    from importlib import resources

    from qstar.games.registry import get_game
    from qstar.learn.checkpoint import load_model
    entry = get_game(game_name)
    if model is None:
        if not entry.shipped_model:
            raise ConfigError(f"no network ships for {game_name}; train one (qstar train {game_name}) "
                              f"and pass --model RUN_DIR/latest.safetensors")
        model = Path(str(resources.files("qstar") / "models" / entry.shipped_model))
    if model.is_dir():
        model = model / "latest.safetensors"
    return load_model(model, game_name), model


def _threads(n: int) -> None:
    import torch
    if n:
        torch.set_num_threads(n)


EXECUTOR_HELP = "Where self-play runs: local or ray."
WORKERS_HELP = "Ray actors (with --executor ray)."
FINAL_STEPS_HELP = ("After the last iteration, train a fresh network on the final replay buffer for this many steps; "
                    "0 = none. With --resume, adds the stage to a finished run.")
ADDRESS_HELP = "Ray cluster to join (with --executor ray), e.g. auto after `ray start --head`; default: a local Ray."


def make_executor(executor: str, spec, cfg, workers: int, address: Optional[str]):
    """The self-play executor a ``--executor`` option names: None (the loop's in-process worker) or Ray actors."""
    if executor == "local":
        return None
    if executor != "ray":
        raise ConfigError(f"unknown executor {executor!r}; allowed: local, ray")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    import functools

    from qstar.learn.executor import SelfPlayWorker
    from qstar.learn.ray_executor import RayExecutor
    make_worker = functools.partial(SelfPlayWorker, spec.game, spec.net, cfg.selfplay)  # all an actor needs
    return RayExecutor(make_worker, workers, address)


def _make_train(name: str):
    def train(iterations: Optional[int] = typer.Option(None, help="Iterations of self-play + training."),
              games: Optional[int] = typer.Option(None, help="Self-play games per iteration."),
              sims: Optional[int] = typer.Option(None, help="MCTS simulations per self-play move."),
              parallel_games: Optional[int] = typer.Option(None, help="Games played at once (one network batch)."),
              train_steps: Optional[int] = typer.Option(None, help="Optimizer steps per iteration."),
              eval_games: Optional[int] = typer.Option(None, help="Games against the previous net and each baseline."),
              random_openings: Optional[float] = typer.Option(None, help="Share of self-play games that open with "
                                                              "random moves (not kept as training positions)."),
              opening_moves: Optional[int] = typer.Option(None, help="Random opening moves: 1..this many."),
              value_q: Optional[float] = typer.Option(None, help="Weight w of the search's value q in the value "
                                                      "target (1 - w) * z + w * q; 0 = the game's result alone."),
              gating: bool = typer.Option(False, help="Keep the previous net unless the new one wins >= 55%."),
              final_steps: Optional[int] = typer.Option(None, help=FINAL_STEPS_HELP),
              seed: int = typer.Option(0, help="Seed: the same seed gives the same run on CPU."),
              threads: Optional[int] = typer.Option(None, help="Torch threads (default: the game's)."),
              run_dir: Optional[Path] = typer.Option(None, help="Run folder (default runs/GAME)."),
              resume: bool = typer.Option(False, help="Continue the run in --run-dir from its last checkpoint."),
              stop_at_goal: bool = typer.Option(True, help="Stop early once the ground-truth goal is reached."),
              executor: str = typer.Option("local", help=EXECUTOR_HELP),
              workers: int = typer.Option(2, help=WORKERS_HELP),
              address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
              device: str = typer.Option("cpu", help=TRAIN_DEVICE_HELP),
              json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
        from qstar.games.registry import get_game, training_spec, with_overrides
        from qstar.learn.loop import run_loop
        entry = get_game(name)
        cfg = with_overrides(entry.loop, iterations=iterations, games_per_iteration=games, simulations=sims,
                             parallel_games=parallel_games, train_steps=train_steps, eval_games=eval_games,
                             gating=gating or None, seed=seed, threads=threads,
                             random_opening_prob=random_openings, random_opening_moves=opening_moves,
                             value_q_weight=value_q, final_steps=final_steps)
        spec = training_spec(name)
        run_dir = run_dir or Path("runs") / name
        device = torch_device(device)
        ex = make_executor(executor, spec, cfg, workers, address)
        console.print(f"[bold]training {name}[/] into {run_dir} "
                      f"(network: {spec.net.blocks} blocks x {spec.net.channels} channels)")
        last = run_loop(spec, cfg, run_dir, resume=resume, executor=ex, log=console.print,
                        stop_at_goal=stop_at_goal, device=device)
        console.print(f"report: {run_dir / 'summary.md'}  plots: {run_dir / 'plots'}")
        if json_out:
            emit_json({"run_dir": str(run_dir), **last})
    train.__doc__ = f"Train {name} from scratch by self-play (AlphaZero), or --resume a run."
    return train


def _make_play(name: str):
    def play(model: Optional[Path] = typer.Option(None, help="Checkpoint or run folder (default: shipped)."),
             sims: int = typer.Option(200, help="Engine simulations per move."),
             first: str = typer.Option("human", help="Who moves first: human or engine.")):
        import numpy as np

        from qstar.core.errors import IllegalMove
        from qstar.games.registry import get_game
        from qstar.learn.evaluator import NetworkEvaluator
        from qstar.search import MCTSConfig, MCTSPlayer
        if first not in ("human", "engine"):
            raise ConfigError(f"--first must be human or engine, got {first!r}")
        game = get_game(name).make_game()
        net, path = _load_net(name, model)
        engine = MCTSPlayer(game, NetworkEvaluator(game, net), MCTSConfig(num_simulations=sims))
        state = game.initial_state()  # the engine plays its most visited move: no randomness to seed
        human = 0 if first == "human" else 1
        console.print(f"You are {'X' if human == 0 else 'O'}; engine: {path.name}, {sims} simulations. Ctrl-D quits.")
        while not game.is_terminal(state):
            console.print(game.render(state), highlight=False)
            if game.to_play(state) == human:
                legal = " ".join(game.action_to_string(state, a) for a in np.flatnonzero(game.legal_mask(state)))
                try:
                    text = input(f"your move ({legal}): ")
                except EOFError:
                    console.print("bye")
                    return
                try:
                    action = game.string_to_action(state, text)
                except IllegalMove as e:
                    console.print(f"[red]{e}[/]")
                    continue
            else:
                tree = engine.search([state])[0]
                n = tree.visit_counts()
                action = int(n.argmax())
                console.print(f"engine plays {game.action_to_string(state, action)} "
                              f"(value {tree.root_value():+.2f}, {int(n.sum())} visits)")
            state = game.next_state(state, action)
        console.print(game.render(state), highlight=False)
        v = game.terminal_value(state)
        winner = None if v == 0 else (game.to_play(state) if v > 0 else 1 - game.to_play(state))
        console.print("draw" if winner is None else ("you win" if winner == human else "engine wins"))
    play.__doc__ = f"Play {name} against the engine in the terminal."
    return play


def _strength(game, evaluator, sims: int, games: int, opponents: list[str], seed: int) -> dict:
    """Elo with 95% intervals of the network + search against baselines and other checkpoints."""
    import numpy as np

    from qstar.learn.arena import play_match
    from qstar.learn.checkpoint import load_model
    from qstar.learn.evaluator import NetworkEvaluator
    from qstar.search import AlphaBetaPlayer, MCTSConfig, MCTSPlayer, RandomPlayer
    cfg = MCTSConfig(num_simulations=sims)
    me = MCTSPlayer(game, evaluator, cfg, "model")
    rng, out = np.random.default_rng(seed), {}
    for opp in opponents:
        if opp == "random":
            other = RandomPlayer(game)
        elif opp.startswith("alphabeta") and opp[9:].isdigit():
            other = AlphaBetaPlayer(game, int(opp[9:]), getattr(game, "heuristic", None))
        elif Path(opp).exists():
            other = MCTSPlayer(game, NetworkEvaluator(game, load_model(opp, game.name)), cfg, opp)
        else:
            raise ConfigError(f"unknown opponent {opp!r}; allowed: random, alphabetaN (N = depth), or a checkpoint path")
        out[opp] = play_match(game, me, other, games, rng).as_dict()
    return out


def eval_connect4(model: Optional[Path] = typer.Option(None, help="Checkpoint or run folder (default: shipped)."),
                  positions: Optional[list[Path]] = typer.Option(None, help="Position files (Pons' format); "
                                                                 "default: the three bundled sets."),
                  sims: int = typer.Option(800, help="Simulations per move for the search figures."),
                  limit: Optional[int] = typer.Option(None, help="Use the first N positions of each file."),
                  games: int = typer.Option(0, help="Also play this many games against each --opponent (Elo)."),
                  opponents: str = typer.Option("random,alphabeta4", help="Comma-separated: random, alphabetaN, PATH."),
                  threads: int = typer.Option(0, help="Torch threads (0 = default)."),
                  seed: int = typer.Option(0),
                  json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Mistake rate on solved Connect Four positions: the network alone (argmax policy) and with search."""
    import time

    import numpy as np

    from qstar.games.connect4 import Connect4
    from qstar.games.connect4.benchmark import BUNDLED, bundled_path, load_positions, mistake_rate
    from qstar.learn.evaluator import NetworkEvaluator
    from qstar.search import MCTSConfig, MCTSPlayer, PolicyPlayer
    _threads(threads)
    if sims < 1 or (limit is not None and limit < 1):
        raise ConfigError("--sims and --limit must be >= 1")
    game = Connect4()
    net, path = _load_net("connect4", model)
    files = positions or [bundled_path(n) for n in BUNDLED]
    rows, result = [], {"model": str(path), "simulations": sims, "sets": {}}
    for f in files:
        pos = load_positions(f, limit)
        ev = NetworkEvaluator(game, net)
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        pol = mistake_rate(pos, lambda s: PolicyPlayer(ev).select(s, rng))
        mcts = mistake_rate(pos, lambda s: MCTSPlayer(game, ev, MCTSConfig(num_simulations=sims)).select(s, rng))
        name = Path(f).stem
        result["sets"][name] = {"positions": len(pos), "mistake_policy": pol, "mistake_search": mcts,
                                "seconds": round(time.perf_counter() - t0, 1)}
        rows.append([name, len(pos), f"{100 * pol:.1f}%", f"{100 * mcts:.1f}%"])
    print_table(f"Connect Four mistake rate ({path.name}; search = {sims} simulations)",
                ["set", "positions", "network alone", "with search"], rows)
    if games:
        result["elo"] = _strength(game, NetworkEvaluator(game, net), min(sims, 200), games,
                                  [o for o in opponents.split(",") if o], seed)
        print_table("strength (network + search)", ["opponent", "result"], [[k, str(v)] for k, v in result["elo"].items()])
    if json_out:
        emit_json(result)


def eval_tictactoe(model: Path = typer.Option(..., help="Checkpoint or run folder."),
                   sims: int = typer.Option(25, help="Simulations per move for the search figure."),
                   json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Perfect-play check: the network, alone and with search, against every optimal line of perfect minimax."""
    import numpy as np

    from qstar.games.tictactoe import TicTacToe
    from qstar.games.tictactoe.perfect import losses_against_perfect
    from qstar.learn.evaluator import NetworkEvaluator
    from qstar.search import MCTSConfig, MCTSPlayer, PolicyPlayer
    game = TicTacToe()
    net, path = _load_net("tictactoe", model)
    ev, rng = NetworkEvaluator(game, net), np.random.default_rng(0)
    result = {"model": str(path)}
    for label, player in (("policy", PolicyPlayer(ev)), ("search", MCTSPlayer(game, ev, MCTSConfig(num_simulations=sims)))):
        result[label] = losses_against_perfect(lambda s: player.select(s, rng))
    print_table("tic-tac-toe against perfect minimax (every optimal reply)", ["agent", "side", "lines", "losses", "draws", "wins"],
                [[k, side, r["lines"], r["losses"], r["draws"], r["wins"]] for k in ("policy", "search")
                 for side, r in result[k].items()])
    if json_out:
        emit_json(result)


def bench_selfplay(game: str = typer.Option("connect4", help=f"One of: {', '.join(BOARD_GAMES)}."),
                   model: Optional[Path] = typer.Option(None, help="Checkpoint (default: shipped or a fresh net)."),
                   sims: int = typer.Option(64, help="Simulations per move (both paths)."),
                   games: Optional[int] = typer.Option(None, help="Games played at once on the batched path "
                                                       "(default: as the game's self-play plays them, 150 for "
                                                       "Connect Four)."),
                   sequential_games: int = typer.Option(4, help="Games played one at a time on each slow path."),
                   threads: int = typer.Option(1, help="Torch threads for all paths."),
                   repeats: int = typer.Option(1, help="Run the paths in turn this many times; report the round "
                                               "with the median speedup and every round's."),
                   dict_search: bool = typer.Option(True, help="Also time the alpha-zero-general-style search "
                                                    "(recursive, dicts keyed by board bytes)."),
                   device: str = typer.Option("cpu", help=DEVICE_HELP),
                   json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Self-play positions/s: batched MCTS across many games vs one game and one position per network call
    (our search, and a dict-based search written the way most Python AlphaZero projects do)."""
    from dataclasses import replace

    from qstar.games.registry import get_game
    from qstar.learn.bench import bench_selfplay as run
    from qstar.learn.resnet import PolicyValueNet
    _threads(threads)
    entry = get_game(game)
    g = entry.make_game()
    try:
        net, _ = _load_net(game, model)
    except ConfigError:
        net = PolicyValueNet(entry.net(g))
    cfg = replace(entry.loop.selfplay, fast_simulations=0, mcts=replace(entry.loop.selfplay.mcts, num_simulations=sims))
    r = run(g, net, cfg, cfg.parallel_games if games is None else games, sequential_games, dict_search=dict_search,
            device=torch_device(device), repeats=repeats)
    rows = [k for k in ("batched", "sequential", "dict_search") if r[k]]
    print_table(f"self-play speed, {game}, {sims} simulations/move, {r['parameters']:,} parameters, "
                f"{r['torch_threads']} threads, network on {r['device']}", ["path", "positions/s", "mean batch", "time in network", "games"],
                [[k, r[k]["positions_per_second"], r[k]["mean_batch"], f"{100 * r[k]['network_share']:.0f}%", r[k]["games"]]
                 for k in rows])
    vs_dict = f", {r['speedup_vs_dict_search']}x vs dict_search" if r["dict_search"] else ""
    rounds = f" (rounds: {', '.join(f'{x}x' for x in r['speedup_rounds'])})" if r["repeats"] > 1 else ""
    console.print(f"speedup {r['speedup']}x vs sequential{rounds}{vs_dict}, peak memory {r['peak_memory_mb']} MB")
    if json_out:
        emit_json(r)


def demo(run_dir: Path = typer.Option(Path("runs/demo"), help="Where the tic-tac-toe run goes."),
         limit: int = typer.Option(200, help="Connect Four positions per bundled set for the evaluation."),
         sims: int = typer.Option(200, help="Simulations per move for the Connect Four evaluation.")):
    """The main job: tic-tac-toe from scratch to perfect play, then the shipped Connect Four net on solved positions."""
    import shutil
    if (run_dir / "state.json").exists():
        shutil.rmtree(run_dir)
    _make_train("tictactoe")(iterations=None, games=None, sims=None, parallel_games=None, train_steps=None,
                             eval_games=None, random_openings=None, opening_moves=None, value_q=None, gating=False,
                             final_steps=None, seed=0, threads=None, run_dir=run_dir, resume=False,
                             stop_at_goal=True, executor="local", workers=2, address=None, device="cpu",
                             json_out=False)
    eval_tictactoe(model=run_dir, sims=25, json_out=False)
    eval_connect4(model=None, positions=None, sims=sims, limit=limit, games=0, opponents="", threads=0, seed=0,
                  json_out=False)
    console.print(f"[bold]done.[/] tic-tac-toe report: {run_dir / 'summary.md'}, plots in {run_dir / 'plots'}")


for _name in BOARD_GAMES:
    train_app.command(_name)(_make_train(_name))
    play_app.command(_name)(_make_play(_name))
eval_app.command("connect4")(eval_connect4)
eval_app.command("tictactoe")(eval_tictactoe)
bench_app.command("selfplay")(bench_selfplay)
app.command("demo")(demo)
