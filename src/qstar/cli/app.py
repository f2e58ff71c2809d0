"""The Typer application and its verb groups. Domain modules add their commands to these groups:
``qstar train connect4``, ``qstar eval game24``, ``qstar bench tokenizer`` ...

Command modules import heavy libraries (torch, transformers) inside the command functions, so that
``qstar --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="qstar: search + learning with a ground-truth signal.")
train_app = typer.Typer(no_args_is_help=True, help="Train a model (self-play for games, search rounds for reasoning).")
eval_app = typer.Typer(no_args_is_help=True, help="Measure strength against the ground truth or reference players.")
bench_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks, each side by side with the slow path it names.")
play_app = typer.Typer(no_args_is_help=True, help="Play a game against the engine in the terminal.")

app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
app.add_typer(play_app, name="play")

JSON_HELP = "Print one JSON object with the figures as the last line."
DEVICE_HELP = "Torch device for the networks: cpu, cuda, cuda:1, ..."
TRAIN_DEVICE_HELP = DEVICE_HELP + " Training, evaluation and local self-play run there; Ray actors play on their CPUs."


def torch_device(name: str) -> str:
    """A torch device the networks can run on, or a ConfigError naming what this machine has."""
    import torch

    from qstar.core.errors import ConfigError
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use cpu, cuda or cuda:N")
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device {name!r} is not available here ({torch.cuda.device_count()} CUDA devices); use cpu")
    return name
