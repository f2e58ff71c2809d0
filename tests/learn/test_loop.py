import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from qstar.core.errors import CheckpointError, ConfigError
from qstar.games.connect4 import Connect4
from qstar.games.tictactoe import TicTacToe
from qstar.learn.checkpoint import load_model, save_model
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.loop import LoopConfig, TrainingSpec, run_loop
from qstar.learn.resnet import PolicyValueNet, ResNetConfig
from qstar.learn.selfplay import SelfPlayConfig
from qstar.search import MCTSConfig, RandomPlayer

G = TicTacToe()
NET = ResNetConfig(2, 3, 3, 9, blocks=1, channels=8)


def tiny(iterations: int) -> LoopConfig:
    return LoopConfig(iterations=iterations, games_per_iteration=6, train_steps=4, batch_size=16, buffer_size=2000,
                      eval_games=2, eval_simulations=4, threads=1, seed=3, lr_schedule=((2, 1e-3), (3, 5e-4)),
                      selfplay=SelfPlayConfig(MCTSConfig(num_simulations=6, leaves_per_step=2), parallel_games=3,
                                              random_opening_prob=0.5, random_opening_moves=3))


def spec() -> TrainingSpec:
    return TrainingSpec(G, NET, {"random": lambda: RandomPlayer(G)})


def weights(path):
    return load_model(path, "tictactoe").state_dict()


