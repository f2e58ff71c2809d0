"""The speed benchmark runs and reports both sides (PettingZoo only when installed)."""

import importlib.util

from qstar.games.go.bench import run_bench


def test_bench_reports_rates_and_speedup():
    d = run_bench(size=9, seconds=0.4, rounds=2)
    assert d["qstar"]["playouts_per_s"] > 0 and 50 < d["qstar"]["mean_moves"] < 400
    if importlib.util.find_spec("pettingzoo") is None:
        assert d["pettingzoo"] is None and "speedup_playouts" not in d
    else:
        assert d["pettingzoo"]["games"] >= 2 and d["speedup_playouts"] > 0
