"""PUCT Monte Carlo Tree Search, batched across many trees at once.

Each step collects up to ``leaves_per_step`` leaves from every tree (virtual loss keeps the
selections apart), sends all of them to the evaluator in one call, then expands and backs up.
One tree and one leaf per step is the slow path (one position per network call) that
``qstar bench`` compares against.

Trees that share a ``Forest`` are searched in lockstep: the k-th leaf of every tree is selected
together (per tree the order of selections, and so the virtual losses each selection sees, is exactly that
of searching the trees one after another). The walks of a round and the edge updates of virtual loss and
backup run in compiled loops over the forest's arrays (``qstar.search.kernels``); creating the children
walked into and expanding the leaves are batched across the trees. The forest stores each edge's Q and each
node's PUCT factor C, refreshed where N or W change, so a walk computes only Q + C * P / (1 + N). A forest
holding a single tree is searched node by node in plain Python instead (same arithmetic, same choices).

The search is a function of its inputs: ``run_mcts(trees, evaluator, config, rng, add_noise)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qstar.core.errors import check
from qstar.core.evaluator import Evaluator
from qstar.search.kernels import puct_walks, update_edges
from qstar.search.tree import Forest, Tree


@dataclass(frozen=True)
class MCTSConfig:
    num_simulations: int = 100  # simulations added per call (per move)
    c_puct_init: float = 1.25  # AlphaZero: c(s) = log((1 + N + base) / base) + init
    c_puct_base: float = 19652.0
    dirichlet_alpha: float = 0.3  # about 10 / typical number of legal moves
    noise_weight: float = 0.25  # root prior = (1 - w) * prior + w * Dirichlet(alpha), self-play only
    leaves_per_step: int = 8  # leaves collected per tree before one evaluator call (virtual loss)
    virtual_loss: float = 1.0
    fpu_reduction: float = 0.0  # unvisited edges get Q = node value - fpu_reduction

    def __post_init__(self):
        check(self.num_simulations >= 1, f"num_simulations must be >= 1, got {self.num_simulations}")
        check(self.leaves_per_step >= 1, f"leaves_per_step must be >= 1, got {self.leaves_per_step}")
        check(self.c_puct_init > 0 and self.c_puct_base > 0, "c_puct_init and c_puct_base must be > 0")
        check(0.0 <= self.noise_weight <= 1.0, f"noise_weight must be in [0, 1], got {self.noise_weight}")
        check(self.dirichlet_alpha > 0, f"dirichlet_alpha must be > 0, got {self.dirichlet_alpha}")


def _exploration(total: np.ndarray, cfg: MCTSConfig) -> np.ndarray:
    """PUCT's c(N) * sqrt(N) for node visit totals N: c(N) = log((1 + N + base) / base) + init (AlphaZero)."""
    return (np.log((1.0 + cfg.c_puct_base + total) / cfg.c_puct_base) + cfg.c_puct_init) * np.sqrt(np.maximum(total, 1.0))


def _sync(f: Forest, cfg: MCTSConfig) -> None:
    """Make Q and C of the whole forest follow ``cfg``'s constants if they were computed with others."""
    key = (cfg.c_puct_init, cfg.c_puct_base, cfg.fpu_reduction)
    if f.derived_for == key:
        return
    k = f.size
    n, w = f.N[:k], f.W[:k]
    fpu = (f.value[:k] - cfg.fpu_reduction)[:, None]
    f.Q[:k] = np.where(f.legal[:k], np.where(n > 0, w / np.where(n > 0, n, 1.0), fpu), -np.inf)
    f.C[:k] = _exploration(f.Nsum[:k], cfg)
    f.derived_for = key


@dataclass
class _Paths:
    """The edges walked by a set of selections, flattened: edge e is (node[e], action[e]) on the path of
    leaf number ``leaf[e]`` (an index into the leaves of the same set)."""
    node: np.ndarray
    action: np.ndarray
    leaf: np.ndarray

    def take(self, keep_leaf: np.ndarray) -> "_Paths":
        """The paths of the leaves where ``keep_leaf`` (bool, one per leaf) holds, renumbered 0.. in order."""
        keep = keep_leaf[self.leaf]
        return _Paths(self.node[keep], self.action[keep], (np.cumsum(keep_leaf) - 1)[self.leaf[keep]])

    @staticmethod
    def concat(parts: Sequence["_Paths"], offsets: Sequence[int]) -> "_Paths":
        if not parts:
            e = np.zeros(0, np.int64)
            return _Paths(e, e, e)
        return _Paths(np.concatenate([p.node for p in parts]), np.concatenate([p.action for p in parts]),
                      np.concatenate([p.leaf + o for p, o in zip(parts, offsets)]))