def test_run_writes_everything_and_resume_is_bit_for_bit(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_loop(spec(), tiny(3), a, log=lambda s: None)
    run_loop(spec(), tiny(1), b, log=lambda s: None)
    run_loop(spec(), tiny(3), b, resume=True, log=lambda s: None)
    wa, wb = weights(a / "latest.safetensors"), weights(b / "latest.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ma = [json.loads(l) for l in (a / "metrics.jsonl").read_text().splitlines()]
    mb = [json.loads(l) for l in (b / "metrics.jsonl").read_text().splitlines()]
    strip = lambda m: {k: v for k, v in m.items() if not k.startswith(("seconds", "positions_per"))}
    assert [strip(m) for m in ma] == [strip(m) for m in mb] and len(ma) == 3
    for f in ("config.json", "state.json", "summary.md", "plots/losses.png", "plots/elo.png", "model_0003.safetensors",
              "replay_0003.npz", "optimizer_0003.pt"):
        assert (a / f).exists(), f
    assert not (a / "replay_0002.npz").exists()  # stale iteration files removed after the commit point
    assert "vs_random" in ma[-1] and "elo_ci95" in ma[-1]["vs_previous"]
    assert [m["lr"] for m in ma] == [2e-3, 1e-3, 5e-4]  # the schedule, across the resume too


def test_final_network_is_fresh_trained_on_the_last_buffer_and_resumes_the_same(tmp_path):
    """final_steps: after the last iteration a new network of final_net's shape learns from scratch on the final
    buffer and becomes latest; resuming a finished loop adds the stage and gives the same network."""
    import dataclasses
    wide = ResNetConfig(2, 3, 3, 9, blocks=1, channels=12)
    fspec = dataclasses.replace(spec(), final_net=wide, ground_truth=lambda ev, mcts: {"mistake_stub": 0.5})
    a, b = tmp_path / "a", tmp_path / "b"
    last = run_loop(fspec, dataclasses.replace(tiny(2), final_steps=10), a, log=lambda s: None)
    assert last["final"] and last["steps"] == 10 and last["mistake_stub"] == 0.5
    assert json.loads((a / "final.json").read_text()) == last
    final, loop_net = load_model(a / "latest.safetensors"), load_model(a / "model_0002.safetensors")
    assert final.cfg == wide and loop_net.cfg == NET  # the loop's own network is untouched
    saved = load_model(a / "final.safetensors").state_dict()
    assert all(torch.equal(v, final.state_dict()[k]) for k, v in saved.items())
    assert "Final network" in (a / "summary.md").read_text()
    run_loop(fspec, tiny(2), b, log=lambda s: None)  # no final stage: then --resume with one
    assert not (b / "final.json").exists()
    run_loop(fspec, dataclasses.replace(tiny(2), final_steps=10), b, resume=True, log=lambda s: None)
    wa, wb = weights(a / "final.safetensors"), weights(b / "final.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ConfigError, match="final_steps"):
        LoopConfig(final_steps=-1)


def test_init_starts_from_a_checkpoint_and_refuses_another_shape(tmp_path):
    """TrainingSpec.init: iteration 0 is the given network, not a random one; a network of another shape is refused."""
    import dataclasses
    a = tmp_path / "a"
    run_loop(spec(), tiny(1), a, log=lambda s: None)
    start = a / "model_0001.safetensors"
    b = tmp_path / "b"
    run_loop(dataclasses.replace(spec(), init=start), tiny(1), b, log=lambda s: None)
    w0, ws = weights(b / "model_0000.safetensors"), weights(start)
    assert all(torch.equal(w0[k], ws[k]) for k in ws)
    fresh = weights(a / "model_0000.safetensors")
    assert not all(torch.equal(w0[k], fresh[k]) for k in ws)
    other = save_model(tmp_path / "wide.safetensors", PolicyValueNet(ResNetConfig(2, 3, 3, 9, blocks=1, channels=12)),
                       "tictactoe")
    with pytest.raises(ConfigError, match="channels 12 \\(the run's: 8\\)"):
        run_loop(dataclasses.replace(spec(), init=other), tiny(1), tmp_path / "c", log=lambda s: None)


def test_resume_with_a_new_learning_rate_keeps_it_from_the_next_iteration_on(tmp_path):
    from qstar.core.atomic import read_jsonl
    said = []
    run_loop(spec(), tiny(1), tmp_path, log=lambda s: None)
    run_loop(spec(), tiny(2), tmp_path, resume=True, log=said.append, lr=1e-4)
    run_loop(spec(), tiny(3), tmp_path, resume=True, log=lambda s: None)  # later resumes keep it
    assert [m["lr"] for m in read_jsonl(tmp_path / "metrics.jsonl")] == [tiny(1).lr, 1e-4, 1e-4]
    assert json.loads((tmp_path / "config.json").read_text())["loop"]["lr_schedule"] == [[2, 1e-4]]
    assert "learning rate 0.0001 from iteration 2 on" in said
    with pytest.raises(ConfigError, match="--lr must be > 0, got 0"):
        run_loop(spec(), tiny(4), tmp_path, resume=True, log=lambda s: None, lr=0.0)


def test_refuses_to_overwrite_or_resume_nothing(tmp_path):
    run_loop(spec(), tiny(1), tmp_path / "r", log=lambda s: None)
    with pytest.raises(ConfigError, match="--resume"):
        run_loop(spec(), tiny(1), tmp_path / "r", log=lambda s: None)
    with pytest.raises(ConfigError, match="nothing to resume"):
        run_loop(spec(), tiny(1), tmp_path / "empty", resume=True, log=lambda s: None)


def test_checkpoint_errors(tmp_path):
    net = PolicyValueNet(NET)
    p = save_model(tmp_path / "m.safetensors", net, "tictactoe")
    with pytest.raises(CheckpointError, match="trained for 'tictactoe', not 'connect4'"):
        load_model(p, "connect4")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_model(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "none.safetensors")
    truncated = tmp_path / "trunc.safetensors"
    truncated.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(CheckpointError):
        load_model(truncated)


def test_config_validation():
    with pytest.raises(ConfigError, match="iterations"):
        LoopConfig(iterations=0)
    with pytest.raises(ConfigError, match="buffer_size"):
        LoopConfig(buffer_size=10, batch_size=64)
    with pytest.raises(ConfigError, match="iteration order"):
        LoopConfig(lr_schedule=((5, 1e-3), (2, 1e-4)))
    with pytest.raises(ConfigError, match="lr_schedule"):
        LoopConfig(lr_schedule=((0, 1e-3),))
    cfg = LoopConfig.from_json(json.loads(json.dumps(LoopConfig(lr=1.0, lr_schedule=((3, 0.5),)).to_json())))
    assert [cfg.lr_at(i) for i in (1, 2, 3, 9)] == [1.0, 1.0, 0.5, 0.5]


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path):
    """A run killed with SIGKILL resumes from its last committed iteration and finishes."""
    script = tmp_path / "run.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_loop import spec, tiny
from qstar.learn.loop import run_loop
run_loop(spec(), tiny(int(sys.argv[2])), sys.argv[1], resume=sys.argv[3] == '1', log=lambda s: None)
""")
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(run), "50", "0"])
    deadline = time.time() + 600
    while time.time() < deadline:
        if (run / "state.json").exists() and json.loads((run / "state.json").read_text())["iteration"] >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads((run / "state.json").read_text())["iteration"]
    assert done >= 2
    subprocess.run([sys.executable, str(script), str(run), str(done + 2), "1"], check=True, timeout=600)
    state = json.loads((run / "state.json").read_text())
    assert state["iteration"] == done + 2
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(l)["iteration"] for l in lines] == list(range(1, done + 3))


def test_a_run_stopped_by_hand_still_gets_its_report(tmp_path):
    """Ctrl-C during iteration 2: the summary and plots show iteration 1, as a finished run's would."""
    from qstar.learn.executor import LocalExecutor, SelfPlayWorker

    class StoppedInIteration2(LocalExecutor):
        calls = 0

        def self_play(self, *args, **kw):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return super().self_play(*args, **kw)

    cfg = tiny(3)
    with pytest.raises(KeyboardInterrupt):
        run_loop(spec(), cfg, tmp_path, executor=StoppedInIteration2(SelfPlayWorker(G, NET, cfg.selfplay)),
                 log=lambda s: None)
    assert (tmp_path / "plots" / "losses.png").exists()
    assert "iterations finished: 1\n" in (tmp_path / "summary.md").read_text()


# On a CUDA device: the same answers as on the CPU, and a run trained there resumes on the CPU. Skipped where torch
# sees no CUDA device (this project's CI machine has none); run them on a GPU machine.
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@CUDA
def test_evaluator_on_cuda_gives_the_cpu_answers():
    g = Connect4()
    torch.manual_seed(0)
    net = PolicyValueNet(ResNetConfig(2, 6, 7, 7, blocks=2, channels=16)).eval()
    rng = np.random.default_rng(0)
    states = []
    for _ in range(64):
        s = g.initial_state()
        for _ in range(int(rng.integers(0, 20))):
            if g.is_terminal(s):
                break
            s = g.next_state(s, int(rng.choice(np.flatnonzero(g.legal_mask(s)))))
        states.append(s)
    p_cpu, v_cpu = NetworkEvaluator(g, net, cache_size=0).forward(states)
    p_gpu, v_gpu = NetworkEvaluator(g, net, cache_size=0, device="cuda").forward(states)
    assert np.allclose(p_cpu, p_gpu, atol=1e-3) and np.allclose(v_cpu, v_gpu, atol=1e-3)


@CUDA
def test_a_run_trained_on_cuda_resumes_on_the_cpu(tmp_path):
    run_loop(spec(), tiny(1), tmp_path, log=lambda s: None, device="cuda")
    last = run_loop(spec(), tiny(2), tmp_path, resume=True, log=lambda s: None, device="cpu")
    assert last["iteration"] == 2 and np.isfinite(last["loss"])
    net = load_model(tmp_path / "latest.safetensors", "tictactoe")
    assert all(p.device.type == "cpu" for p in net.parameters())
