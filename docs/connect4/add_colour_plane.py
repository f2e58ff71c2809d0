"""Give a run made before Connect Four's colour plane (two input planes) the third plane, so that
``qstar train connect4 --resume --final-steps N`` can add the final network to it.

    .venv/bin/python docs/connect4/add_colour_plane.py RUN

Rewrites RUN's last replay buffer (atomically) with plane 2 = 1 where the player to move moved first, which in
Connect Four is where both players have as many stones: what ``Connect4.encode`` now writes. The loop's own
network reads the first two planes, so the run's checkpoints stay as they are.
"""

import json
import sys
from pathlib import Path

import numpy as np

from qstar.games.connect4 import Connect4
from qstar.learn.replay import ReplayBuffer


def main() -> None:
    run = Path(sys.argv[1])
    it = json.loads((run / "state.json").read_text())["iteration"]
    path = run / f"replay_{it:04d}.npz"
    with np.load(path) as d:
        obs, pi, z, count = d["obs"], d["pi"], d["z"], int(d["count"])
    if obs.shape[1] == 3:
        print(f"{path} already has the colour plane")
        return
    game = Connect4()
    buf = ReplayBuffer(game.obs_shape, game.num_actions, len(z))  # the run's own format, written by its own code
    first = obs[:, 0].sum((1, 2)) == obs[:, 1].sum((1, 2))
    buf.obs[:, :2], buf.obs[:, 2] = obs, first[:, None, None]
    buf.pi[:], buf.z[:], buf.count, buf.size = pi, z, count, len(z)
    buf.save(path)
    print(f"{path}: {len(z)} positions, {int(first.sum())} with the first player to move")


if __name__ == "__main__":
    main()