def _select(f: Forest, roots: np.ndarray, cfg: MCTSConfig) -> tuple[np.ndarray, _Paths]:
    """One walk from each of ``roots`` [K] (distinct trees) down to a leaf (``puct_walks``, compiled), creating
    the children walked into for the first time. Applies no virtual loss: a walk never comes back to a node it
    left, so its own virtual loss could not change its choices; the caller applies it to the walks it keeps.
    Returns the leaves [K] and paths."""
    leaves, node, action, walk, last = puct_walks(f.stats, f.C, f.children, f.expanded, roots)
    new = np.flatnonzero(leaves < 0)
    if len(new):  # first visit: create the children (may grow the forest's arrays)
        e = last[new]
        leaves[new] = f.add_children(node[e], action[e])
    return leaves, _Paths(node, action, walk)


def _update(f: Forest, leaves: np.ndarray, p: _Paths, values: np.ndarray, dn: float, dw: float,
            cfg: MCTSConfig) -> None:
    """N += dn and W += (leaf value, from the edge's side) + dw on every edge of ``p``, Q and C refreshed
    (``update_edges``, compiled)."""
    update_edges(f.stats, f.Nsum, f.C, f.value, f.to_play, p.node, p.action, p.leaf, leaves,
                 np.asarray(values, np.float64), dn, dw, cfg.fpu_reduction, cfg.c_puct_init, cfg.c_puct_base)


def _add_virtual_loss(f: Forest, leaves: np.ndarray, p: _Paths, cfg: MCTSConfig) -> None:
    """N += vl, W -= vl on every edge of the paths."""
    _update(f, leaves, p, np.zeros(len(leaves)), cfg.virtual_loss, -cfg.virtual_loss, cfg)


def _backup(f: Forest, leaves: np.ndarray, p: _Paths, values: np.ndarray, vl: float, cfg: MCTSConfig) -> None:
    """``values`` [L] are for the player to move at each leaf; on each edge of its path the value is
    flipped when the player at the edge's node is not the leaf's (two players take turns, or one plays
    alone). ``vl`` is the virtual loss the paths carry, undone here. Edges may repeat (several leaves of
    one tree): every one is added."""
    _update(f, leaves, p, values, 1.0 - vl, vl, cfg)


def _expand(f: Forest, nodes: np.ndarray, priors: np.ndarray, values: np.ndarray, cfg: MCTSConfig) -> None:
    """Store the evaluator's priors (renormalised over legal moves; uniform if they give the legal moves no
    mass) and values for ``nodes`` [B] (distinct, none of their edges visited yet)."""
    g = f.game
    legal = np.array([g.legal_mask(f.states[n]) for n in nodes])  # (B, A)
    p = np.where(legal, priors, 0.0)
    s = p.sum(axis=1, keepdims=True)
    if (s > 0).all():
        p /= s
    else:
        p = np.where(s > 0, p / np.where(s > 0, s, 1.0), legal / np.maximum(legal.sum(axis=1, keepdims=True), 1))
    f.legal[nodes] = legal
    f.P[nodes] = p
    f.value[nodes] = values
    f.Q[nodes] = np.where(legal, (f.value[nodes] - cfg.fpu_reduction)[:, None], -np.inf)  # nothing visited yet
    f.C[nodes] = _exploration(f.Nsum[nodes], cfg)
    f.expanded[nodes] = True
    f.pending[nodes] = False


