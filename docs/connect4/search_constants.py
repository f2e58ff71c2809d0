"""Experiment behind docs/connect4.md ("The search's constants"): mistake rate of the shipped network at 400
simulations on each half of a benchmark set, for several search configurations.

    .venv/bin/python docs/connect4/search_constants.py Test_L2_R2 '{}' '{"c_puct_init": 0.75}' ...

Each further argument is a JSON object of ``MCTSConfig`` fields. Two torch threads. Prints, per configuration,
the mistake rate on positions 1-500, 501-1000 and all 1000.
"""

import json
import sys
import time

import numpy as np
import torch

from qstar.cli.games import _load_net
from qstar.games.connect4 import Connect4
from qstar.games.connect4.benchmark import bundled_path, load_positions, mistake_rate
from qstar.learn.evaluator import NetworkEvaluator
from qstar.search import MCTSConfig, MCTSPlayer


def main() -> None:
    torch.set_num_threads(2)
    game = Connect4()
    net, _ = _load_net("connect4", None)
    ev = NetworkEvaluator(game, net)
    for fields in (json.loads(x) for x in sys.argv[2:]):
        for name in sys.argv[1].split(","):
            pos = load_positions(bundled_path(name))
            t0, rng = time.perf_counter(), np.random.default_rng(0)
            player = MCTSPlayer(game, ev, MCTSConfig(num_simulations=400, **fields))
            r = [mistake_rate(half, lambda s: player.select(s, rng)) for half in (pos[:500], pos[500:])]
            print(name, fields, f"{100 * r[0]:.1f}% / {100 * r[1]:.1f}% / all {50 * (r[0] + r[1]):.2f}%",
                  f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
