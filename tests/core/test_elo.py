import pytest

from qstar.core.elo import MatchResult, elo_from_score


def test_elo_and_interval():
    assert elo_from_score(0.5) == pytest.approx(0.0)
    assert elo_from_score(0.75) == pytest.approx(190.85, abs=0.1)
    r = MatchResult(30, 10, 10)
    assert r.score == pytest.approx(0.7)
    lo, hi = r.elo_interval()
    assert lo < r.elo() < hi and lo > 0
    sweep = MatchResult(20, 0, 0)
    assert sweep.elo() < 1000 and sweep.elo_interval()[0] > 100
    d = r.as_dict()
    assert d["games"] == 50 and d["score_ci95"][0] < 0.7 < d["score_ci95"][1]
