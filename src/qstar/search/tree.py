"""Search trees as arrays indexed by [node, action]: visit counts, value sums, priors, children.

Many trees can share one ``Forest`` (one set of arrays, node ids global to it). That is what lets the
search select across the trees of all games at once with a handful of NumPy operations instead of a
Python loop per tree; a ``Tree`` is then just a root in its forest. A tree made without a forest gets
one of its own.

Values in ``W`` are sums from the point of view of the player to move at the node (the one choosing
the action). Nothing here is keyed by board strings; states are kept only to expand children.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qstar.core.game import Game

_STATS = ("N", "Q", "P", "W")  # the float rows of ``Forest.stats``, in order
_EDGE_ARRAYS = {"legal": (bool, False), "children": (np.int64, -1)}
_NODE_ARRAYS = {"Nsum": np.float64, "C": np.float64, "value": np.float64, "expanded": bool, "pending": bool,
                "terminal": bool, "to_play": np.int8}


class Forest:
    """The nodes of one or more trees of one game. Grows by doubling; ``compact`` frees dead nodes.

    Per edge [capacity, num_actions]: ``N`` visits (incl. virtual visits in flight), ``W`` value sums for
    the player at the node, ``P`` priors, ``legal``, ``children`` (-1 = not created), and ``Q``, the value
    PUCT uses: W/N, the first-play-urgency value while N = 0, -inf on illegal moves. ``N, Q, P, W`` are
    views of one float64 array ``stats`` [capacity, 4, num_actions], so a selection step gathers what it
    needs in one indexing operation. Per node [capacity]: ``Nsum`` (= N[node].sum()), ``C`` (PUCT's
    exploration factor c(Nsum) * sqrt(Nsum)), ``value`` (evaluator or terminal value), ``expanded`` (never
    true for a terminal node), ``pending`` (waiting for the evaluator), ``terminal``, ``to_play``.
    ``Q`` and ``C`` are kept up to date by the search (``qstar.search.mcts``) whenever it changes N or W.
    """

    def __init__(self, game: Game, capacity: int = 256):
        self.game = game
        A = game.num_actions
        self.stats = np.zeros((capacity, len(_STATS), A), np.float64)
        for name, (dtype, fill) in _EDGE_ARRAYS.items():
            setattr(self, name, np.full((capacity, A), fill, dtype))
        for name, dtype in _NODE_ARRAYS.items():
            setattr(self, name, np.zeros(capacity, dtype))
        self.states: list[Any] = []
        self.size = 0
        self.derived_for: tuple | None = None  # the search constants Q and C were computed with

    N = property(lambda self: self.stats[:, 0], doc="[capacity, A] edge visits")
    Q = property(lambda self: self.stats[:, 1], doc="[capacity, A] W/N, FPU if unvisited, -inf if illegal")
    P = property(lambda self: self.stats[:, 2], doc="[capacity, A] priors")
    W = property(lambda self: self.stats[:, 3], doc="[capacity, A] edge value sums")

    @property
    def capacity(self) -> int:
        return len(self.value)

    def add_node(self, state: Any) -> int:
        return int(self.add_nodes([state])[0])

    def add_nodes(self, states: list) -> np.ndarray:
        """New unexpanded nodes for ``states``, terminal ones valued by the rules; returns their ids."""
        k = len(states)
        while self.size + k > self.capacity:
            self._resize(2 * self.capacity)
        g = self.game
        ids = np.arange(self.size, self.size + k)
        self.states.extend(states)
        self.size += k
        self.to_play[ids] = [g.to_play(s) for s in states]
        ends = [i for i, s in enumerate(states) if g.is_terminal(s)]
        if ends:
            self.terminal[ids[ends]] = True
            self.value[ids[ends]] = [g.terminal_value(states[i]) for i in ends]
        return ids

    def add_children(self, nodes: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Create the children of the edges (``nodes`` [K], ``actions`` [K]), none created yet and no edge twice;
        returns their ids [K]: ``child`` for many edges at once."""
        step, states = self.game.next_state, self.states
        ids = self.add_nodes([step(states[n], a) for n, a in zip(nodes.tolist(), actions.tolist())])
        self.children[nodes, actions] = ids
        return ids

    def child(self, node: int, action: int) -> int:
        """The child of ``node`` by ``action``, created on first use."""
        c = self.children[node, action]
        if c < 0:
            c = self.add_node(self.game.next_state(self.states[node], int(action)))
            self.children[node, action] = c
        return int(c)

    def _arrays(self):
        yield "stats", 0
        yield from ((name, fill) for name, (_, fill) in _EDGE_ARRAYS.items())
        yield from ((name, 0) for name in _NODE_ARRAYS)

    def _resize(self, cap: int) -> None:
        for name, fill in self._arrays():
            old = getattr(self, name)
            new = np.full((cap, *old.shape[1:]), fill, old.dtype)
            new[:self.size] = old[:self.size]
            setattr(self, name, new)

    def compact(self, trees: Sequence["Tree"]) -> None:
        """Keep only the subtrees under the roots of ``trees`` (renumbered, roots updated); every other node
        of the forest is freed, so any other tree in it becomes invalid. Self-play calls this between moves:
        finished games and the branches not played leave nothing behind. If what is kept still fills over a
        quarter of the capacity, the capacity doubles, so that compacting stays rare."""
        keep = np.zeros(self.size, bool)
        frontier = np.array([t.root for t in trees], np.int64)
        while len(frontier):  # a tree: each node is reached once
            keep[frontier] = True
            ch = self.children[frontier]
            frontier = ch[ch >= 0]
        old = np.flatnonzero(keep)
        n = len(old)
        remap = np.full(self.size + 1, -1, np.int64)  # remap[-1] stays -1 for "no child"
        remap[old] = np.arange(n)
        for name, fill in self._arrays():
            arr = getattr(self, name)
            arr[:n] = arr[old]
            arr[n:self.size] = fill
        self.children[:n] = remap[self.children[:n]]
        self.states = [self.states[i] for i in old]
        self.size = n
        for t in trees:
            t.root = int(remap[t.root])
        if n > self.capacity // 4:
            self._resize(2 * self.capacity)


