"""Cheap ways to get more out of a finished Connect Four run without another run: judged on the truth.

    .venv/bin/python docs/connect4/after_the_loop.py finetune RUN --planes 3 --steps 3000   # on the last buffer
    .venv/bin/python docs/connect4/after_the_loop.py average RUN --last 4                   # mean of the last K nets
    .venv/bin/python docs/connect4/after_the_loop.py mirror RUN                             # net and its mirror

- ``finetune``: keep training the run's last network on the run's last replay buffer (lr 6e-4, then 2e-4 for
  the second half); ``--planes 3`` first grafts the colour plane onto it (the first convolution gets zero
  weights for the new plane, so it starts as the same function).
- ``average``: the mean of the weights of the run's last K checkpoints (BatchNorm statistics re-estimated on
  20,000 positions of the buffer), as KataGo and SWA average weights.
- ``mirror``: each evaluation is the mean of the network's output on the position and on its mirror image
  (``NetworkEvaluator(symmetries=2)``).

Prints one JSON line: per bundled set, the value's squared error against the truth, mistakes of the network alone
and at ``--sims`` simulations. One torch thread.
"""

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from value_head_sweep import ExtraPlanes, judge, load_buffer  # noqa: E402

from qstar.learn.checkpoint import load_model  # noqa: E402
from qstar.learn.resnet import PolicyValueNet  # noqa: E402
from qstar.learn.trainer import loss_terms  # noqa: E402


def finetune(net, data, steps: int, planes: int, seed: int):
    if planes == 3:
        grafted = PolicyValueNet(replace(net.cfg, in_channels=3))
        sd = net.state_dict()
        sd["stem.0.weight"] = torch.cat([sd["stem.0.weight"], torch.zeros_like(sd["stem.0.weight"][:, :1])], 1)
        grafted.load_state_dict(sd)
        net = ExtraPlanes(grafted, 3)
    obs, pi, z = (torch.from_numpy(x) for x in data)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=6e-4, weight_decay=1e-4)
    net.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = 6e-4 if step < steps // 2 else 2e-4
        idx = torch.from_numpy(rng.integers(0, len(z), 256))
        policy_loss, value_loss = loss_terms(net, obs[idx], pi[idx], z[idx])
        opt.zero_grad(set_to_none=True)
        (policy_loss + value_loss).backward()
        opt.step()
    return net.eval()


def average(run: Path, last: int, k: int, obs: np.ndarray):
    nets = [load_model(run / f"model_{i:04d}.safetensors") for i in range(last - k + 1, last + 1)]
    avg = nets[-1]
    sd = {n: (sum(m.state_dict()[n] for m in nets) / k if t.dtype.is_floating_point else t)
          for n, t in avg.state_dict().items()}
    avg.load_state_dict(sd)
    for m in avg.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a plain mean over the batches below
    avg.train()
    x = torch.from_numpy(obs[:: max(1, len(obs) // 20000)][:20000])
    with torch.no_grad():
        for i in range(0, len(x), 500):
            avg(x[i:i + 500])
    return avg.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("finetune", "average", "mirror"))
    ap.add_argument("run", type=Path)
    ap.add_argument("--planes", type=int, default=2, choices=(2, 3))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--last", type=int, default=4, help="average: how many checkpoints")
    ap.add_argument("--sims", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    state = json.loads((a.run / "state.json").read_text())
    it = int(state["iteration"])
    t0 = time.perf_counter()
    if a.mode == "mirror":
        net = load_model(a.run / f"model_{it:04d}.safetensors")
    else:
        data = load_buffer(str(a.run / f"replay_{it:04d}.npz"))
        net = (finetune(load_model(a.run / f"model_{it:04d}.safetensors"), data, a.steps, a.planes, a.seed)
               if a.mode == "finetune" else average(a.run, it, a.last, data[0]))
    row = {"mode": a.mode, "run": str(a.run), "iteration": it, "planes": a.planes, "steps": a.steps,
           "last": a.last, "seconds": round(time.perf_counter() - t0)}
    row["sets"] = judge(net, a.sims, "cpu", symmetries=2 if a.mode == "mirror" else 1)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
