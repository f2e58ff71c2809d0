import inspect
import math

import numpy as np
import pytest
import torch

from qstar.core.errors import CheckpointError, QstarError
from qstar.reasoning.game24 import Game24
from qstar.reasoning.task import Problem
from qstar.rlhf.labelers import Comparison
from qstar.rlhf.reward_model import (RMConfig, bt_loss, comparison_accuracy, load_reward_model, model_reward, ngrams,
                                     reward_source, save_reward_model, train_reward_model, verifier_reward)

G = Game24()
P = Problem((4, 5, 6, 10), 24)
RIGHT = "10 - 4 = 6 (left: 5 6 6)\n5 * 6 = 30 (left: 6 30)\n30 - 6 = 24 (left: 24)"
LIE = "10 - 4 = 6 (left: 5 6 6)\n5 + 6 = 11 (left: 6 11)\n11 + 6 = 24 (left: 24)"


def test_bt_loss_golden():
    z = torch.zeros(3)
    assert float(bt_loss(z, z)) == pytest.approx(math.log(2))
    assert float(bt_loss(torch.tensor([2.0]), torch.tensor([0.0]))) == pytest.approx(math.log(1 + math.exp(-2)))
    assert float(bt_loss(torch.tensor([0.0]), torch.tensor([2.0]))) == pytest.approx(math.log(1 + math.exp(2)))


def test_bradley_terry_recovers_a_known_ranking():
    # items 0..7 with known strengths; comparisons drawn from the Bradley–Terry model itself
    rng = np.random.default_rng(0)
    strength = np.linspace(-2, 2, 8)
    items = [f"{k} + {k} = {2 * k}" for k in range(8)]
    rows = []
    for _ in range(1500):
        i, j = rng.choice(8, 2, replace=False)
        win = rng.random() < 1 / (1 + math.exp(strength[j] - strength[i]))
        a, b = (i, j) if win else (j, i)
        rows.append(Comparison("1 2 -> 3\n", items[a], items[b], "1 2 -> 3", "toy"))
    model, stats = train_reward_model(rows, RMConfig(buckets=256, epochs=15, seed=0))
    scores = model.score(["1 2 -> 3\n"] * 8, items)
    assert list(np.argsort(scores)) == list(range(8))
    assert stats["loss"] < math.log(2)


def test_reward_functions_have_trl_signature(tmp_path):
    model, _ = train_reward_model([Comparison(G.prompt(P), RIGHT, LIE, "4 5 6 10 -> 24", "t")], RMConfig(epochs=1))
    save_reward_model(model, tmp_path / "rm")
    for fn in (reward_source("verifier", G), reward_source(f"model:{tmp_path / 'rm'}", G), model_reward(model)):
        params = inspect.signature(fn).parameters
        assert list(params)[:2] == ["prompts", "completions"]
        assert any(p.kind == p.VAR_KEYWORD for p in params.values())  # TRL passes extra columns as kwargs
        out = fn(prompts=[G.prompt(P)] * 2, completions=[RIGHT, LIE], completion_ids=None, trainer_state=None)
        assert isinstance(out, list) and len(out) == 2 and all(isinstance(x, float) for x in out)
    assert verifier_reward(G)([G.prompt(P)] * 2, [RIGHT, LIE]) == [1.0, 0.0]


def test_saved_model_scores_the_same(tmp_path):
    rows = [Comparison(G.prompt(P), RIGHT, LIE, "4 5 6 10 -> 24", "t")] * 8
    model, _ = train_reward_model(rows, RMConfig(epochs=3))
    save_reward_model(model, tmp_path / "rm", {"note": 1})
    again = load_reward_model(tmp_path / "rm")
    assert again.score([G.prompt(P)] * 2, [RIGHT, LIE]) == pytest.approx(model.score([G.prompt(P)] * 2, [RIGHT, LIE]))
    assert comparison_accuracy(model_reward(again), rows) == 1.0


def test_bad_sources_are_user_errors(tmp_path):
    with pytest.raises(QstarError, match="verifier"):
        reward_source("gold", G)
    with pytest.raises(CheckpointError):
        reward_source(f"model:{tmp_path}", G)
    with pytest.raises(QstarError, match="prompt"):
        verifier_reward(G)(["hello"], ["x"])
    with pytest.raises(QstarError):
        train_reward_model([])


def test_ngrams_see_the_last_line():
    f = ngrams("4 5 6 10 -> 24\n", LIE)
    assert "P:4" in f and "last:= 24" in f and "lines:3" in f and "0:10 -" in f
