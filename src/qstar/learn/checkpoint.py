"""Checkpoints: network weights in safetensors (with the game and architecture in its metadata),
optimizer and loop state beside them. Every write is atomic."""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from qstar.core.atomic import atomic_write, atomic_write_bytes
from qstar.core.errors import CheckpointError
from qstar.learn.resnet import PolicyValueNet, ResNetConfig

FORMAT = "qstar-pv-1"


def save_model(path: str | Path, net: PolicyValueNet, game_name: str, extra: dict | None = None) -> Path:
    meta = {"format": FORMAT, "game": game_name, "config": json.dumps(net.cfg.as_dict()),
            **{k: str(v) for k, v in (extra or {}).items()}}
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in net.state_dict().items()}
    return atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))


def read_metadata(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({e})") from None


def load_model(path: str | Path, game_name: str | None = None) -> PolicyValueNet:
    """Load a network; refuses a file made for another game or not by qstar, with a clear message."""
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a qstar policy-value checkpoint (format {meta.get('format')!r}, "
                              f"expected {FORMAT!r})")
    if game_name is not None and meta.get("game") != game_name:
        raise CheckpointError(f"{path} was trained for {meta.get('game')!r}, not {game_name!r}")
    try:
        net = PolicyValueNet(ResNetConfig(**json.loads(meta["config"])))
        net.load_state_dict(load_file(str(path)))
    except (KeyError, TypeError, RuntimeError, json.JSONDecodeError, SafetensorError) as e:
        raise CheckpointError(f"{path}: weights do not match the architecture in its metadata ({e})") from None
    net.eval()
    return net


def transplant(src: PolicyValueNet, dst: PolicyValueNet) -> list[str]:
    """Copies into ``dst`` every tensor of ``src`` with the same name and shape (for a network of the same
    trunk on another board size: the convolutions, not the board-sized linear layers); returns the names of
    ``dst``'s tensors left as they were."""
    have = src.state_dict()
    state = dst.state_dict()
    kept = [k for k, v in state.items() if k not in have or have[k].shape != v.shape]
    dst.load_state_dict({k: (v if k in kept else have[k].clone()) for k, v in state.items()})
    return kept


def save_torch(path: str | Path, obj) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_torch(path: str | Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as e:
        raise CheckpointError(f"{path} is unreadable ({e}); delete it or start a new run") from None