def add_root_noise(tree: Tree, cfg: MCTSConfig, rng: np.random.Generator) -> None:
    """Mix Dirichlet noise into the root's priors, once per root (self-play only)."""
    if tree.noised or cfg.noise_weight == 0.0 or tree.terminal[tree.root]:
        return
    P, root = tree.forest.P, tree.root
    legal = tree.forest.legal[root]
    noise = np.zeros_like(P[root])
    noise[legal] = rng.dirichlet([cfg.dirichlet_alpha] * int(legal.sum()))
    P[root] = (1 - cfg.noise_weight) * P[root] + cfg.noise_weight * noise
    tree.noised = True


def _by_forest(trees: Sequence[Tree]) -> list[tuple[Forest, np.ndarray]]:
    """Indices of ``trees`` grouped by the forest they live in, in order of first appearance."""
    groups: dict[int, tuple[Forest, list[int]]] = {}
    for i, t in enumerate(trees):
        groups.setdefault(id(t.forest), (t.forest, []))[1].append(i)
    return [(f, np.array(idx)) for f, idx in groups.values()]


def _select_step(f: Forest, roots: np.ndarray, remaining: np.ndarray, cfg: MCTSConfig
                 ) -> tuple[np.ndarray, _Paths]:
    """Up to ``leaves_per_step`` selections per tree (``roots`` [T] of one forest), round by round: the
    k-th selection of every tree together, each seeing the virtual loss of the tree's earlier ones. A
    selection that ends on a terminal node is backed up at once; one that runs into a leaf already waiting
    for the evaluator ends that tree's step. Decrements ``remaining`` [T] in place; returns the leaves to
    evaluate and their paths (with virtual loss applied)."""
    quota = np.minimum(remaining, cfg.leaves_per_step)
    live = np.flatnonzero(quota > 0)
    out_leaves, out_paths, offsets, n_out = [], [], [], 0
    for k in range(int(quota.max(initial=0))):
        live = live[quota[live] > k]
        if not len(live):
            break
        leaves, paths = _select(f, roots[live], cfg)
        clash = f.pending[leaves]
        done = f.terminal[leaves]  # a terminal node is never pending
        if done.any():
            _backup(f, leaves[done], paths.take(done), f.value[leaves[done]], 0.0, cfg)
        new = ~done & ~clash
        if new.any():
            kept = paths.take(new)
            _add_virtual_loss(f, leaves[new], kept, cfg)
            f.pending[leaves[new]] = True
            out_leaves.append(leaves[new])
            out_paths.append(kept)
            offsets.append(n_out)
            n_out += int(new.sum())
        live = live[~clash]
        remaining[live] -= 1
    if not out_leaves:
        return np.zeros(0, np.int64), _Paths.concat([], [])
    return np.concatenate(out_leaves), _Paths.concat(out_paths, offsets)


# -- one tree alone (a forest searched for a single tree): the same steps, node by node in plain Python --------
# For one tree NumPy's per-call cost outweighs the work of a level, and one leaf per network call (``qstar
# play``, the strict baseline of ``qstar bench``) must not pay for the vectorisation. Same arithmetic on the
# same stored Q, P, N, C, so the same choices (tests/search/test_mcts.py).

def _update_edge(f: Forest, x: int, a: int, dn: float, dw: float, cfg: MCTSConfig) -> None:
    """N += dn and W += dw on edge (x, a), Nsum += dn on x, then Q and C refreshed as ``update_edges`` does."""
    stats = f.stats
    n = stats[x, 0, a] + dn
    w = stats[x, 3, a] + dw
    stats[x, 0, a], stats[x, 3, a] = n, w
    stats[x, 1, a] = w / n if n > 0 else f.value[x] - cfg.fpu_reduction
    total = f.Nsum[x] + dn
    f.Nsum[x] = total
    f.C[x] = (math.log((1.0 + cfg.c_puct_base + total) / cfg.c_puct_base) + cfg.c_puct_init) * math.sqrt(max(total, 1.0))


def _backup_one(f: Forest, leaf: int, path: list[tuple[int, int]], value: float, vl: float, cfg: MCTSConfig) -> None:
    player = f.to_play[leaf]
    for x, a in path:
        _update_edge(f, x, a, 1.0 - vl, (value if f.to_play[x] == player else -value) + vl, cfg)


