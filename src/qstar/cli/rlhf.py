"""RLHF commands: ``qstar rlhf game24`` (the whole over-optimization experiment and its report),
``qstar rlhf go`` ("AlphaGo trained with RLHF": a board reward model as the judge of self-play, against the
rules), ``qstar rlhf report RUN`` (redo the report of either kind of run folder) and ``qstar rlhf optimize`` (GRPO against
one reward source: ``--reward verifier`` or ``--reward model:PATH``).

Heavy libraries (torch) are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from qstar.cli.app import JSON_HELP, app
from qstar.core.errors import QstarError

rlhf_app = typer.Typer(no_args_is_help=True, help="RLHF against actual RL: a learned reward model optimized until it breaks.")
app.add_typer(rlhf_app, name="rlhf")


def _headline(s: dict) -> dict:
    rp, rv = s["rl"]["rl_proxy"], s["rl"]["rl_verifier"]
    return {"run": s["run"], "rm1_heldout_vibe_acc": s["reward_models"]["rm1"]["heldout_vibe_acc"],
            "rm1_heldout_gold_acc": s["reward_models"]["rm1"]["heldout_gold_acc"],
            "proxy_run": {k: rp[k] for k in ("gold_start", "gold_peak", "gold_peak_step", "gold_final",
                                             "proxy_start", "proxy_final", "seconds")},
            "verifier_run": {k: rv[k] for k in ("gold_start", "gold_final", "seconds")},
            "detector": rp.get("detector"), "bon_best_gold": {k: v["best_gold"] for k, v in s["bon"].items()},
            "rounds": {k: {"gold_peak": v["gold_peak"], "gold_final": v["gold_final"]}
                       for k, v in s["rl"].items() if "round" in k},
            "test_gold": s.get("test_gold")}


def _report(run: Path, json_out: bool) -> None:
    """Write the run's report, then print its table or (with --json) one JSON line."""
    from qstar.cli.output import emit_json
    from qstar.rlhf.report import write_report

    s = write_report(run)
    if json_out:
        emit_json(_headline(s))
    else:
        _print(s)


def _print(s: dict) -> None:
    from qstar.cli.output import print_table
    rows = [[k, r["steps"], r["gold_start"], f"{r['gold_peak']:.3f} @ {r['gold_peak_step']}", r["gold_final"],
             f"{r['proxy_start']:.2f} → {r['proxy_final']:.2f}", r["sqrt_kl_final"]] for k, r in s["rl"].items()]
    print_table("GRPO: gold (verifier) and proxy (rm1)", ["run", "steps", "gold start", "gold peak @ step",
                                                          "gold final", "proxy", "sqrt KL final"], rows)
    print(f"report: {Path(s['run']) / 'summary.md'}")


