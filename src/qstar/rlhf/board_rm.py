"""A reward model for Go boards, learned from comparisons, and the judge that uses it to decide games.

The model is the residual trunk of ``qstar.learn.resnet.PolicyValueNet`` (stem + blocks) with its own
scalar head: the policy-value net's value head ends in ``tanh``, which would cap Bradley–Terry score
differences at 2, and a reward model has no use for a policy head. Input planes are from the point of
view of the colour being judged: its stones, the opponent's, empty points, and the two prisoner counts
as constant planes. It is trained by the same Bradley–Terry loop as the text reward model
(``reward_model.fit_bradley_terry``), each minibatch in one random rotation/reflection of the board.

``RewardJudge`` decides a finished game by asking the model which side's view looks better:
Black wins when ``r(board, Black) > r(board, White)``. Like the raters it learned from, it knows no komi.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from qstar.core.errors import QstarError, check
from qstar.games.go.rules import BLACK, EMPTY, WHITE, Position
from qstar.learn.resnet import PolicyValueNet, ResNetConfig
from qstar.rlhf.board_labelers import Board, colour_of, parse_board
from qstar.rlhf.labelers import Comparison
from qstar.rlhf.reward_model import fit_bradley_terry, load_model_folder, save_model_folder

PLANES = 5


@dataclass(frozen=True)
class BoardRMConfig:
    size: int = 7
    blocks: int = 2
    channels: int = 32
    hidden: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self):
        check(self.blocks >= 0 and self.channels >= 1 and self.hidden >= 1, "blocks >= 0, channels, hidden >= 1")
        check(self.epochs >= 1 and self.batch_size >= 1 and self.lr > 0, "epochs, batch_size >= 1 and lr > 0")


def planes(boards: Sequence[Board], colours: Sequence[int]) -> np.ndarray:
    """[B, 5, size, size]: the colour's stones, the opponent's, empty points, prisoners the colour took / 10,
    prisoners the opponent took / 10."""
    s = boards[0].size if boards else 1
    out = np.zeros((len(boards), PLANES, s, s), np.float32)
    for i, (b, c) in enumerate(zip(boards, colours)):
        cells = np.frombuffer(b.cells, np.uint8).reshape(s, s)
        out[i, 0] = cells == c
        out[i, 1] = cells == 3 - c
        out[i, 2] = cells == EMPTY
        took = {BLACK: b.prisoners[0], WHITE: b.prisoners[1]}
        out[i, 3] = took[c] / 10.0
        out[i, 4] = took[3 - c] / 10.0
    return out


class BoardRM(torch.nn.Module):
    """x [B, 5, size, size] -> reward [B] (unbounded) for the colour the planes are drawn for."""

    def __init__(self, cfg: BoardRMConfig):
        super().__init__()
        self.cfg = cfg
        s = cfg.size
        trunk = PolicyValueNet(ResNetConfig(PLANES, s, s, 1, blocks=cfg.blocks, channels=cfg.channels))
        self.stem, self.blocks = trunk.stem, trunk.blocks
        self.head = torch.nn.Sequential(torch.nn.Conv2d(cfg.channels, 2, 1), torch.nn.ReLU(), torch.nn.Flatten(),
                                        torch.nn.Linear(2 * s * s, cfg.hidden), torch.nn.ReLU(),
                                        torch.nn.Linear(cfg.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x))).squeeze(-1)

    def score(self, boards: Sequence[Board], colours: Sequence[int]) -> np.ndarray:
        if not boards:
            return np.zeros(0, np.float32)
        with torch.no_grad():
            return self(torch.from_numpy(planes(boards, colours))).numpy()

    def reward(self, prompts: Sequence[str], completions: Sequence[str], **kwargs) -> list[float]:
        """TRL's reward-function signature: the prompt names the colour, the completion is a board as text."""
        colours = [BLACK if "for black" in p else WHITE if "for white" in p else 0 for p in prompts]
        if 0 in colours:
            raise QstarError("a Go board prompt must say 'for black' or 'for white'")
        return self.score([parse_board(c) for c in completions], colours).tolist()


def _sym(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 rotations/reflections of the board planes (k in 0..7)."""
    if k >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, k % 4, dims=(-2, -1))


def train_board_rm(rows: Sequence[Comparison], cfg: BoardRMConfig = BoardRMConfig()) -> tuple[BoardRM, dict]:
    """Bradley–Terry on board comparisons (TRL rows). Returns (model, stats)."""
    if not rows:
        raise QstarError("no comparisons to train a board reward model on")
    colours = [colour_of(r) for r in rows]
    chosen = torch.from_numpy(planes([parse_board(r.chosen) for r in rows], colours))
    rejected = torch.from_numpy(planes([parse_board(r.rejected) for r in rows], colours))
    check(chosen.shape[-1] == cfg.size, f"comparisons are {chosen.shape[-1]}x{chosen.shape[-1]} boards, "
                                        f"the reward model is for {cfg.size}x{cfg.size}")
    torch.manual_seed(cfg.seed)
    model = BoardRM(cfg)
    sym_rng = np.random.default_rng(cfg.seed + 1)

    def pair_scores(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        k = int(sym_rng.integers(8))
        both = model(_sym(torch.cat([chosen[idx], rejected[idx]]), k))
        return both[: len(idx)], both[len(idx):]

    stats = fit_bradley_terry(model, len(rows), pair_scores, cfg.lr, cfg.weight_decay, cfg.epochs,
                              cfg.batch_size, cfg.seed)
    return model, stats


def save_board_rm(model: BoardRM, path: str | Path, meta: dict | None = None) -> Path:
    return save_model_folder(model, path, "board_rm", meta)


def load_board_rm(path: str | Path) -> BoardRM:
    return load_model_folder(path, "board_rm", lambda c: BoardRM(BoardRMConfig(**c)),
                             "a board reward model folder written by qstar rlhf go")


class RewardJudge:
    """Decides a finished position by the reward model: the colour whose view it scores higher wins."""

    def __init__(self, model: BoardRM):
        self.model = model

    def margins(self, boards: Sequence[Board]) -> np.ndarray:
        """r(board, Black) − r(board, White) per board: how far the model thinks Black is ahead."""
        r = self.model.score([b for b in boards for _ in (0, 1)], [c for _ in boards for c in (BLACK, WHITE)])
        return r[0::2] - r[1::2]

    def __call__(self, pos: Position) -> int:
        m = float(self.margins([Board.of(pos)])[0])
        return BLACK if m > 0 else WHITE if m < 0 else EMPTY
