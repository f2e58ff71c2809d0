import json
import subprocess
import sys

import pytest

from qstar.cli.main import main
from qstar.learn.checkpoint import save_model
from qstar.learn.resnet import PolicyValueNet, ResNetConfig


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def c4_model(tmp_path):
    net = PolicyValueNet(ResNetConfig(2, 6, 7, 7, blocks=1, channels=8))
    return save_model(tmp_path / "c4.safetensors", net, "connect4")


def test_train_tictactoe_tiny_run_and_resume(tmp_path, capsys):
    rd = tmp_path / "run"
    args = ["train", "tictactoe", "--iterations", "1", "--games", "4", "--sims", "4", "--train-steps", "2",
            "--eval-games", "2", "--run-dir", str(rd), "--threads", "1"]
    flags = ["--random-openings", "0.5", "--opening-moves", "3", "--value-q", "0.25"]
    code, out, err = run(capsys, *args, "--json", *flags)
    assert code == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["iteration"] == 1 and "losses_vs_perfect_mcts" in last
    sp = json.loads((rd / "config.json").read_text())["loop"]["selfplay"]  # the flags reach self-play
    assert (sp["random_opening_prob"], sp["random_opening_moves"], sp["value_q_weight"]) == (0.5, 3, 0.25)
    assert (rd / "summary.md").exists() and (rd / "plots" / "losses.png").exists()
    code, out, err = run(capsys, *args)
    assert code == 2 and "--resume" in err and "Traceback" not in err
    args[3] = "2"
    code, out, err = run(capsys, *args, "--resume")
    assert code == 0, err
    assert len((rd / "metrics.jsonl").read_text().splitlines()) == 2


def test_eval_connect4_json_and_positions_file(tmp_path, capsys, c4_model):
    f = tmp_path / "p.txt"
    f.write_text("4455667 0 1 1 1 1 1 1 1\n".replace("4455667", "445566") + "\n")
    code, out, err = run(capsys, "eval", "connect4", "--model", str(c4_model), "--positions", str(f),
                         "--sims", "8", "--json")
    assert code == 0, err
    r = json.loads(out.strip().splitlines()[-1])
    assert r["sets"]["p"]["positions"] == 1 and r["simulations"] == 8


@pytest.mark.parametrize("args, message", [
    (["eval", "connect4", "--model", "MISSING.safetensors"], "checkpoint not found"),
    (["eval", "connect4", "--sims", "0"], "--sims"),
    (["train", "connect4", "--iterations", "0", "--run-dir", "X"], "iterations must be >= 1"),
    (["train", "tictactoe", "--executor", "mpi", "--run-dir", "X"], "unknown executor"),
    (["train", "go", "--size", "5", "--executor", "mpi", "--run-dir", "X"], "unknown executor"),
    (["train", "connect4", "--executor", "ray", "--workers", "0", "--run-dir", "X"], "--workers must be >= 1"),
    (["train", "connect4", "--value-q", "2", "--run-dir", "X"], "(--value-q) must be in [0, 1]"),
    (["train", "tictactoe", "--random-openings", "0.5", "--run-dir", "X"], "need random_opening_moves >= 1"),
    (["bench", "selfplay", "--game", "chess"], "unknown game 'chess'"),
    (["train", "tictactoe", "--device", "tpu", "--run-dir", "X"], "use cpu, cuda or cuda:N"),
    (["train", "connect4", "--device", "cuda:99", "--run-dir", "X"], "is not available here"),
])
def test_bad_input_is_one_clear_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "X").exists()  # refused before any run folder is made


def test_a_folder_the_system_refuses_is_one_clear_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out, err = run(capsys, "train", "tictactoe", "--iterations", "1", "--run-dir", str(blocker / "run"))
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [f"error: Not a directory: {blocker / 'run'}"]
    assert blocker.read_text() == "not a folder"


def test_corrupt_and_mismatched_checkpoints(tmp_path, capsys, c4_model):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    code, _, err = run(capsys, "eval", "connect4", "--model", str(bad))
    assert code == 2 and "not a readable safetensors" in err
    code, _, err = run(capsys, "eval", "tictactoe", "--model", str(c4_model))
    assert code == 2 and "trained for 'connect4', not 'tictactoe'" in err


def test_play_rejects_illegal_moves_and_keeps_going(tmp_path):
    net = PolicyValueNet(ResNetConfig(2, 3, 3, 9, blocks=1, channels=8))
    model = save_model(tmp_path / "t.safetensors", net, "tictactoe")
    moves = "5\n5\nbanana\n1\n9\n3\n7\n4\n6\n2\n8\n"
    p = subprocess.run([sys.executable, "-m", "qstar.cli", "play", "tictactoe", "--model", str(model), "--sims", "8"],
                       input=moves, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "'5' is not a legal move" in p.stdout and "'banana' is not a legal move" in p.stdout
    assert "engine plays" in p.stdout and "Traceback" not in p.stderr
    assert any(w in p.stdout for w in ("you win", "engine wins", "draw", "bye"))


def test_bench_selfplay_json(capsys, c4_model):
    code, out, err = run(capsys, "bench", "selfplay", "--model", str(c4_model), "--sims", "4", "--games", "4",
                         "--sequential-games", "1", "--json")
    assert code == 0, err
    r = json.loads(out.strip().splitlines()[-1])
    assert r["batched"]["games"] == 4 and r["sequential"]["mean_batch"] == 1.0 and r["speedup"] > 0
    # by default the batched path plays as many games at once as the game's self-play does (tic-tac-toe: 100)
    code, out, err = run(capsys, "bench", "selfplay", "--game", "tictactoe", "--sims", "2", "--sequential-games", "1",
                         "--no-dict-search", "--json")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["batched"]["games"] == 100
    code, _, err = run(capsys, "bench", "selfplay", "--games", "0")
    assert code == 2 and "--games must be >= 1" in err


def test_bench_selfplay_repeats_report_the_median_round(capsys, c4_model):
    code, out, err = run(capsys, "bench", "selfplay", "--model", str(c4_model), "--sims", "4", "--games", "4",
                         "--sequential-games", "1", "--repeats", "3", "--json")
    assert code == 0, err
    r = json.loads(out.strip().splitlines()[-1])
    assert r["repeats"] == 3 and len(r["speedup_rounds"]) == 3 and len(r["speedup_vs_dict_search_rounds"]) == 3
    assert r["speedup"] == sorted(r["speedup_rounds"])[1]  # the rows are the median round's
    assert r["speedup"] == round(r["batched"]["positions_per_second"] / r["sequential"]["positions_per_second"], 2)
    code, _, err = run(capsys, "bench", "selfplay", "--model", str(c4_model), "--repeats", "0")
    assert code == 2 and "--repeats must be >= 1" in err
