"""The search's innermost loop, compiled: PUCT walks from many roots down to their leaves.

A walk is a short loop of scalar work per level (one argmax over a node's edges, one step to a child). In NumPy
every level of every round costs a dozen array operations, whatever the number of trees; compiled with Numba a
whole round is one call. Same arithmetic, in the same order, as ``Q + C * P / (1 + N)`` evaluated by NumPy, and
ties go to the lowest action as ``argmax`` does, so the choices are the ones the array expression makes
(``tests/search/test_mcts.py`` checks the search against a plain reference).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def puct_walks(stats: np.ndarray, C: np.ndarray, children: np.ndarray, expanded: np.ndarray, roots: np.ndarray):
    """From each of ``roots`` [K], follow the edge of highest PUCT score while the node is expanded.

    ``stats`` is the forest's [capacity, 4+, A] array (rows N, Q, P first), ``C`` [capacity] the nodes' PUCT
    factors, ``children`` [capacity, A] (-1 = not created), ``expanded`` [capacity]. Returns ``leaves`` [K] (-1
    where the walk chose an edge whose child does not exist yet: its last edge names it), the walked edges in
    walk order (``node``, ``action``, ``walk`` [E]) and ``last`` [K], the index of each walk's last edge (-1 if
    the root itself is the leaf)."""
    k_walks = roots.shape[0]
    n_actions = stats.shape[2]
    leaves = np.empty(k_walks, np.int64)
    last = np.full(k_walks, -1, np.int64)
    cap = 16 * k_walks + 16
    node = np.empty(cap, np.int64)
    action = np.empty(cap, np.int64)
    walk = np.empty(cap, np.int64)
    m = 0
    for k in range(k_walks):
        x = roots[k]
        while expanded[x]:
            c = C[x]
            best, a = -np.inf, 0
            for i in range(n_actions):
                s = stats[x, 1, i] + c * stats[x, 2, i] / (1.0 + stats[x, 0, i])
                if s > best:
                    best, a = s, i
            if m == cap:
                cap *= 2
                node2, action2, walk2 = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
                node2[:m], action2[:m], walk2[:m] = node[:m], action[:m], walk[:m]
                node, action, walk = node2, action2, walk2
            node[m], action[m], walk[m] = x, a, k
            last[k] = m
            m += 1
            x = children[x, a]
            if x < 0:
                break
        leaves[k] = x
    return leaves, node[:m], action[:m], walk[:m], last


@njit(cache=True, nogil=True)
def update_edges(stats: np.ndarray, nsum: np.ndarray, C: np.ndarray, value: np.ndarray, to_play: np.ndarray,
                 node: np.ndarray, action: np.ndarray, walk: np.ndarray, leaves: np.ndarray, leaf_value: np.ndarray,
                 dn: float, dw: float, fpu_reduction: float, c_init: float, c_base: float) -> None:
    """Edge e = (``node[e]``, ``action[e]``) on the walk to ``leaves[walk[e]]``: N += dn, W += (v + dw) with v the
    leaf's value (``leaf_value[walk[e]]``, for its player to move) turned to the point of view of the edge's
    node, Nsum += dn on the node; then Q = W / N (the node's value - ``fpu_reduction`` while N = 0) and the node's
    PUCT factor C = (log((1 + base + Nsum) / base) + init) * sqrt(max(Nsum, 1)). Edges may repeat: each update
    lands, in order (as ``np.add.at``)."""
    for e in range(node.shape[0]):
        x, a, k = node[e], action[e], walk[e]
        v = leaf_value[k]
        if to_play[x] != to_play[leaves[k]]:
            v = -v
        n = stats[x, 0, a] + dn
        w = stats[x, 3, a] + (v + dw)
        stats[x, 0, a] = n
        stats[x, 3, a] = w
        stats[x, 1, a] = w / n if n > 0 else value[x] - fpu_reduction
        total = nsum[x] + dn
        nsum[x] = total
        C[x] = (np.log((1.0 + c_base + total) / c_base) + c_init) * np.sqrt(max(total, 1.0))