def _select_step_one(f: Forest, root: int, remaining: np.ndarray, cfg: MCTSConfig
                     ) -> tuple[list[int], list[list[tuple[int, int]]]]:
    """``_select_step`` for a single tree: returns the leaves to evaluate and their paths [(node, action)]."""
    vl = cfg.virtual_loss
    leaves, paths = [], []
    for _ in range(min(int(remaining[0]), cfg.leaves_per_step)):
        node, path = root, []
        while f.expanded[node]:
            n, q, p, _ = f.stats[node].tolist()
            c = float(f.C[node])
            best, a = -math.inf, -1
            for i in range(len(n)):
                score = q[i] + c * p[i] / (1.0 + n[i])
                if score > best:
                    best, a = score, i
            path.append((node, a))
            child = int(f.children[node, a])
            node = child if child >= 0 else f.child(node, a)
        if f.pending[node]:
            break
        remaining[0] -= 1
        if f.terminal[node]:
            _backup_one(f, node, path, float(f.value[node]), 0.0, cfg)
            continue
        for x, a in path:
            _update_edge(f, x, a, vl, -vl, cfg)
        f.pending[node] = True
        leaves.append(node)
        paths.append(path)
    return leaves, paths


def run_mcts(trees: Sequence[Tree], evaluator: Evaluator, cfg: MCTSConfig,
             rng: np.random.Generator | None = None, add_noise: bool = False,
             num_simulations: Sequence[int] | None = None) -> None:
    """Add simulations to every tree, evaluating the leaves of all trees together in batches.

    ``num_simulations`` overrides ``cfg.num_simulations`` per tree (playout cap randomization).
    Terminal leaves are valued by the rules, not the evaluator.
    """
    if add_noise and rng is None:
        raise ValueError("add_noise needs an rng")
    groups = _by_forest(trees)
    for f, _ in groups:
        _sync(f, cfg)
    # roots first: one batch for every unexpanded root
    fresh = [[i for i in idx if not f.expanded[trees[i].root] and not f.terminal[trees[i].root]] for f, idx in groups]
    if any(fresh):
        ev = evaluator([trees[i].root_state for part in fresh for i in part])
        start = 0
        for (f, _), part in zip(groups, fresh):
            if part:
                _expand(f, np.array([trees[i].root for i in part], np.int64), ev.priors[start:start + len(part)],
                        ev.values[start:start + len(part)], cfg)
            start += len(part)
    if add_noise:
        for t in trees:
            add_root_noise(t, cfg, rng)
    budget = list(num_simulations) if num_simulations is not None else [cfg.num_simulations] * len(trees)
    remaining = np.array([0 if t.terminal[t.root] else b for t, b in zip(trees, budget)], np.int64)
    roots = [np.array([trees[i].root for i in idx], np.int64) for _, idx in groups]
    while remaining.any():
        selected = []
        for (f, idx), r in zip(groups, roots):
            rem = remaining[idx]
            selected.append(_select_step(f, r, rem, cfg) if len(r) > 1 else _select_step_one(f, int(r[0]), rem, cfg))
            remaining[idx] = rem
        states = [f.states[n] for (f, _), (leaves, _) in zip(groups, selected) for n in leaves]
        if not states:
            continue
        ev = evaluator(states)
        start = 0
        for (f, _), (leaves, paths) in zip(groups, selected):
            p, v = ev.priors[start:start + len(leaves)], ev.values[start:start + len(leaves)]
            start += len(leaves)
            if not len(leaves):
                continue
            _expand(f, np.asarray(leaves, np.int64), p, v, cfg)
            if isinstance(paths, list):  # one tree: backed up edge by edge in plain Python
                for leaf, path, vi in zip(leaves, paths, v.tolist()):
                    _backup_one(f, leaf, path, vi, cfg.virtual_loss, cfg)
            else:
                _backup(f, leaves, paths, v, cfg.virtual_loss, cfg)


def policy_from_visits(visits: np.ndarray, temperature: float) -> np.ndarray:
    """Move probabilities ∝ visits^(1/T); T = 0 puts all mass on the most visited moves (ties shared)."""
    if temperature <= 1e-6:
        best = visits == visits.max()
        return best / best.sum()
    v = visits.astype(np.float64) ** (1.0 / temperature)
    return v / v.sum()


def choose_action(visits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    return int(rng.choice(len(visits), p=policy_from_visits(visits, temperature)))
