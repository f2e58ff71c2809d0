"""The shipped 9x9 and 7x7 networks: they load, they are what `qstar gtp` plays by default on their board sizes, and
they answer genmove with a legal move quickly. `--model none` (and board sizes without a shipped network) give the
playout engine."""

import subprocess
import sys
import time

import pytest

from qstar.games.go.gtp import GtpEngine
from qstar.games.go.player import SearchConfig, make_mover, resolve_model, shipped_model
from qstar.games.go.rules import gtp_to_point


def default_engine(sims: int = 32, size: int = 9) -> GtpEngine:
    """The engine as `qstar gtp` builds it when no --model is given."""
    cfg = SearchConfig(simulations=sims)
    return GtpEngine(lambda s, k: make_mover(s, k, cfg, resolve_model(None, s)), size=size)


@pytest.mark.parametrize("size", [9, 7])
def test_shipped_network_loads_and_is_small(size):
    from qstar.learn.checkpoint import load_model, read_metadata
    path = shipped_model(size)
    assert path is not None, f"qstar/models/go{size}.safetensors is missing"
    assert path.stat().st_size < 5_000_000
    net = load_model(path, game_name=f"go{size}")
    assert net.cfg.height == net.cfg.width == size and net.cfg.num_actions == size * size + 1
    assert net.num_parameters() < 1_000_000
    assert read_metadata(path)["pass_rule"] == "settled"  # both learned on games played out


def test_default_engine_plays_the_shipped_network_legal_moves_quickly():
    engine = default_engine()
    assert engine.handle("version").endswith("(mcts-net:go9.safetensors)\n\n")
    for move in ("play b E5", "play w C3", "play b G7"):
        assert engine.handle(move) == "=\n\n"
    t0 = time.perf_counter()
    answer = engine.handle("genmove w")
    seconds = time.perf_counter() - t0
    assert answer.startswith("= ") and seconds < 10, (answer, seconds)
    move = answer[2:].strip()
    assert move != "resign"
    if move != "pass":
        assert gtp_to_point(move, 9) not in {gtp_to_point(m, 9) for m in ("E5", "C3", "G7")}
        assert engine.handle("play b " + move).startswith("? ")  # the engine's move was played: the point is taken
    assert engine.handle("boardsize 7") == "=\n\n"
    assert engine.handle("version").endswith("(mcts-net:go7.safetensors)\n\n")
    assert engine.handle("genmove b").startswith("= ")
    # no 5x5 network is shipped: the engine falls back to playouts and says so
    assert engine.handle("boardsize 5") == "=\n\n"
    assert engine.handle("version").endswith("(mcts-playouts)\n\n")
    assert engine.handle("boardsize 9") == "=\n\n"
    assert engine.handle("version").endswith("(mcts-net:go9.safetensors)\n\n")


def test_shipped_network_averaged_over_the_eight_symmetries():
    cfg = SearchConfig(simulations=16, symmetries=8)
    engine = GtpEngine(lambda s, k: make_mover(s, k, cfg, resolve_model(None, s)), size=9)
    assert engine.handle("version").endswith("(mcts-net:go9.safetensors x8 symmetries)\n\n")
    assert engine.mover.evaluator.perms[3][1].shape == (82,)
    assert engine.handle("play b E5") == "=\n\n" and engine.handle("genmove w").startswith("= ")


def test_model_none_is_the_playout_engine():
    assert resolve_model("none", 9) is None
    assert resolve_model(None, 5) is None
    cfg = SearchConfig(simulations=8)
    engine = GtpEngine(lambda s, k: make_mover(s, k, cfg, resolve_model("none", s)), size=9)
    assert engine.handle("version").endswith("(mcts-playouts)\n\n")


def test_qstar_gtp_subprocess_uses_the_shipped_network_by_default():
    lines = ["1 version", "2 genmove b", "3 quit"]
    proc = subprocess.run([sys.executable, "-m", "qstar.cli", "gtp", "--sims", "16"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answers = proc.stdout.split("\n\n")
    assert answers[0].startswith("=1 ") and answers[0].endswith("(mcts-net:go9.safetensors x8 symmetries)")
    assert answers[1].startswith("=2 ") and answers[1] != "=2 resign"
    assert answers[2] == "=3"
    assert "passes: settled" in proc.stderr  # trained on games played out, it plays by that rule (--pass-rule auto)