class Tree:
    """One game's search tree: a root in a forest. ``advance`` moves the root to a child (subtree reuse).

    The array attributes (``N``, ``W``, ``P``, ``legal``, ``children``, ``expanded``, ...) are the forest's,
    indexed by node id: ``tree.N[tree.root]`` are the root's edge visits.
    """

    def __init__(self, game: Game, state: Any, capacity: int = 256, forest: Forest | None = None):
        self.game = game
        self.forest = forest if forest is not None else Forest(game, capacity)
        self.noised = False  # Dirichlet noise already mixed into the current root's priors
        self.root = self.forest.add_node(state)

    def __getattr__(self, name: str):  # only called for names not set on the tree: the forest's arrays
        if name in _STATS or name in _EDGE_ARRAYS or name in _NODE_ARRAYS or name in ("stats", "states", "size"):
            return getattr(self.forest, name)
        raise AttributeError(name)

    def child(self, node: int, action: int) -> int:
        return self.forest.child(node, action)

    # -- results ----------------------------------------------------------------------------------
    @property
    def root_state(self) -> Any:
        return self.forest.states[self.root]

    def visit_counts(self) -> np.ndarray:
        """[num_actions] visits of the root's edges."""
        return self.forest.N[self.root].copy()

    def principal_variation(self, action: int, length: int) -> list[int]:
        """``action`` from the root, then the most visited action of each node below it, while one was visited:
        the line the search expects, at most ``length`` actions."""
        f = self.forest
        line, node = [int(action)], int(f.children[self.root, action])
        while len(line) < length and node >= 0 and f.expanded[node] and f.N[node].sum() > 0:
            line.append(int(f.N[node].argmax()))
            node = int(f.children[node, line[-1]])
        return line

    def root_value(self) -> float:
        """Mean value of the root for its player to move (search's estimate)."""
        f = self.forest
        total = f.N[self.root].sum()
        return float(f.W[self.root].sum() / total) if total > 0 else float(f.value[self.root])

    def advance(self, action: int) -> None:
        """Move the root to the child reached by ``action``, keeping its subtree (and its statistics)."""
        self.root = self.forest.child(self.root, int(action))
        self.noised = False
