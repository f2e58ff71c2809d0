"""Which network shape judges the hard positions best? Train several shapes on one fixed replay buffer and
compare them on the truth.

Every shape learns from scratch on the same positions (a run's saved ``replay_NNNN.npz``, the loop's own
targets), with the loop's optimiser, batch and learning-rate steps; 5% of the buffer is held out. Reported per
shape: parameters, held-out value loss, and on each bundled set the value's squared error against the truth
(+1 / 0 / -1), the network-alone mistake rate and the mistake rate with search. A buffer is one run's data, so
this ranks shapes for that data; a shape that wins here still has to win inside the loop. ``--planes 3`` adds
the colour plane (the player to move moved first), ``--planes 4`` also a plane of ones.

    .venv/bin/python docs/connect4/value_head_sweep.py --buffer runs/c4-v3/replay_0040.npz \
        --steps 12000 --sims 400 --shapes 4x48v2h64,4x48v8h128 [--planes 3] [--seed 1] [--device cuda]
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from qstar.games.connect4 import Connect4
from qstar.games.connect4.benchmark import BUNDLED, bundled_path, load_positions, mistake_rate
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.resnet import PolicyValueNet, ResNetConfig
from qstar.search import MCTSConfig, MCTSPlayer, PolicyPlayer


def parse_shape(s: str, planes: int = 2) -> ResNetConfig:
    """'4x48v2h64' -> 4 blocks, 48 channels, 2 value channels, 64 value hidden units."""
    trunk, rest = s.split("v")
    vc, vh = rest.split("h")
    blocks, channels = trunk.split("x")
    return ResNetConfig(in_channels=planes, height=6, width=7, num_actions=7, blocks=int(blocks),
                        channels=int(channels), value_channels=int(vc), value_hidden=int(vh))


class ExtraPlanes(torch.nn.Module):
    """The game's two planes plus, with planes=3, a colour plane (1 where the player to move moved first: both
    have as many stones) and, with planes=4, a plane of ones (so the convolutions see the board's edge)."""

    def __init__(self, net: PolicyValueNet, planes: int):
        super().__init__()
        self.net, self.planes = net, planes

    def forward(self, x):
        x = x[:, :2]  # the stones (today's encoding already has the colour plane third)
        extra = [(x[:, 0].sum((1, 2)) == x[:, 1].sum((1, 2))).to(x.dtype)[:, None, None, None].expand_as(x[:, :1])]
        if self.planes == 4:
            extra.append(torch.ones_like(x[:, :1]))
        return self.net(torch.cat([x, *extra], 1))

    def num_parameters(self) -> int:
        return self.net.num_parameters()


def load_buffer(path: str):
    with np.load(path) as d:
        obs = d["obs"]
        if obs.dtype == np.uint8:  # packed by --pack
            planes = int(d["planes"]) if "planes" in d.files else 2
            obs = np.unpackbits(obs, axis=1)[:, :planes * 42].reshape(-1, planes, 6, 7)
        return obs.astype(np.float32)[:, :2], d["pi"].astype(np.float32), d["z"].astype(np.float32)


def train(cfg: ResNetConfig, data, steps: int, device: str, seed: int) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    obs, pi, z = (torch.from_numpy(x).to(device) for x in data)
    n = len(z)
    held = rng.permutation(n)[: n // 20]
    mask = np.ones(n, bool)
    mask[held] = False
    train_idx = np.flatnonzero(mask)
    net = PolicyValueNet(cfg)
    net = (net if cfg.in_channels == 2 else ExtraPlanes(net, cfg.in_channels)).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    net.train()
    for step in range(steps):  # the loop's steps: 2e-3, 6e-4 from half way, 2e-4 from 80%
        lr = 2e-3 if step < steps // 2 else 6e-4 if step < steps * 4 // 5 else 2e-4
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.from_numpy(rng.choice(train_idx, 256)).to(device)
        logits, v = net(obs[idx])
        loss = -(pi[idx] * F.log_softmax(logits, 1)).sum(1).mean() + F.mse_loss(v, z[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        h = torch.from_numpy(held).to(device)
        _, v = net(obs[h])
        held_loss = float(F.mse_loss(v, z[h]))
    return net.cpu(), {"held_out_value_loss": round(held_loss, 4)}


def judge(net: torch.nn.Module, sims: int, device: str, symmetries: int = 1) -> dict:
    game, out = Connect4(), {}
    rng = np.random.default_rng(0)
    for name in BUNDLED:
        pos = load_positions(bundled_path(name))
        ev = NetworkEvaluator(game, net, device=device, symmetries=symmetries)
        _, v = ev.forward([p.state for p in pos])
        truth = np.array([np.sign(p.values.max()) for p in pos])
        out[name] = {"value_sq_err": round(float(np.mean((v - truth) ** 2)), 3),
                     "mistake_policy": mistake_rate(pos, lambda s: PolicyPlayer(ev).select(s, rng)),
                     "mistake_search": mistake_rate(pos, lambda s: MCTSPlayer(game, ev, MCTSConfig(
                         num_simulations=sims)).select(s, rng))}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buffer", required=True)
    ap.add_argument("--shapes", default="4x48v2h64,4x48v8h128")
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--sims", type=int, default=400)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--planes", type=int, default=2, choices=(2, 3, 4),
                    help="input planes: 2 (the game's), 3 (+ colour to move), 4 (+ colour and ones)")
    ap.add_argument("--pack", metavar="OUT", help="write the buffer with bit-packed boards to OUT and stop")
    a = ap.parse_args()
    if a.pack:
        with np.load(a.buffer) as d:
            bits = np.packbits(d["obs"].reshape(len(d["z"]), -1).astype(np.uint8), axis=1)
            np.savez_compressed(a.pack, obs=bits, pi=d["pi"].astype(np.float16), z=d["z"],
                                planes=np.array(d["obs"].shape[1]))
        return
    data = load_buffer(a.buffer)
    for shape in a.shapes.split(","):
        t0 = time.perf_counter()
        net, row = train(parse_shape(shape, a.planes), data, a.steps, a.device, a.seed)
        row = {"shape": shape, "planes": a.planes, "seed": a.seed, "parameters": net.num_parameters(), "steps": a.steps, **row,
               "train_seconds": round(time.perf_counter() - t0, 1)}
        row["sets"] = judge(net, a.sims, a.device)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