@rlhf_app.command("game24")
def game24(out: Path = typer.Option(..., "--out", help="Run folder (created; must not hold a finished run)."),
           steps: int = typer.Option(150, help="GRPO steps for each run (proxy and verifier)."),
           prompts_per_step: int = typer.Option(16, help="Puzzles per GRPO step."),
           group: int = typer.Option(8, help="Samples per puzzle (GRPO group)."),
           lr: float = typer.Option(0.01, help="Adam learning rate of the policy."),
           kl_coef: float = typer.Option(0.0, help="KL penalty against the initial policy (0: none)."),
           bon_max: int = typer.Option(1024, help="Largest N of best-of-N (a power of two up to 1024)."),
           rounds: int = typer.Option(0, help="Iterated-RLHF rounds after the first proxy run."),
           rl_prompts: int = typer.Option(64, help="Training puzzles the policy is optimized on."),
           comparison_prompts: int = typer.Option(600, help="Other training puzzles whose completions raters compare."),
           bon_prompts: int = typer.Option(32, help="Puzzles for best-of-N."),
           test_samples: int = typer.Option(8, help="Samples per test puzzle for the final policies' held-out gold (0: skip)."),
           vibe_temperature: float = typer.Option(0.5, help="Bradley–Terry noise of the vibe raters."),
           seed: int = typer.Option(0),
           threads: int = typer.Option(1, help="torch CPU threads."),
           json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Labelers -> two reward models -> best-of-N and GRPO against the proxy and the verifier -> report."""
    from qstar.rlhf.experiment import ExperimentConfig, run_experiment
    from qstar.rlhf.labelers import Vibe
    from qstar.rlhf.optimize import GRPOConfig

    cfg = ExperimentConfig(bon_max=bon_max, rounds=rounds, rl_prompts=rl_prompts, comparison_prompts=comparison_prompts,
                           bon_prompts=bon_prompts, test_samples=test_samples, seed=seed, threads=threads,
                           vibe=Vibe(temperature=vibe_temperature),
                           grpo=GRPOConfig(steps=steps, prompts_per_step=prompts_per_step, group=group, lr=lr,
                                           kl_coef=kl_coef, seed=seed))
    run_experiment(out, cfg, log=(lambda m: None) if json_out else print)
    _report(out, json_out)


@rlhf_app.command("report")
def report(run: Path = typer.Argument(..., help="A run folder written by `qstar rlhf game24`."),
           json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Recompute fits, detector, plots and summary.md of a run folder."""
    if not run.is_dir():
        raise QstarError(f"{run} is not a folder; pass a run folder written by `qstar rlhf game24` or `qstar rlhf go`")
    from qstar.rlhf.go_report import is_go_run
    if is_go_run(run):
        _go_report(run, json_out)
    else:
        _report(run, json_out)


def _go_report(run: Path, json_out: bool) -> None:
    from qstar.cli.output import emit_json
    from qstar.rlhf.go_report import headline, write_report

    s = write_report(run)
    if json_out:
        emit_json(headline(s))
        return
    m = s["match"]
    print(f"truth-trained vs RLHF-trained, {m['games']} games under the real rules: +{m['wins']} ={m['draws']} "
          f"-{m['losses']}, score {m['score']:.3f} (95% CI {m['score_ci95'][0]:.3f}-{m['score_ci95'][1]:.3f})")
    for r, g in s["gnugo"].items():
        if g and "score" in g:
            print(f"{r}-trained vs {g['opponent']}: {g['wins']}/{g['games']} wins")
    print(f"report: {run / 'summary.md'}")


@rlhf_app.command("go")
def go(run: Path = typer.Option(..., "--run", help="Run folder (created; must not hold a run)."),
       size: int = typer.Option(7, help="Board size (5..9; 7 is the measured setting)."),
       komi: float = typer.Option(7.5),
       pass_rule: str = typer.Option("any", help="any: a pass is always legal; settled: only when every legal point "
                                                 "fills one's own eye (games played out to the end)."),
       pairs: int = typer.Option(6000, help="Board pairs the raters compare (20% held out)."),
       iterations: int = typer.Option(8, help="AlphaZero iterations of each run (truth and RLHF)."),
       games: int = typer.Option(48, help="Self-play games per iteration."),
       sims: int = typer.Option(48, help="MCTS simulations per self-play move (a quarter on the fast moves)."),
       train_steps: int = typer.Option(100, help="Optimizer steps per iteration."),
       eval_games: int = typer.Option(8, help="Games against MCTS with random playouts at each check (0: skip)."),
       check_every: int = typer.Option(2, help="Iterations between those checks (and after the last)."),
       match_games: int = typer.Option(100, help="Games of truth-trained vs RLHF-trained under the real rules."),
       match_sims: int = typer.Option(32, help="MCTS simulations per move in that match."),
       gnugo_games: int = typer.Option(10, help="Games of each network against GNU Go (0: skip)."),
       gnugo_level: int = typer.Option(1, help="GNU Go's --level."),
       gnugo_sims: int = typer.Option(48, help="qstar's simulations per move against GNU Go."),
       vibe_temperature: float = typer.Option(2.0, help="Bradley–Terry noise of the vibe rater, in points."),
       init: str = typer.Option(None, help="A network both runs start from, as RLHF fine-tunes a trained policy: "
                                           "a .safetensors path, or 'shipped' (qstar's network for the size, "
                                           "3 blocks x 32 channels on 7x7 and 9x9). Default: random."),
       seed: int = typer.Option(0),
       threads: int = typer.Option(1, help="torch CPU threads per process."),
       workers: int = typer.Option(2, help="Processes: the two sides train and are evaluated side by side (1: in turn)."),
       json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Board raters -> reward model -> AlphaZero judged by the rules vs by the reward model -> matches -> report."""
    from qstar.rlhf.board_labelers import BoardVibe
    from qstar.rlhf.go_experiment import GoExperimentConfig, run_go_experiment

    if init is not None and init.lower() == "shipped":
        from qstar.games.go.player import shipped_model
        found = shipped_model(size)
        if found is None:
            raise QstarError(f"--init shipped: qstar ships no network for {size}x{size} (it has 7x7 and 9x9)")
        init = str(found)
    cfg = GoExperimentConfig(size=size, komi=komi, pass_rule=pass_rule, pairs=pairs, iterations=iterations, games=games, sims=sims,
                             train_steps=train_steps, eval_games=eval_games, check_every=check_every, match_games=match_games,
                             match_sims=match_sims, gnugo_games=gnugo_games, gnugo_level=gnugo_level,
                             gnugo_sims=gnugo_sims, init=init, seed=seed, threads=threads, workers=workers, vibe=BoardVibe(temperature=vibe_temperature))
    run_go_experiment(run, cfg, log=(lambda m: None) if json_out else print)
    _go_report(run, json_out)


@rlhf_app.command("optimize")
def optimize(reward: str = typer.Option(..., help="'verifier' (ground truth) or 'model:PATH' (a reward model folder)."),
             out: Path = typer.Option(..., "--out", help="Folder for metrics.jsonl and examples.jsonl."),
             steps: int = typer.Option(100), lr: float = typer.Option(0.01), kl_coef: float = typer.Option(0.0),
             prompts: int = typer.Option(64, help="Training puzzles to optimize on."),
             seed: int = typer.Option(0), json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """GRPO on Game of 24 against one reward source; logs gold (verifier) and the source's reward per step."""
    import random

    import torch

    from qstar.cli.output import emit_json
    from qstar.core.atomic import append_jsonl
    from qstar.reasoning.game24 import Game24
    from qstar.rlhf import policy as P
    from qstar.rlhf.optimize import GRPOConfig, grpo
    from qstar.rlhf.reward_model import reward_source, verifier_reward

    torch.set_num_threads(1)
    task = Game24()
    source = reward_source(reward, task)
    probs = task.problems("train")
    random.Random(seed).shuffle(probs)
    out.mkdir(parents=True, exist_ok=True)
    for f in ("metrics.jsonl", "examples.jsonl"):
        (out / f).unlink(missing_ok=True)
    last: dict = {}

    def on_step(m, examples):
        last.update(m)
        append_jsonl(out / "metrics.jsonl", m)
        for e in examples:
            append_jsonl(out / "examples.jsonl", e)
        if not json_out and m["step"] % 10 == 0:
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in m.items()}))

    grpo(P.initial(seed), probs[:prompts], source, {"gold": verifier_reward(task)}, task.prompt,
         GRPOConfig(steps=steps, lr=lr, kl_coef=kl_coef, seed=seed), on_step)
    if json_out:
        emit_json({"reward": reward, "out": str(out), **last})
