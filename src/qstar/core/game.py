"""The environment interface that search and learning depend on, and that domains implement.

Conventions (all domains):
- A state is immutable and hashable through ``game.key(state)``; ``next_state`` returns a new one.
- Actions are integers in ``[0, game.num_actions)``; ``legal_mask(state)`` is a bool array of that length.
- Values are always from the point of view of the player to move in the state they describe:
  ``terminal_value(state)`` is +1 if the player to move has won, -1 if lost, 0 for a draw.
  This is the ground-truth signal: it comes from the rules, never from a model.
"""

from __future__ import annotations

from typing import Any, Hashable, Protocol, Sequence, runtime_checkable

import numpy as np

State = Any  # each game defines its own immutable state type


@runtime_checkable
class Game(Protocol):
    name: str
    num_actions: int
    obs_shape: tuple[int, ...]  # shape of encode() for one state, e.g. (C, H, W)

    def initial_state(self) -> State: ...

    def legal_mask(self, state: State) -> np.ndarray:
        """Bool array [num_actions]: which actions are legal. Empty mask only when terminal."""

    def next_state(self, state: State, action: int) -> State:
        """The state after the player to move plays ``action``. Raises IllegalMove if not legal."""

    def is_terminal(self, state: State) -> bool: ...

    def terminal_value(self, state: State) -> float:
        """Result by the rules for the player to move at a terminal state: +1 win, -1 loss, 0 draw."""

    def to_play(self, state: State) -> int:
        """Index of the player to move: 0 (first player) or 1."""

    def key(self, state: State) -> Hashable:
        """A compact hashable identity of the state (for caches and transposition tables)."""

    def encode(self, states: Sequence[State]) -> np.ndarray:
        """Float32 array [B, *obs_shape]: network input, from the point of view of the player to move."""

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Equivalent (obs [*obs_shape], policy [num_actions]) pairs, the identity first."""

    def render(self, state: State) -> str:
        """A board drawn for the terminal."""

    def action_to_string(self, state: State, action: int) -> str: ...

    def string_to_action(self, state: State, text: str) -> int:
        """Parse a move typed by a person; raises IllegalMove with the allowed moves on bad input."""

    # Optional: ``variant``, a dict of str -> str naming the rules a network was trained under where a game has
    # several (Go's komi and pass rule). The loop writes it into every checkpoint's metadata, so whoever plays the
    # network later can play by the same rules (``learn.checkpoint.read_metadata``).


def variant(game: Game) -> dict[str, str]:
    """The game's ``variant`` (empty for a game with one set of rules)."""
    return {k: str(v) for k, v in getattr(game, "variant", {}).items()}


def legal_actions(game: Game, state: State) -> np.ndarray:
    """Int array of the legal actions of ``state``."""
    return np.flatnonzero(game.legal_mask(state))


def random_action(game: Game, state: State, rng: np.random.Generator) -> int:
    """A legal action of ``state``, uniformly at random."""
    return int(rng.choice(legal_actions(game, state)))


def play_out(game: Game, state: State, actions: Sequence[int]) -> State:
    """Apply a sequence of actions to ``state``."""
    for a in actions:
        state = game.next_state(state, int(a))
    return state
