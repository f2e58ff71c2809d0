"""The search tree as arrays indexed by [node, action]: visit counts, value sums, priors, children.

Values in ``W`` are sums from the point of view of the player to move at the node (the one choosing
the action). Nothing here is keyed by board strings; states are kept only to expand children.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qstar.core.game import Game


class Tree:
    """One game's search tree. Grows by doubling; ``advance`` moves the root to a child (subtree reuse)."""

    def __init__(self, game: Game, state: Any, capacity: int = 256):
        self.game = game
        A = game.num_actions
        self.N = np.zeros((capacity, A), np.float32)  # edge visit counts (incl. virtual visits in flight)
        self.W = np.zeros((capacity, A), np.float32)  # edge value sums, for the player at the node
        self.P = np.zeros((capacity, A), np.float32)  # priors
        self.legal = np.zeros((capacity, A), bool)
        self.illegal = np.zeros((capacity, A), np.float32)  # 0 where legal, -inf where not (added to PUCT scores)
        self.children = np.full((capacity, A), -1, np.int32)
        self.Nsum = np.zeros(capacity, np.float32)  # N[node].sum(), kept up to date
        self.value = np.zeros(capacity, np.float32)  # evaluator value (or terminal value) of the node
        self.expanded = np.zeros(capacity, bool)
        self.pending = np.zeros(capacity, bool)  # selected, waiting for the evaluator
        self.terminal = np.zeros(capacity, bool)
        self.to_play = np.zeros(capacity, np.int8)
        self.states: list[Any] = []
        self.size = 0
        self.noised = False  # Dirichlet noise already mixed into the current root's priors
        self.root = self.add_node(state)

    # -- growth -----------------------------------------------------------------------------------
    def add_node(self, state: Any) -> int:
        if self.size == len(self.value):
            self._grow()
        i = self.size
        self.size += 1
        self.states.append(state)
        g = self.game
        self.to_play[i] = g.to_play(state)
        if g.is_terminal(state):
            self.terminal[i] = True
            self.value[i] = g.terminal_value(state)
        return i

    def _grow(self) -> None:
        cap = 2 * len(self.value)
        for name in ("N", "W", "P", "legal", "illegal", "children"):
            old = getattr(self, name)
            new = np.full((cap, old.shape[1]), -1 if name == "children" else 0, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)
        for name in ("Nsum", "value", "expanded", "pending", "terminal", "to_play"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def child(self, node: int, action: int) -> int:
        c = self.children[node, action]
        if c < 0:
            c = self.add_node(self.game.next_state(self.states[node], action))
            self.children[node, action] = c
        return int(c)

    # -- results ----------------------------------------------------------------------------------
    @property
    def root_state(self) -> Any:
        return self.states[self.root]

    def visit_counts(self) -> np.ndarray:
        """[num_actions] visits of the root's edges."""
        return self.N[self.root].copy()

    def root_value(self) -> float:
        """Mean value of the root for its player to move (search's estimate)."""
        n = self.N[self.root]
        total = n.sum()
        return float(self.W[self.root].sum() / total) if total > 0 else float(self.value[self.root])

    def advance(self, action: int) -> None:
        """Move the root to the child reached by ``action``, keeping its subtree (and its statistics)."""
        self.root = self.child(self.root, int(action))
        self.noised = False
