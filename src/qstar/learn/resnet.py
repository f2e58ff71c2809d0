"""A small policy-value ResNet (AlphaZero's architecture, scaled for a 2-core CPU)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from qstar.core.errors import check


@dataclass(frozen=True)
class ResNetConfig:
    in_channels: int
    height: int
    width: int
    num_actions: int
    blocks: int = 4  # residual blocks
    channels: int = 64  # filters per convolution
    policy_channels: int = 4
    value_channels: int = 2
    value_hidden: int = 64

    def __post_init__(self):
        check(self.blocks >= 0 and self.channels >= 1, "blocks must be >= 0 and channels >= 1")

    def as_dict(self) -> dict:
        return asdict(self)

    def differences(self, run: "ResNetConfig", fields: tuple[str, ...] | None = None) -> str:
        """Where this network's shape differs from a run's, e.g. ``channels 12 (the run's: 8)``; '' if nowhere."""
        have, want = self.as_dict(), run.as_dict()
        return ", ".join(f"{k} {have[k]} (the run's: {want[k]})" for k in (fields or want) if have[k] != want[k])


class _Block(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y)


class PolicyValueNet(nn.Module):
    """x [B, C, H, W] -> (policy logits [B, num_actions], value [B] in (-1, 1) for the player to move)."""

    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        self.cfg = cfg
        c, hw = cfg.channels, cfg.height * cfg.width
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(*[_Block(c) for _ in range(cfg.blocks)])
        self.policy_conv = nn.Sequential(nn.Conv2d(c, cfg.policy_channels, 1, bias=False),
                                         nn.BatchNorm2d(cfg.policy_channels), nn.ReLU())
        self.policy_fc = nn.Linear(cfg.policy_channels * hw, cfg.num_actions)
        self.value_conv = nn.Sequential(nn.Conv2d(c, cfg.value_channels, 1, bias=False),
                                        nn.BatchNorm2d(cfg.value_channels), nn.ReLU())
        self.value_fc = nn.Sequential(nn.Linear(cfg.value_channels * hw, cfg.value_hidden), nn.ReLU(),
                                      nn.Linear(cfg.value_hidden, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] > self.cfg.in_channels:  # a network with fewer planes than the game encodes reads the first
            x = x[:, :self.cfg.in_channels]
        h = self.blocks(self.stem(x))  # (B, c, H, W)
        logits = self.policy_fc(self.policy_conv(h).flatten(1))  # (B, A)
        value = torch.tanh(self.value_fc(self.value_conv(h).flatten(1))).squeeze(1)  # (B,)
        return logits, value

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def fused_for_inference(self) -> "PolicyValueNet":
        """A copy with every BatchNorm folded into the convolution before it (same outputs up to rounding,
        about 20% faster on a CPU). For inference only: the copy does not follow later training."""
        f = copy.deepcopy(self).eval()
        for b in f.blocks:
            b.conv1, b.bn1 = fuse_conv_bn_eval(b.conv1, b.bn1), nn.Identity()
            b.conv2, b.bn2 = fuse_conv_bn_eval(b.conv2, b.bn2), nn.Identity()
        for seq in (f.stem, f.policy_conv, f.value_conv):
            seq[0], seq[1] = fuse_conv_bn_eval(seq[0], seq[1]), nn.Identity()
        return f
