"""Training steps: policy cross-entropy to the search's visit distribution, value MSE to the game result,
weight decay through AdamW."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from qstar.learn.replay import ReplayBuffer


def loss_terms(net: torch.nn.Module, obs: torch.Tensor, pi: torch.Tensor, z: torch.Tensor):
    logits, v = net(obs)
    policy_loss = -(pi * F.log_softmax(logits, dim=1)).sum(1).mean()
    value_loss = F.mse_loss(v, z)
    return policy_loss, value_loss


def train_steps(net: torch.nn.Module, opt: torch.optim.Optimizer, buffer: ReplayBuffer, steps: int,
                batch_size: int, rng: np.random.Generator, progress=lambda n=1, **kw: None) -> dict:
    """Run ``steps`` SGD steps on batches sampled from ``buffer``; returns the mean losses."""
    net.train()
    dev = next(net.parameters()).device
    totals = np.zeros(2)
    for _ in range(steps):
        obs, pi, z = (torch.from_numpy(x).to(dev) for x in buffer.sample(batch_size, rng))
        pl, vl = loss_terms(net, obs, pi, z)
        opt.zero_grad(set_to_none=True)
        (pl + vl).backward()
        opt.step()
        totals += (pl.item(), vl.item())
        progress(1)
    net.eval()
    pl, vl = totals / max(steps, 1)
    return {"policy_loss": float(pl), "value_loss": float(vl), "loss": float(pl + vl)}
