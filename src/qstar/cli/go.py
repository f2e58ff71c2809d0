"""Go commands: ``qstar gtp``, ``qstar match``, ``qstar train go``, ``qstar eval go``, ``qstar bench go``.
Heavy imports (torch, the search) happen inside the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from qstar.cli.app import JSON_HELP, TRAIN_DEVICE_HELP, app, bench_app, eval_app, torch_device, train_app
from qstar.cli.games import ADDRESS_HELP, EXECUTOR_HELP, FINAL_STEPS_HELP, WORKERS_HELP
from qstar.core.errors import ConfigError


def _search_config(sims: int, seconds: float, resign: float, seed: int, pass_rule: str = "any", reuse: bool = True,
                   symmetries: int = 1):
    from qstar.games.go.player import SearchConfig
    return SearchConfig(simulations=sims, seconds=seconds, resign_threshold=resign, seed=seed, pass_rule=pass_rule,
                        reuse_tree=reuse, symmetries=symmetries)


PASS_HELP = ("any: the engine may pass at any time; settled: only when every legal point fills its own eye; auto: "
             "the rule its network was trained under (from the checkpoint; any without one).")


RESIGN_HELP = "Resign when the search value for the engine falls below this; -1 never."
SYMMETRIES = 8  # the engine's default: measured stronger than 4x the simulations in less time (docs/go.md)
SYMMETRIES_HELP = ("Evaluate every position in this many of the board's 8 rotations and reflections (one batch) and "
                   "average the network's answers: steadier priors and values for about 3x the time a move at 8; "
                   "1: the network as it is. The engine without a network ignores it.")
REUSE_HELP = ("Keep what the last search found below the present position and add this move's simulations to it "
              "(as self-play does); --fresh-tree: every move searches from nothing.")

MODEL_HELP = ("Network checkpoint (.safetensors) trained for Go on this board size. Default: the network shipped "
              "for the board size (go9.safetensors on 9x9, go7.safetensors on 7x7), else MCTS with random playouts; "
              "'none': always playouts.")


@app.command("gtp")
def gtp(model: Optional[str] = typer.Option(None, help=MODEL_HELP),
        size: int = typer.Option(9, help="Board size 5..19 (a network fixes it)."),
        komi: float = typer.Option(7.5, help="Komi under area scoring."),
        sims: int = typer.Option(200, help="MCTS simulations per move."),
        time: float = typer.Option(0.0, "--time", help="Seconds per move instead of --sims (GTP time_left overrides)."),
        resign: float = typer.Option(-0.9, help=RESIGN_HELP),
        reuse: bool = typer.Option(True, "--reuse-tree/--fresh-tree", help=REUSE_HELP),
        symmetries: int = typer.Option(SYMMETRIES, help=SYMMETRIES_HELP),
        seed: int = typer.Option(0, help="Seed of the playout evaluator."),
        pass_rule: str = typer.Option("auto", help=PASS_HELP)):
    """Speak GTP version 2 on stdin/stdout (for GoGui, Sabaki, GNU Go's referee, `qstar match`)."""
    from qstar.games.go.gtp import GtpEngine
    from qstar.games.go.player import NO_MODEL, make_mover, resolve_model
    from qstar.games.go.rules import check_size
    check_size(size)
    cfg = _search_config(sims, time, resign, seed, pass_rule, reuse, symmetries)
    if model is None or model.lower() == NO_MODEL:  # the shipped net where one exists for the size, else playouts
        engine = GtpEngine(lambda s, k: make_mover(s, k, cfg, resolve_model(model, s)), size=size, komi=komi)
    else:  # a given network fixes the board size
        engine = GtpEngine(lambda s, k: make_mover(s, k, cfg, model), size=size, komi=komi, fixed_size=True)
    print(f"qstar gtp: {engine.mover.name}, {'%g s' % time if time else '%d sims' % sims} per move, "
          f"{size}x{size} komi {komi:g}, passes: {engine.mover.game.config.pass_rule}", file=sys.stderr)
    engine.serve(sys.stdin, sys.stdout)


OPENINGS_HELP = ("Random moves that open every game, the same for both games of a pair (colours swapped), so that "
                 "deterministic engines play different games; 0 = none.")


def _run_match(black: str, white: str, games: int, size: int, komi: float, out: Path | None, timeout: float,
               scorer: str, as_json: bool, title: str, openings: int, seed: int) -> dict:
    from qstar.cli.output import emit_json, print_table
    from qstar.core.progress import progress_bar
    from qstar.games.go.match import MatchConfig, play_match
    cfg = MatchConfig(games=games, size=size, komi=komi, move_timeout=timeout, scorer=scorer, out_dir=out,
                      openings=openings, seed=seed)
    with progress_bar(title, games, "games") as bar:
        report = play_match(black, white, cfg, bar)
    d = report.as_dict()
    r = report.result
    lo, hi = r.score_interval()
    elo_lo, elo_hi = r.elo_interval()
    print_table(title, ["A", "B", "A score", "95% CI", "Elo (A - B)", "95% CI", "scored by"],
                [[d["a"], d["b"], f"+{r.wins} ={r.draws} -{r.losses} ({r.score:.3f})", f"[{lo:.3f}, {hi:.3f}]",
                  f"{r.elo():+.0f}", f"[{elo_lo:+.0f}, {elo_hi:+.0f}]", report.scorer]])
    print(f"seconds per move: A {d['a_seconds_per_move']}, B {d['b_seconds_per_move']}; "
          f"{d['mean_moves']} moves per game; {d['distinct_games']} distinct games of {games} "
          f"({openings} random opening moves)")
    for f in d["forfeits"]:
        print(f"forfeit: {f}", file=sys.stderr)
    if out is not None:
        print(f"SGF: {out}/game-001.sgf ... game-{games:03d}.sgf")
    if as_json:
        emit_json(d)
    return d


@app.command("match")
def match(a: str = typer.Argument(..., help="Player A: a GTP command line ('gnugo --mode gtp --level 10'), 'qstar', "
                                            "'qstar gtp --sims 400', or a Go checkpoint path."),
          b: str = typer.Argument(..., help="Player B, as A."),
          games: int = typer.Option(10, help="Games; A plays Black in games 1, 3, 5 ..."),
          size: int = typer.Option(9), komi: float = typer.Option(7.5),
          out: Optional[Path] = typer.Option(Path("runs/match"), help="Folder for one SGF per game."),
          timeout: float = typer.Option(60.0, help="Seconds per answer before an engine loses the game."),
          scorer: str = typer.Option("auto", help="area (every stone alive), gnugo (GNU Go removes dead stones), auto."),
          openings: int = typer.Option(2, help=OPENINGS_HELP),
          seed: int = typer.Option(0, help="Seed of the random openings."),
          json_: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Play A against B with alternating colours; print A's win rate with a 95% interval and the Elo difference."""
    _run_match(a, b, games, size, komi, out, timeout, scorer, json_, f"match {size}x{size}", openings, seed)


@eval_app.command("go")
def eval_go(opponent: str = typer.Option("gnugo --mode gtp --level 1", help="GTP command line of the opponent."),
            model: Optional[str] = typer.Option(None, help=MODEL_HELP),
            games: int = typer.Option(50), size: int = typer.Option(9), komi: float = typer.Option(7.5),
            sims: int = typer.Option(200, help="qstar's MCTS simulations per move."),
            time: float = typer.Option(0.0, "--time", help="qstar's seconds per move instead of --sims."),
            resign: float = typer.Option(-0.9, help=RESIGN_HELP),
            reuse: bool = typer.Option(True, "--reuse-tree/--fresh-tree", help=REUSE_HELP),
            symmetries: int = typer.Option(SYMMETRIES, help=SYMMETRIES_HELP),
            out: Optional[Path] = typer.Option(Path("runs/eval-go"), help="Folder for the SGF records."),
            timeout: float = typer.Option(120.0, help="Seconds per answer before an engine loses the game."),
            pass_rule: str = typer.Option("auto", help=PASS_HELP),
            openings: int = typer.Option(2, help=OPENINGS_HELP),
            seed: int = typer.Option(0, help="Seed of the random openings."),
            json_: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """qstar's engine against a GTP opponent (GNU Go level 1 by default)."""
    import shlex

    from qstar.games.go.player import resolve_model, resolve_pass_rule
    playing = resolve_model(model, size)  # what `qstar gtp` will load, for the report
    if playing is not None and not playing.is_file():
        raise ConfigError(f"no checkpoint at {playing}; give a Go .safetensors file or --model none")
    # bad flags fail here, not inside the engine's process
    _search_config(sims, time, resign, 0, pass_rule, reuse, symmetries)
    pass_rule = resolve_pass_rule(pass_rule, playing)  # the report names the rule the engine plays by
    qstar = ["qstar", "gtp", "--size", str(size), "--sims", str(sims), "--time", str(time),
             "--resign", str(resign), "--reuse-tree" if reuse else "--fresh-tree", "--symmetries", str(symmetries),
             "--model", str(playing) if playing else "none", "--pass-rule", pass_rule]
    d = _run_match(shlex.join(qstar), opponent, games, size, komi, out, timeout, "auto", False,
                   f"qstar vs {opponent}", openings, seed)
    if json_:
        from qstar.cli.output import emit_json
        emit_json({**d, "qstar_sims": sims, "qstar_seconds": time, "resign": resign, "reuse_tree": reuse,
                   "symmetries": symmetries, "pass_rule": pass_rule, "model": str(playing) if playing else None})


@train_app.command("go")
def train_go(size: int = typer.Option(9, help="Board size (7 for quick runs)."),
             komi: float = typer.Option(7.5),
             run_dir: Path = typer.Option(None, help="Run folder (default runs/go<size>)."),
             iterations: Optional[int] = typer.Option(None), games: Optional[int] = typer.Option(None, help="Self-play "
                                                                                                     "games per iteration."),
             sims: Optional[int] = typer.Option(None, help="MCTS simulations per self-play move."),
             train_steps: Optional[int] = typer.Option(None), eval_games: Optional[int] = typer.Option(None),
             fast_sims: Optional[int] = typer.Option(None, help="Simulations of the fast (unrecorded) moves of "
                                                                "playout cap randomization; 0 turns it off."),
             full_prob: Optional[float] = typer.Option(None, help="Share of moves searched fully and recorded."),
             eval_sims: Optional[int] = typer.Option(None, help="Simulations per move in the arena."),
             blocks: Optional[int] = typer.Option(None, help="Residual blocks (kept in the run's go.json for --resume)."),
             channels: Optional[int] = typer.Option(None, help="Filters per convolution."),
             max_moves: int = typer.Option(0, help="Games end and are scored after this many moves; 0 = 2 * points "
                                                   "(kept for --resume)."),
             pass_rule: str = typer.Option("any", help="any: a pass is always legal; settled: only when every legal "
                                                       "point fills one's own eye (kept for --resume)."),
             lr: Optional[float] = typer.Option(None, help="Learning rate; with --resume, the run's learning rate "
                                                           "from its next iteration on."),
             final_steps: Optional[int] = typer.Option(None, help=FINAL_STEPS_HELP),
             init: Optional[Path] = typer.Option(None, help="A Go network to start from instead of a random one: of this "
                                                            "run's shape, or of the same trunk on another board size "
                                                            "(its convolutions are copied; the heads' board-sized "
                                                            "layers start fresh). New runs only."),
             threads: int = typer.Option(2, help="torch threads."),
             resume: bool = typer.Option(False, help="Continue the run in --run-dir."),
             executor: str = typer.Option("local", help=EXECUTOR_HELP),
             workers: int = typer.Option(2, help=WORKERS_HELP),
             address: Optional[str] = typer.Option(None, help=ADDRESS_HELP),
             device: str = typer.Option("cpu", help=TRAIN_DEVICE_HELP),
             json_: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Self-play training of a Go network with the same loop as every other game."""
    from dataclasses import replace

    from qstar.cli.games import make_executor
    from qstar.games.go.train import go_training
    from qstar.learn.loop import run_loop
    run_dir = run_dir or Path(f"runs/go{size}")
    shape = _go_run_shape(run_dir, resume, size=size, komi=komi, blocks=blocks, channels=channels,
                          max_moves=max_moves, pass_rule=pass_rule)
    spec, loop = go_training(**shape)
    sp = loop.selfplay
    n = sp.mcts.num_simulations if sims is None else sims
    fast = min(sp.fast_simulations, n) if fast_sims is None else fast_sims  # one replace: checked together
    sp = replace(sp, mcts=replace(sp.mcts, num_simulations=n), fast_simulations=fast,
                 full_search_prob=sp.full_search_prob if full_prob is None else full_prob)
    overrides = {"iterations": iterations, "games_per_iteration": games, "train_steps": train_steps,
                 "eval_games": eval_games, "eval_simulations": eval_sims, "lr": lr, "final_steps": final_steps}
    loop = replace(loop, selfplay=sp, threads=threads, **{k: v for k, v in overrides.items() if v is not None})
    device = torch_device(device)
    ex = make_executor(executor, spec, loop, workers, address)  # a wrong --executor fails before the run folder is made
    if resume and init is not None:
        raise ConfigError("--init starts a new run; leave it out with --resume")
    if not resume:
        from qstar.core.atomic import atomic_write_json
        run_dir.mkdir(parents=True, exist_ok=True)
        if not (run_dir / "state.json").exists():  # else run_loop refuses the folder
            if init is not None:
                from qstar.games.go.train import go_init
                start, said = go_init(init, spec, run_dir)
                spec = replace(spec, init=start)
                print(said, file=sys.stderr)
            atomic_write_json(run_dir / "go.json", shape)
    last = run_loop(spec, loop, run_dir, resume=resume, executor=ex, log=lambda s: print(s, file=sys.stderr),
                    device=device, lr=lr)
    if json_:
        from qstar.cli.output import emit_json
        emit_json(last)


def _go_run_shape(run_dir: Path, resume: bool, **given) -> dict:
    """The board, komi, network shape and move cap of a Go run: as given for a new run (written to the run's
    go.json); for ``--resume`` read back from go.json, so a resumed run cannot silently change them."""
    import json

    from qstar.core.errors import ConfigError
    path = run_dir / "go.json"
    if not resume or not path.exists():
        return given
    saved = {"pass_rule": "any", **json.loads(path.read_text())}  # runs from before the pass rule existed
    for k in ("blocks", "channels"):
        if given[k] is not None and given[k] != saved[k]:
            raise ConfigError(f"--{k} {given[k]} differs from the run's {saved[k]} ({path}); "
                              f"leave it out with --resume")
    for k, default in (("size", 9), ("komi", 7.5), ("max_moves", 0), ("pass_rule", "any")):
        if given[k] != default and given[k] != saved[k]:
            raise ConfigError(f"--{k.replace('_', '-')} {given[k]} differs from the run's {saved[k]} ({path}); "
                              f"leave it out with --resume")
    return saved


@bench_app.command("go")
def bench_go(seconds: float = typer.Option(5.0, help="Seconds of playouts for each implementation."),
             size: int = typer.Option(9), json_: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Random legal playouts per second: qstar's Go rules against PettingZoo's go_v5 in the same run."""
    from qstar.cli.output import emit_json, print_table
    from qstar.games.go.bench import run_bench
    if seconds <= 0:
        raise ConfigError(f"--seconds must be > 0, got {seconds}")
    d = run_bench(size, seconds)
    rows = [["qstar", d["qstar"]["playouts_per_s"], d["qstar"]["moves_per_s"], d["qstar"]["mean_moves"]]]
    if d["pettingzoo"] is None:
        print("pettingzoo not installed: comparison skipped (pip install pettingzoo pygame to run it)", file=sys.stderr)
    else:
        p = d["pettingzoo"]
        rows.append(["pettingzoo go_v5", p["playouts_per_s"], p["moves_per_s"], p["mean_moves"]])
        rows.append(["speedup", d["speedup_playouts"], d["speedup_moves"], ""])
    print_table(f"random playouts on {size}x{size} ({d['machine']}, Python {d['python']})",
                ["implementation", "playouts/s", "moves/s", "moves/game"], rows)
    if json_:
        emit_json(d)
