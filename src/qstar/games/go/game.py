"""Go behind the ``qstar.core.game.Game`` interface, so search and learning need no Go-specific code.

Actions are points ``row * size + col`` (row 0 at the top) and ``size * size`` for the pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qstar.core.errors import IllegalMove, check
from qstar.games.go.rules import BLACK, MAX_SIZE, MIN_SIZE, Position, gtp_to_point, point_to_gtp


PASS_RULES = ("any", "settled")


@dataclass(frozen=True)
class GoConfig:
    size: int = 9  # board lines, 5..19
    komi: float = 7.5  # points given to White under area scoring
    history: int = 4  # past positions shown to the network (two planes each: own stones, opponent's stones)
    max_moves: int = 0  # game ends and is scored after this many moves; 0 means 2 * size * size
    pass_rule: str = "any"  # any: a pass is always legal (Go); settled: only when every legal point fills one's own eye

    def __post_init__(self):
        check(isinstance(self.size, int) and MIN_SIZE <= self.size <= MAX_SIZE,
              f"size must be {MIN_SIZE}..{MAX_SIZE}, got {self.size!r}")
        check(self.history >= 1, f"history must be >= 1, got {self.history}")
        check(self.max_moves >= 0, f"max_moves must be >= 0 (0 = 2 * size * size), got {self.max_moves}")
        check(abs(self.komi) <= self.size * self.size, f"komi {self.komi} is larger than the board")
        check(self.pass_rule in PASS_RULES, f"pass rule must be one of {', '.join(PASS_RULES)}, got {self.pass_rule!r}")

    @property
    def move_limit(self) -> int:
        return self.max_moves or 2 * self.size * self.size


class GoGame:
    """The Game interface for Go with area scoring and positional superko."""

    def __init__(self, config: GoConfig | None = None):
        self.config = config or GoConfig()
        s = self.config.size
        self.size = s
        self.komi = self.config.komi
        self.name = f"go{s}"
        self.num_actions = s * s + 1
        self.pass_action = s * s
        self.obs_shape = (2 * self.config.history + 1, s, s)

    @property
    def variant(self) -> dict:
        """The rules a network trained on this game learned (kept in its checkpoints by the training loop)."""
        return {"komi": self.komi, "pass_rule": self.config.pass_rule}

    def initial_state(self) -> Position:
        return Position(self.size)

    def is_terminal(self, state: Position) -> bool:
        return state.is_over or state.move_number >= self.config.move_limit

    def legal_mask(self, state: Position) -> np.ndarray:
        if self.is_terminal(state):
            return np.zeros(self.num_actions, dtype=bool)
        mask = state.mask_cache  # search asks twice per leaf (evaluator and expansion): built once per position
        if mask is None:
            mask = np.zeros(self.num_actions, dtype=bool)
            mask[state.legal_points()] = True
            mask[self.pass_action] = True
            state.mask_cache = mask
        mask = mask.copy()
        if self.config.pass_rule == "settled" and self._can_fill(state, mask):
            mask[self.pass_action] = False
        return mask

    @staticmethod
    def _can_fill(state: Position, mask: np.ndarray) -> bool:
        """Whether the mover has a legal point that is not its own single-point eye. Under ``settled`` the
        pass waits until there is none, as in random playouts: with area scoring, filling one's own
        territory costs nothing, so games are played out until dead stones are off the board and the result
        by the rules is the result a strong player would agree to. Self-play that may pass at any time
        learns from early double passes, scored on unfinished boards."""
        color = state.to_play
        return any(not state.is_eye(int(p), color) for p in np.flatnonzero(mask[:-1]))

    def next_state(self, state: Position, action: int) -> Position:
        if state.move_number >= self.config.move_limit and not state.is_over:
            raise IllegalMove(f"the game reached its move limit ({self.config.move_limit})\n{state.render()}")
        return state.play(int(action))

    def terminal_value(self, state: Position) -> float:
        winner = state.winner(self.komi)
        return 0.0 if winner == 0 else (1.0 if winner == state.to_play else -1.0)

    def to_play(self, state: Position) -> int:
        return 0 if state.to_play == BLACK else 1

    def key(self, state: Position) -> tuple[int, ...]:
        """The network sees the last ``history`` boards, so the key holds all their hashes: two move orders
        that reach the same board are different inputs and must not share a cached evaluation."""
        return (state.to_play, state.passes, *(p.hash for p in state.history(self.config.history)))

    def encode(self, states: Sequence[Position]) -> np.ndarray:
        """[B, 2 * history + 1, size, size]: for t = 0..history-1 (newest first) the mover's stones and the
        opponent's stones t moves ago (zeros before the start), then a plane of ones when Black is to move."""
        h, s = self.config.history, self.size
        n = len(states)
        missing = b"\xff" * (s * s)  # before the start: a board with no stones of either colour
        raw = []
        for st in states:
            past = st.history(h)
            raw.extend(p.board for p in past)
            raw.extend([missing] * (h - len(past)))
        boards = np.frombuffer(b"".join(raw), np.uint8).reshape(n, h, s, s)
        me = np.array([st.to_play for st in states], np.uint8).reshape(n, 1, 1, 1)
        out = np.empty((n, 2 * h + 1, s, s), np.float32)
        out[:, 0:2 * h:2] = boards == me
        out[:, 1:2 * h:2] = boards == 3 - me
        out[:, 2 * h] = (me[:, 0] == BLACK)
        return out

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The 8 rotations and reflections of the board; the pass keeps its probability."""
        s = self.size
        board_pi = policy[: s * s].reshape(s, s)
        out = []
        for flip in (False, True):
            o, p = (obs[..., ::-1], board_pi[:, ::-1]) if flip else (obs, board_pi)
            for k in range(4):
                ro = np.rot90(o, k, axes=(-2, -1))
                rp = np.rot90(p, k)
                out.append((np.ascontiguousarray(ro), np.concatenate([rp.ravel(), policy[s * s:]])))
        return out

    def render(self, state: Position) -> str:
        return state.render()

    def action_to_string(self, state: Position, action: int) -> str:
        return point_to_gtp(int(action), self.size)

    def string_to_action(self, state: Position, text: str) -> int:
        point = gtp_to_point(text, self.size)
        reason = "the game is over" if self.is_terminal(state) else state.illegal_reason(point)
        if reason:
            raise IllegalMove(f"{text} is illegal: {reason}; play an empty point such as "
                              f"{', '.join(point_to_gtp(p, self.size) for p in state.legal_points()[:5]) or 'none'}"
                              f" or pass\n{state.render()}")
        return point
