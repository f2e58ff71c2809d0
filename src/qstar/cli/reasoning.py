"""Reasoning commands: ``qstar train game24|countdown``, ``qstar eval game24|countdown``, ``qstar solve``.

Heavy libraries (torch, transformers) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from qstar.cli.app import DEVICE_HELP, JSON_HELP, app, eval_app, torch_device, train_app
from qstar.core.errors import QstarError

TASKS = ("game24", "countdown")


def _task(name: str):
    if name == "game24":
        from qstar.reasoning.game24 import Game24
        return Game24()
    if name == "countdown":
        from qstar.reasoning.countdown import Countdown
        return Countdown()
    raise QstarError(f"unknown task {name!r}; use one of {', '.join(TASKS)}")


def shipped_models(task_name: str) -> Path:
    from importlib import resources
    return Path(str(resources.files("qstar"))) / "models" / task_name


def _load_models(task_name: str, models: Optional[Path], device: str = "cpu"):
    from qstar.reasoning.lm import quiet_transformers
    quiet_transformers()
    import torch
    torch.set_num_threads(1)
    from qstar.reasoning.policy import LMPolicy
    from qstar.reasoning.reward import ValueLM

    folder = models or shipped_models(task_name)
    if not (folder / "policy").exists():
        hint = "run `qstar train {0} --run DIR` and pass --models DIR".format(task_name)
        raise QstarError(f"no trained models in {folder} (expected policy/, prm/, orm/); {hint}")
    import json
    from qstar.reasoning.loop import acting_policy
    meta = json.loads((folder / "models.json").read_text()) if (folder / "models.json").exists() else {}
    if meta.get("task", task_name) != task_name:
        raise QstarError(f"the models in {folder} are for {meta['task']}, not {task_name}")
    device = torch_device(device)
    values = {k: ValueLM.load(folder / k).to(device) for k in ("prm", "orm") if (folder / k).exists()}
    policy = acting_policy(LMPolicy.load(folder / "policy").to(device), _task(task_name), meta.get("calculator", False),
                           meta.get("undo", False))
    return policy, values


# Countdown has up to 6 numbers, so up to ~60 legal first steps per problem (Game of 24: ~20), and longer
# solutions: a smaller labelling and search budget keeps its run to a few CPU-minutes. The first-step loss is
# off there: it is measured on Game of 24 only (docs/reasoning.md), and would double this budget.
TASK_DEFAULTS = {"countdown": dict(extra_split=None, first_step_steps=0, first_step_in_rounds=False, replay=1.0,
                                   finetune_epochs=4.0, finetune_lr=1e-3, undo_steps_round=0,
                                   sample_problems=100, traces_per_problem=2, sft_epochs=4.0, step_label_problems=60,
                                   step_label_problems_round=30, search_problems=100, label_problems=50,
                                   value_epochs=2.0)}


def train_config(task_name: str, rounds: int, seed: int, quick: bool, threads: int = 1,
                 second_thoughts: Optional[int] = None):
    """The ``LoopConfig`` of ``qstar train TASK``: ``LoopConfig``'s defaults (the shipped Game of 24 models' run)
    with the task's own (``TASK_DEFAULTS``); ``second_thoughts`` (steps per round) overrides the task's."""
    from qstar.reasoning.loop import LoopConfig

    if second_thoughts is not None and second_thoughts < 0:
        raise QstarError(f"--second-thoughts must be >= 0 (training steps per round; 0: off), got {second_thoughts}")
    if second_thoughts and task_name != "game24":
        raise QstarError("--second-thoughts is measured on game24 only (its traces are sized for four numbers)")
    over = dict(TASK_DEFAULTS.get(task_name, {}))
    if second_thoughts is not None:
        over["undo_steps_round"] = second_thoughts
    cfg = LoopConfig(rounds=rounds, seed=seed, threads=threads, **over)
    if quick:  # a smoke run: minutes, not an hour; the figures mean little
        cfg = LoopConfig(rounds=rounds, seed=seed, extra_split=None, traces_per_problem=1, sft_epochs=0.3, search_problems=16,
                         label_problems=16, finetune_epochs=0.3, value_epochs=0.3, eval_problems=10,
                         eval_beam=False, policy_width=32, policy_layers=1, value_width=32, value_layers=1,
                         train_problems=60, step_label_problems=8, step_label_problems_round=4, first_step_steps=5,
                         first_step_puzzles=4, undo_steps_round=min(cfg.undo_steps_round, 5), undo_traces=1,
                         undo_problems_round=8)
    return cfg


def _train(task_name: str, run: Path, rounds: int, resume: bool, seed: int, quick: bool, threads: int = 1,
           device: str = "cpu", second_thoughts: Optional[int] = None) -> None:
    from qstar.reasoning.loop import run_loop

    cfg = train_config(task_name, rounds, seed, quick, threads, second_thoughts)
    metrics = run_loop(_task(task_name), run, cfg, resume=resume, log=lambda s: typer.echo(s, err=True),
                       device=torch_device(device))
    typer.echo(f"{run}: {len(metrics)} rounds; summary in {run / 'summary.md'}")


def _make_train(task_name: str):
    def train(run: Path = typer.Option(..., "--run", help="Run folder (created; must be empty unless --resume)."),
              rounds: int = typer.Option(2, help="Improvement rounds after the first training."),
              resume: bool = typer.Option(False, "--resume", help="Continue the run in --run."),
              seed: int = typer.Option(0, help="Seed for data, models and search."),
              quick: bool = typer.Option(False, "--quick", help="Tiny smoke-test configuration."),
              threads: int = typer.Option(1, help="torch CPU threads."),
              second_thoughts: Optional[int] = typer.Option(None, "--second-thoughts", help=(
                  "Each improvement round: steps of training to try a step, read the numbers it leaves and take "
                  "dead ends back, on the round's policy's own tries (game24: 1500; 0: off; docs/reasoning.md, "
                  "'Second thoughts')")),
              device: str = typer.Option("cpu", help=DEVICE_HELP)) -> None:
        _train(task_name, run, rounds, resume, seed, quick, threads, device, second_thoughts)
    train.__doc__ = f"Train the {task_name} policy, PRM and ORM: solver traces, then search-and-learn rounds."
    return train


def _make_eval(task_name: str):
    def evaluate(split: str = typer.Option("test", help="Problem split: test (Game of 24: ranks 901-1000) or train."),
                 puzzles: Optional[Path] = typer.Option(None, help="File of puzzles, one per line, four numbers each."),
                 models: Optional[Path] = typer.Option(None, help="Folder with policy/ prm/ orm/ (default: shipped)."),
                 methods: Optional[str] = typer.Option(None, help="Comma-separated method labels' prefixes, e.g. 'greedy,ToT'."),
                 n: int = typer.Option(10, help="Samples for self-consistency and best-of-N."),
                 limit: Optional[int] = typer.Option(None, help="Evaluate only the first LIMIT problems."),
                 seed: int = typer.Option(0),
                 report: Optional[Path] = typer.Option(None, help="Also write the table as markdown here."),
                 device: str = typer.Option("cpu", help=DEVICE_HELP),
                 json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
        from qstar.cli.output import emit_json, print_table
        from qstar.core.atomic import atomic_write_text
        from qstar.core.progress import progress_bar
        from qstar.reasoning.evaluate import default_methods, evaluate as run_eval, markdown_table

        if n < 1 or (limit is not None and limit < 1):
            raise QstarError(f"--n and --limit must be >= 1, got --n {n}" + (f" --limit {limit}" if limit is not None else ""))
        task = _task(task_name)
        if puzzles is not None:
            if task_name != "game24":
                raise QstarError("--puzzles is for game24; countdown problems are generated (use --split)")
            from qstar.reasoning.game24 import read_puzzle_file
            problems = read_puzzle_file(puzzles)
        else:
            problems = task.problems(split)
        problems = problems[:limit] if limit else problems
        policy, values = _load_models(task_name, models, device)
        chosen = default_methods(n)
        if methods:
            wanted = [w.strip().lower() for w in methods.split(",") if w.strip()]
            chosen = [m for m in chosen if any(m.label.lower().startswith(w) for w in wanted)]
            if not chosen:
                raise QstarError(f"no method matches {methods!r}; methods: {', '.join(m.label for m in default_methods(n))}")
        missing = {m.value for m in chosen if m.value} - set(values)
        if missing:
            raise QstarError(f"the models folder lacks {', '.join(sorted(missing))}/ needed by the chosen methods")
        with progress_bar(f"eval {task_name}", len(chosen), "method") as adv:
            rows = run_eval(task, problems, policy, values, chosen, seed=seed, progress=adv)
        where = f"{puzzles}" if puzzles else f"split {split}"
        title = f"{task_name}, {where}, {len(problems)} problems, policy {policy.num_parameters:,} parameters"
        print_table(title, ["method", "success", "solved", "policy calls", "value calls", "tokens", "s/problem",
                            "acc@75%", "acc@50%"],
                    [[r["method"], f"{100 * r['success']:.0f}%", f"{r['solved']}/{r['problems']}", r["policy_calls"],
                      r["value_calls"], r["tokens"], r["seconds"], f"{100 * r['abstain']['75%']:.0f}%",
                      f"{100 * r['abstain']['50%']:.0f}%"] for r in rows])
        if report:
            atomic_write_text(report, markdown_table(rows, title))
        if json_out:
            emit_json({"task": task_name, "problems": len(problems), "source": where, "rows": rows})
    evaluate.__doc__ = f"Solve rate of each search method on {task_name}, checked by the verifier (ToT-style table)."
    return evaluate


for _name in TASKS:
    train_app.command(_name)(_make_train(_name))
    eval_app.command(_name)(_make_eval(_name))


@app.command("solve")
def solve(task_name: str = typer.Argument(..., metavar="TASK", help="game24 or countdown."),
          numbers: str = typer.Argument(..., help="The numbers, e.g. '4 5 6 10'; countdown: '3 7 25 50 -> 75'."),
          method: str = typer.Option("mcts", help="greedy, self_consistency, best_of_n, beam or mcts."),
          models: Optional[Path] = typer.Option(None, help="Folder with policy/ prm/ orm/ (default: shipped)."),
          sims: int = typer.Option(200, help="mcts: simulations per step."),
          proposals: Optional[int] = typer.Option(None, help="Steps tried per state. beam: K sampled (default 8); "
                                                  "mcts: 0 = every legal step, the policy's priors (default), "
                                                  "K = K sampled."),
          value_model: str = typer.Option("prm", "--value", help="Value model for best_of_n, beam and mcts: prm, orm, "
                                          "or none (mcts only: finished lines alone steer the search)."),
          seed: int = typer.Option(0),
          threshold: float = typer.Option(0.0, help="Say 'not sure' when the confidence is below this."),
          json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Solve one problem and show the search: the steps it weighed and the answer, checked by the verifier."""
    from qstar.cli.output import emit_json
    from qstar.reasoning.strategies import get_strategy
    from qstar.reasoning.task import Problem

    task = _task(task_name)
    if task_name == "game24":
        from qstar.reasoning.game24 import parse_puzzle
        problem = parse_puzzle(numbers)
    else:
        left, sep, target = numbers.partition("->")
        nums = left.replace(",", " ").split()
        if not sep or not target.strip().isdigit() or not nums or not all(x.isdigit() for x in nums):
            raise QstarError(f"countdown problems look like '3 7 25 50 -> 75', got {numbers!r}")
        problem = Problem(tuple(int(x) for x in nums), int(target))
    if value_model not in ("prm", "orm", "none"):
        raise QstarError(f"--value must be prm, orm or none, got {value_model!r}")
    if value_model == "none" and method in ("best_of_n", "beam"):
        raise QstarError(f"{method} needs a value model: --value prm or orm")
    kwargs = {}
    if method == "mcts":
        kwargs = {"simulations": sims, "proposals": 0 if proposals is None else proposals}
    elif method == "beam" and proposals is not None:
        kwargs = {"proposals": proposals}
    elif proposals is not None:
        raise QstarError(f"--proposals is for beam and mcts, not {method}")
    policy, values = _load_models(task_name, models)
    strategy = get_strategy(method)
    value = None if value_model == "none" else values.get(value_model)
    if value_model != "none" and method in ("best_of_n", "beam", "mcts") and value is None:
        raise QstarError(f"{method} needs a value model ({value_model}/) in the models folder")
    result = strategy(task, [problem], policy, value, seed=seed, **kwargs)[0]
    verdict = task.score(problem, result.answer) if result.answer else None
    sure = result.confidence >= threshold
    if not json_out:
        typer.echo(f"{task_name}: {problem.text} -> {problem.target}   (method {method})")
        for line in (ln for entry in result.log for ln in entry.splitlines()):  # greedy's log is its whole text
            typer.echo(f"  {line}".rstrip())
        typer.echo("steps:")
        for s in result.steps:
            typer.echo(f"  {s}")
        if not sure:
            typer.echo(f"answer: not sure (confidence {result.confidence:.2f} < {threshold})")
        else:
            typer.echo(f"answer: {result.answer or 'none found'}  (confidence {result.confidence:.2f})")
        if verdict is not None:
            typer.echo(f"verifier: {'correct' if verdict.ok else 'wrong'} ({verdict.reason})")
        u = result.usage
        typer.echo(f"cost: {u.policy_calls} policy calls, {u.value_calls} value calls, {u.tokens} tokens, {u.seconds:.2f}s")
    else:
        emit_json({"task": task_name, "numbers": list(problem.numbers), "target": problem.target, "method": method,
                   "answer": result.answer if sure else None, "steps": list(result.steps),
                   "confidence": result.confidence, "not_sure": not sure,
                   "correct": bool(verdict and verdict.ok), "reason": verdict.reason if verdict else "no answer",
                   "usage": result.usage.as_dict()})
