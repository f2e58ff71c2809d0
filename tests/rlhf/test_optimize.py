import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest
import torch

from qstar.core.errors import ConfigError
from qstar.reasoning.game24 import Game24
from qstar.reasoning.task import Problem
from qstar.rlhf import policy as P
from qstar.rlhf.optimize import (GRPOConfig, best_of_n, bon_kl, bon_weights, group_advantages, grpo,
                                 pair_agreement)
from qstar.rlhf.reward_model import verifier_reward

G = Game24()
PROBS = [Problem((4, 5, 6, 10), 24), Problem((1, 2, 3, 4), 24), Problem((3, 3, 8, 8), 24)]


def test_bon_kl_formula():
    assert bon_kl(1) == 0.0
    assert bon_kl(2) == pytest.approx(math.log(2) - 0.5)
    assert bon_kl(1024) == pytest.approx(math.log(1024) - 1023 / 1024)
    # exact KL of best-of-n for a continuous (tie-free) base distribution: density n F^(n-1) on uniform
    n = 8
    u = (np.arange(200000) + 0.5) / 200000
    q = n * u ** (n - 1)
    assert float(np.mean(q * np.log(q))) == pytest.approx(bon_kl(n), abs=1e-3)


def test_bon_weights_against_brute_force():
    m, n = 7, 3
    w = bon_weights(m, n)
    counts = np.zeros(m)
    for sub in itertools.combinations(range(m), n):
        counts[max(sub)] += 1
    assert w == pytest.approx(counts / counts.sum())
    assert bon_weights(5, 1) == pytest.approx(np.full(5, 0.2))
    assert bon_weights(5, 5) == pytest.approx([0, 0, 0, 0, 1])
    with pytest.raises(ConfigError):
        bon_weights(4, 8)


def test_best_of_n_expected_values():
    select = np.array([[0.1, 0.9, 0.5, 0.3]])
    gold = np.array([[1.0, 0.0, 1.0, 1.0]])
    recs = best_of_n(select, {"gold": gold}, [1, 4])
    assert recs[0]["gold"] == pytest.approx(0.75) and recs[0]["kl"] == 0.0
    assert recs[1]["gold"] == 0.0  # the proxy's favourite is wrong


def test_group_advantages_and_agreement():
    a = group_advantages(np.array([1.0, 0.0, 1.0, 0.0, 2.0, 2.0]), 2)
    assert a == pytest.approx([1, -1, 1, -1, 0, 0])
    assert pair_agreement(np.array([1.0, 2, 3]), np.array([10.0, 20, 30]), 3) == 1.0
    assert pair_agreement(np.array([1.0, 2, 3]), np.array([30.0, 20, 10]), 3) == 0.0
    assert pair_agreement(np.zeros(3), np.arange(3.0), 3) is None


def test_reachable_agrees_with_the_task_solver():
    rng = random.Random(0)
    for _ in range(60):
        vals = tuple(sorted(rng.randint(1, 13) for _ in range(rng.choice([2, 3, 4]))))
        assert P.reachable(vals, 24) == G.solvable(vals, 24), vals
    assert P.reachable((Fraction(8, 3), 3, 8), 24) == G.solvable((Fraction(8, 3), 3, 8), 24)


def test_policy_writes_the_task_format_and_is_seeded():
    net = P.initial(0)
    a = P.sample(net, PROBS * 4, torch.Generator().manual_seed(3))
    b = P.sample(net, PROBS * 4, torch.Generator().manual_seed(3))
    assert a.texts == b.texts
    for p, text, writes in zip(a.problems, a.texts, a.writes):
        lines = text.splitlines()
        assert len(lines) == 3 == len(writes)
        if all(w == 0 for w in writes) and all("(left:" in ln for ln in lines):
            state, why = G.parse_trace(p, text)  # honest, neat traces replay exactly under the task's rules
            assert why == "ok", (text, why)
    logp, kl = P.trace_log_probs(net, a, P.initial(0))
    assert torch.all(logp < 0) and torch.allclose(kl, torch.zeros_like(kl), atol=1e-6)


def test_grpo_against_the_verifier_raises_gold_and_moves_every_parameter():
    net = P.initial(0)
    before = [p.detach().clone() for p in net.parameters()]
    log = []
    grpo(net, PROBS, verifier_reward(G), {"gold": verifier_reward(G)}, G.prompt,
         GRPOConfig(steps=15, prompts_per_step=3, group=6, lr=0.05), lambda m, ex: log.append(m))
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    first, last = np.mean([m["gold"] for m in log[:5]]), np.mean([m["gold"] for m in log[-5:]])
    assert last > first + 0.2, (first, last)
    assert log[-1]["kl"] > 0 and log[-1]["sqrt_kl"] == pytest.approx(math.sqrt(log[-1]["kl"]))
    with pytest.raises(ConfigError):
        GRPOConfig(group=1)
