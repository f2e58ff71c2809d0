"""Move choice for the GTP engine and matches: MCTS from ``qstar.search`` with a network, or with random
playouts when there is no network (the engine then calls itself ``mcts-playouts``, never a random player)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from qstar.core.errors import ConfigError, check
from qstar.games.go.game import PASS_RULES, GoConfig, GoGame
from qstar.games.go.rules import Position, point_to_gtp

AUTO = "auto"  # SearchConfig.pass_rule: the rule the network was trained under


@dataclass(frozen=True)
class SearchConfig:
    simulations: int = 200  # MCTS simulations per move (ignored when seconds > 0)
    seconds: float = 0.0  # thinking time per move; 0 = use simulations
    resign_threshold: float = -0.9  # resign when the search's value for the mover falls below; -1 never resigns
    resign_after: int = 20  # no resignation before this many moves
    playouts: int = 1  # random playouts per leaf when there is no network
    reuse_tree: bool = True  # keep the subtree of the moves since the last search, as self-play does
    symmetries: int = 1  # average the network over this many of the board's 8 symmetries (NetworkEvaluator)
    seed: int = 0
    pass_rule: str = "any"  # GoConfig.pass_rule of the engine's own search (the opponent's moves are never limited);
    # "auto": the rule the network was trained under (its checkpoint says; "any" without one or without a network)

    def __post_init__(self):
        check(self.simulations >= 1, f"--sims must be >= 1, got {self.simulations}")
        check(self.seconds >= 0, f"--time must be >= 0 seconds, got {self.seconds}")
        check(-1.0 <= self.resign_threshold <= 0.0, f"resign threshold must be in [-1, 0], got {self.resign_threshold}")
        check(1 <= self.symmetries <= 8, f"--symmetries must be 1..8, got {self.symmetries}")
        check(self.playouts >= 1, f"playouts must be >= 1, got {self.playouts}")
        check(self.pass_rule in (*PASS_RULES, AUTO),
              f"--pass-rule must be one of {', '.join((*PASS_RULES, AUTO))}, got {self.pass_rule!r}")


@dataclass(frozen=True)
class Decision:
    action: int  # a point, the pass (size * size), or RESIGN
    value: float  # search's value for the mover, in [-1, 1]
    simulations: int


RESIGN = -1


class MctsMover:
    """Chooses a move by MCTS (no noise): the most visited child. Each move adds its simulations to what the
    last search found below the present position (subtree reuse), when the game went on from it."""

    def __init__(self, game: GoGame, evaluator, cfg: SearchConfig, name: str):
        from qstar.search import MCTSConfig
        self.game, self.evaluator, self.cfg, self.name = game, evaluator, cfg, name
        self.tree = None  # the last search's tree
        self.mcts = MCTSConfig(num_simulations=min(cfg.simulations, 32) if cfg.seconds else cfg.simulations,
                               leaves_per_step=8)

    def decide(self, pos: Position, seconds: float | None = None) -> Decision:
        """``seconds`` overrides the configured thinking time for this move (from GTP time_left)."""
        import numpy as np

        from qstar.search import run_mcts
        game = self.game
        if game.is_terminal(pos):
            return Decision(game.pass_action, 0.0, 0)
        legal = game.legal_mask(pos)
        if legal.sum() == 1:  # only the pass
            return Decision(game.pass_action, 0.0, 0)
        tree = self._tree(pos)
        budget = self.cfg.seconds if seconds is None else seconds
        deadline = time.perf_counter() + budget
        run_mcts([tree], self.evaluator, self.mcts)
        while budget and time.perf_counter() < deadline:
            run_mcts([tree], self.evaluator, self.mcts)
        visits = tree.visit_counts()
        value = tree.root_value()
        sims = int(visits.sum())
        if pos.move_number >= self.cfg.resign_after and value < self.cfg.resign_threshold:
            return Decision(RESIGN, value, sims)
        root = tree.root
        q = np.where(visits > 0, tree.W[root] / np.maximum(visits, 1), -2.0)
        best = np.lexsort((q, visits))[-1]  # most visited, ties broken by the better mean value
        return Decision(int(best), value, sims)

    def _tree(self, pos: Position):
        """The tree to search ``pos`` in: the last one, its root moved down the moves played since, when
        ``pos`` continues that game by moves (no undo, setup or change of the side to move in between);
        otherwise a fresh one."""
        from qstar.search import Tree
        old, self.tree = self.tree, None
        if old is not None and self.cfg.reuse_tree:
            root, path, q = old.root_state, [], pos
            while q is not None and q.move_number > root.move_number and q.last_move is not None:
                path.append(q.last_move)
                q = q.parent
            if (q is not None and q.move_number == root.move_number and q.board == root.board
                    and q.to_play == root.to_play and q.passes == root.passes and q.moves() == root.moves()):
                for a in reversed(path):
                    old.advance(a)
                if old.forest.size > old.forest.capacity // 2:
                    old.forest.compact([old])
                self.tree = old
        if self.tree is None:
            self.tree = Tree(self.game, pos)
        return self.tree

    def analysis(self, pos: Position, chunk: int = 16):
        """Search ``pos`` without end (GTP ``lz-analyze``), yielding the tree after every ``chunk`` simulations;
        the caller decides when to stop and reads the tree with ``analysis_info``."""
        from dataclasses import replace

        from qstar.search import Tree, run_mcts
        tree = Tree(self.game, pos)
        cfg = replace(self.mcts, num_simulations=chunk)
        searchable = not self.game.is_terminal(pos)
        while True:
            if searchable:
                run_mcts([tree], self.evaluator, cfg)
            yield tree


def analysis_info(tree, size: int, minmoves: int = 0, maxmoves: int | None = None, pv_moves: int = 12) -> str:
    """The search's view of the root as one Leela Zero ``lz-analyze`` line: ``info move D4 visits 120 winrate 5312
    prior 1840 order 0 pv D4 C3 ...`` for each visited move, most visited first (winrate and prior are 10000 x
    the mover's win probability (value + 1) / 2 and the network's prior). With ``minmoves``, unvisited legal moves
    follow by prior, with the value the search assumes for an unvisited move. Empty when nothing is searched."""
    import numpy as np
    root = tree.root
    if not tree.expanded[root]:
        return ""
    n, w, p, q = tree.N[root], tree.W[root], tree.P[root], tree.Q[root]
    visited = sorted(np.flatnonzero(n > 0), key=lambda a: (-n[a], -w[a] / n[a]))
    unvisited = sorted(np.flatnonzero(tree.legal[root] & (n == 0)), key=lambda a: -p[a])
    moves = visited + unvisited[:max(0, minmoves - len(visited))]
    parts = []
    for order, a in enumerate(moves[:maxmoves]):
        value = w[a] / n[a] if n[a] > 0 else q[a]
        pv = tree.principal_variation(a, pv_moves)
        parts.append(f"info move {point_to_gtp(int(a), size)} visits {int(n[a])} "
                     f"winrate {int(round(5000 * (float(value) + 1)))} prior {int(round(10000 * float(p[a])))} "
                     f"order {order} pv {' '.join(point_to_gtp(x, size) for x in pv)}")
    return " ".join(parts)


NO_MODEL = "none"  # --model none: the model-free engine (MCTS with random playouts)


def shipped_model(size: int) -> Path | None:
    """The network shipped with qstar for this board size (``qstar/models/go<size>.safetensors``), if any."""
    from importlib import resources
    path = Path(str(resources.files("qstar") / "models" / f"go{size}.safetensors"))
    return path if path.is_file() else None


def resolve_model(model: str | Path | None, size: int) -> Path | None:
    """What plays when the user asks for ``model``: None (not given) means the shipped network for this board
    size, or none when there is no such network; ``none`` means no network; anything else is a checkpoint."""
    if model is None:
        return shipped_model(size)
    if str(model).lower() == NO_MODEL:
        return None
    return Path(model)


def resolve_pass_rule(rule: str, model: str | Path | None) -> str:
    """``rule``, or for "auto" the pass rule recorded in the checkpoint ``model`` ("any" if none is)."""
    if rule != AUTO:
        return rule
    if model is None:
        return "any"
    from qstar.learn.checkpoint import read_metadata
    return read_metadata(model).get("pass_rule", "any")


def make_mover(size: int, komi: float, cfg: SearchConfig, model: str | Path | None = None) -> MctsMover:
    """MCTS with the network in ``model`` (a qstar checkpoint trained for Go on this board size), or with
    random playouts when ``model`` is None (callers resolve defaults with ``resolve_model`` first)."""
    if model is None:
        from qstar.games.go.playout import PlayoutEvaluator
        game = GoGame(GoConfig(size=size, komi=komi, max_moves=8 * size * size,
                               pass_rule=resolve_pass_rule(cfg.pass_rule, None)))
        return MctsMover(game, PlayoutEvaluator(game, cfg.playouts, cfg.seed), cfg, name="mcts-playouts")
    import torch

    from qstar.learn.checkpoint import load_model
    from qstar.learn.evaluator import NetworkEvaluator
    torch.set_num_threads(1)
    net = load_model(model, game_name=f"go{size}")
    history = (net.cfg.in_channels - 1) // 2
    if net.cfg.in_channels != 2 * history + 1 or net.cfg.height != size:
        raise ConfigError(f"{model} does not fit a {size}x{size} Go board (input {net.cfg.in_channels}x"
                          f"{net.cfg.height}x{net.cfg.width})")
    game = GoGame(GoConfig(size=size, komi=komi, history=history, max_moves=8 * size * size,
                           pass_rule=resolve_pass_rule(cfg.pass_rule, model)))
    name = f"mcts-net:{Path(model).name}" + (f" x{cfg.symmetries} symmetries" if cfg.symmetries > 1 else "")
    return MctsMover(game, NetworkEvaluator(game, net, symmetries=cfg.symmetries), cfg, name=name)
