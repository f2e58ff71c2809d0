"""Where do the benchmark positions come from, and how well does a network's value head judge them?

For each bundled set: the mean probability the network's policy gives the moves that led to the first 300
positions, next to the uniform 1/legal (equal means the positions were reached by random play, not by good
play); over all 1000 positions, the share whose value sign (win > 1/3 > draw > -1/3 > loss) is right and the
value's mean squared error against the truth (+1 win, 0 draw, -1 loss; always answering 0 scores the share of
decided positions).

    .venv/bin/python docs/connect4/probe_positions.py [MODEL ...]   # default: the shipped network
"""

import sys
from importlib import resources

import numpy as np

from qstar.games.connect4 import Connect4
from qstar.games.connect4.benchmark import BUNDLED, bundled_path, load_positions
from qstar.learn.checkpoint import load_model
from qstar.learn.evaluator import NetworkEvaluator

game = Connect4()
models = sys.argv[1:] or [str(resources.files("qstar") / "models" / "connect4.safetensors")]
for model in models:
    ev = NetworkEvaluator(game, load_model(model, "connect4"))
    print(model)
    for name in BUNDLED:
        played, uniform = [], []
        for line in bundled_path(name).read_text().splitlines()[:300]:
            s = game.initial_state()
            for ch in line.split()[0]:
                a = int(ch) - 1
                priors, _ = ev.forward([s])
                played.append(priors[0, a])
                uniform.append(1 / game.legal_mask(s).sum())
                s = game.next_state(s, a)
        pos = load_positions(bundled_path(name))
        _, v = ev.forward([p.state for p in pos])
        truth = np.array([np.sign(p.values.max()) for p in pos])
        pred = np.where(v > 1 / 3, 1, np.where(v < -1 / 3, -1, 0))
        print(f"  {name}: policy gives the played moves {np.mean(played):.3f} (uniform {np.mean(uniform):.3f}); "
              f"value sign right on {100 * (pred == truth).mean():.1f}%, squared error {np.mean((v - truth) ** 2):.3f}")
