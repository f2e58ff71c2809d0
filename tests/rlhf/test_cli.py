import json

from qstar.cli.main import main


def test_rlhf_game24_tiny_run_ends_with_one_json_line(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["rlhf", "game24", "--out", str(out), "--prompts-per-step", "2", "--group", "2",
               "--bon-max", "4", "--rl-prompts", "3", "--comparison-prompts", "10", "--bon-prompts", "2", "--test-samples", "0",
               "--steps", "12", "--json"])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    s = json.loads(last)
    assert {"proxy_run", "verifier_run", "detector", "rm1_heldout_vibe_acc"} <= set(s)
    for f in ("config.json", "comparisons_vibe.jsonl", "bon.jsonl", "metrics_rl_proxy.jsonl", "metrics_rl_verifier.jsonl",
              "reward_vs_sqrt_kl.png", "reward_vs_steps.png", "summary.md", "rm1/model.safetensors"):
        assert (out / f).exists(), f
    assert main(["rlhf", "game24", "--out", str(out), "--steps", "1"]) == 2  # a finished run is not overwritten


def test_rlhf_errors_are_one_line(tmp_path, capsys):
    assert main(["rlhf", "report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert main(["rlhf", "optimize", "--reward", "human", "--out", str(tmp_path / "o")]) == 2
    assert "verifier" in capsys.readouterr().err
