"""The reasoning commands, run through the real entry point with the shipped models."""

import json

import pytest

pytest.importorskip("transformers")

from qstar.cli.main import main  # noqa: E402
from qstar.cli.reasoning import shipped_models  # noqa: E402

needs_models = pytest.mark.skipif(not (shipped_models("game24") / "policy").exists(), reason="no shipped models")


@needs_models
def test_solve_prints_search_and_a_verified_answer_as_json(capsys):
    assert main(["solve", "game24", "4 5 6 10", "--method", "beam", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["numbers"] == [4, 5, 6, 10] and out["usage"]["policy_calls"] >= 1
    assert out["correct"] == (out["reason"] == "correct")


@needs_models
def test_solve_by_default_searches_every_legal_step_and_can_drop_the_value_model(capsys):
    assert main(["solve", "game24", "4 5 6 10", "--value", "none", "--sims", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["method"] == "mcts" and out["correct"] and out["usage"]["value_calls"] == 0
    assert out["usage"]["tokens"] == 0 and out["usage"]["policy_calls"] >= 3  # scored, not sampled


@needs_models
def test_eval_on_a_puzzle_file_json(tmp_path, capsys):
    f = tmp_path / "p.txt"
    f.write_text("4 5 6 10\n# a comment\n\n1 1 4 6\n")
    assert main(["eval", "game24", "--puzzles", str(f), "--methods", "greedy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["problems"] == 2 and out["rows"][0]["method"] == "greedy CoT"


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["solve", "game24", "4 5 six 10"]) == 2
    assert main(["eval", "game24", "--puzzles", str(tmp_path / "missing.txt")]) == 2
    assert main(["solve", "game24", "4 5 6 10", "--value", "best"]) == 2
    assert main(["solve", "game24", "4 5 6 10", "--method", "greedy", "--proposals", "4"]) == 2
    err = capsys.readouterr().err
    assert "expected four whole numbers" in err and "does not exist" in err and "Traceback" not in err
    assert "--value must be prm, orm or none" in err and "--proposals is for beam and mcts" in err
    assert main(["train", "game24", "--run", str(tmp_path / "run"), "--device", "cuda:99"]) == 2
    assert main(["eval", "game24", "--device", "meta"]) == 2
    err = capsys.readouterr().err
    assert "'cuda:99' is not available here" in err and "'meta' is not supported" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    assert main(["train", "countdown", "--run", str(tmp_path / "cd"), "--second-thoughts", "100"]) == 2
    assert main(["train", "game24", "--run", str(tmp_path / "g"), "--second-thoughts", "-1"]) == 2
    err = capsys.readouterr().err
    assert "measured on game24 only" in err and "must be >= 0" in err and "Traceback" not in err
    assert not (tmp_path / "cd").exists() and not (tmp_path / "g").exists()
    for bad in (["--n", "0"], ["--limit", "0"], ["--limit", "-3"]):  # not a crash, not silently every problem
        assert main(["eval", "game24", *bad]) == 2
        assert "--n and --limit must be >= 1" in capsys.readouterr().err


@needs_models
def test_the_shipped_models_are_what_the_default_train_command_makes():
    """The shipped models' run config (``run_config.json``, the run folder's ``config.json``) is the config of
    ``qstar train game24 --run DIR --threads 2`` with today's defaults: changing a default that made them fails here."""
    from dataclasses import asdict

    from qstar.cli.reasoning import train_config

    shipped = json.loads((shipped_models("game24") / "run_config.json").read_text())
    assert asdict(train_config("game24", rounds=2, seed=0, quick=False, threads=2)) == shipped
    assert json.loads((shipped_models("game24") / "models.json").read_text())["undo"] == (shipped["undo_steps_round"] > 0)
    assert train_config("countdown", rounds=1, seed=0, quick=False).undo_steps_round == 0
