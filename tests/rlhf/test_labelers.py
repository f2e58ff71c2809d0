import random

import pytest

from qstar.core.errors import QstarError
from qstar.reasoning.game24 import Game24
from qstar.reasoning.task import Problem
from qstar.rlhf.labelers import (Comparison, GoldLabeler, Vibe, VibeLabeler, compare, problem_of, read_comparisons,
                                 vibe_features, write_comparisons)

G = Game24()
P = Problem((4, 5, 6, 10), 24)
RIGHT = "10 - 4 = 6 (left: 5 6 6)\n5 * 6 = 30 (left: 6 30)\n30 - 6 = 24 (left: 24)"
LIE = "10 - 4 = 6 (left: 5 6 6)\n5 + 6 = 11 (left: 6 11)\n11 + 6 = 24 (left: 24)"  # 11 + 6 is 17
HONEST_WRONG = "10 - 4 = 6 (left: 5 6 6)\n5 + 6 = 11 (left: 6 11)\n11 + 6 = 17 (left: 17)"
TERSE = "10 - 4 = 6\n5 * 6 = 30\n30 - 6 = 24"


def test_vibe_features_golden():
    assert vibe_features(P, RIGHT) == {"claims_target": 1.0, "neat": 1.0, "uses_all": 1.0, "length": 1.0}
    assert vibe_features(P, LIE) == {"claims_target": 1.0, "neat": 1.0, "uses_all": 1.0, "length": 1.0}
    assert vibe_features(P, HONEST_WRONG)["claims_target"] == 0.0
    assert vibe_features(P, TERSE)["neat"] == 0.0
    f = vibe_features(P, "10 - 4 = 6 (left: 5 6 6)")
    assert f["length"] == pytest.approx(1 / 3) and f["uses_all"] == 0.0 and f["claims_target"] == 0.0
    assert vibe_features(P, "")["length"] == 0.0


def test_vibe_rater_cannot_tell_a_lie_from_the_truth_but_the_verifier_can():
    rng = random.Random(0)
    sharp = VibeLabeler(Vibe(temperature=0))
    assert sharp.prob_first(P, LIE, HONEST_WRONG) == 1.0
    assert sharp.prob_first(P, RIGHT, LIE) == 0.5
    gold = GoldLabeler(G)
    assert all(gold.prefers_first(P, RIGHT, LIE, rng) for _ in range(20))
    assert not any(gold.prefers_first(P, HONEST_WRONG, RIGHT, rng) for _ in range(20))


def test_noisy_rater_follows_bradley_terry():
    lab = VibeLabeler(Vibe(temperature=1.0))
    p = lab.prob_first(P, LIE, HONEST_WRONG)
    assert p == pytest.approx(1 / (1 + 2.718281828 ** -2.0), rel=1e-6)  # claims_target weight 2
    rng = random.Random(1)
    share = sum(lab.prefers_first(P, LIE, HONEST_WRONG, rng) for _ in range(4000)) / 4000
    assert abs(share - p) < 0.03


def test_comparisons_round_trip_in_trl_columns(tmp_path):
    rows = compare(VibeLabeler(Vibe(temperature=0)), [P, P, P], [LIE, RIGHT, RIGHT], [HONEST_WRONG, RIGHT, TERSE],
                   G.prompt, seed=0)
    assert len(rows) == 2  # the identical pair is skipped
    assert rows[0] == Comparison(G.prompt(P), LIE, HONEST_WRONG, "4 5 6 10 -> 24", "vibe")
    path = write_comparisons(tmp_path / "c.jsonl", rows)
    import json
    first = json.loads(path.read_text().splitlines()[0])
    assert {"prompt", "chosen", "rejected"} <= set(first)
    assert read_comparisons(path) == rows
    assert problem_of(rows[0]) == P
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_bad_comparison_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    with pytest.raises(QstarError, match="bad.jsonl:1"):
        read_comparisons(bad)
    with pytest.raises(QstarError, match="does not exist"):
        read_comparisons(tmp_path / "missing.jsonl")
