"""Go where a judge, not the rules, decides who won: the RLHF side of "AlphaGo trained with RLHF".

``JudgedGame(GoGame, judge)`` is a ``qstar.core.game.Game`` that behaves exactly like the Go it wraps
(moves, legality, encoding, symmetries, the end of the game) except that ``terminal_value`` asks the
judge. The AlphaZero loop, the search and the arena only see the Game interface, so they cannot tell
whether a finished game was scored by the rules (``rules_judge``: area score with komi) or by a reward
model's view of the final board (``RewardJudge``). Both sides of the experiment use this wrapper, so
the one difference between them is the judge.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from qstar.games.go.game import GoGame
from qstar.games.go.rules import BLACK, EMPTY, WHITE, Position

Judge = Callable[[Position], int]  # a finished position -> the winner: BLACK, WHITE or EMPTY (a draw)


def rules_judge(komi: float) -> Judge:
    """The truth: the rules' winner (resignation, else area score with komi)."""
    def judge(pos: Position) -> int:
        return pos.winner(komi)
    return judge


class JudgedGame:
    """A Go ``Game`` whose finished games are decided by ``judge``; everything else is the wrapped game's.

    ``name`` stays the wrapped game's (``go7``), so its checkpoints load anywhere a Go network does."""

    def __init__(self, game: GoGame, judge: Judge, cache_size: int = 200_000):
        self.game, self.judge = game, judge
        self.name, self.num_actions, self.obs_shape = game.name, game.num_actions, game.obs_shape
        self.size, self.komi, self.pass_action, self.config = game.size, game.komi, game.pass_action, game.config
        self.variant = game.variant  # the rules the networks learn: their checkpoints record them
        self._cache: dict = {}
        self._cache_size = cache_size
        self.judged = 0  # distinct finished positions judged (for the run's log)

    def initial_state(self) -> Position:
        return self.game.initial_state()

    def legal_mask(self, state: Position) -> np.ndarray:
        return self.game.legal_mask(state)

    def next_state(self, state: Position, action: int) -> Position:
        return self.game.next_state(state, action)

    def is_terminal(self, state: Position) -> bool:
        return self.game.is_terminal(state)

    def winner(self, state: Position) -> int:
        """The judge's winner of a finished position (cached: the search meets the same ends often)."""
        if state.resigned:
            return 3 - state.resigned
        key = (state.board, state.to_play, prisoners(state))
        w = self._cache.get(key)
        if w is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            w = self._cache[key] = int(self.judge(state))
            self.judged += 1
        return w

    def terminal_value(self, state: Position) -> float:
        w = self.winner(state)
        return 0.0 if w == EMPTY else (1.0 if w == state.to_play else -1.0)

    def to_play(self, state: Position) -> int:
        return self.game.to_play(state)

    def key(self, state: Position):
        return self.game.key(state)

    def encode(self, states: Sequence[Position]) -> np.ndarray:
        return self.game.encode(states)

    def symmetries(self, obs, policy):
        return self.game.symmetries(obs, policy)

    def render(self, state: Position) -> str:
        return self.game.render(state)

    def action_to_string(self, state: Position, action: int) -> str:
        return self.game.action_to_string(state, action)

    def string_to_action(self, state: Position, text: str) -> int:
        return self.game.string_to_action(state, text)


def prisoners(pos: Position) -> tuple[int, int]:
    """(stones Black has captured, stones White has captured) since the start of the game: each colour's
    stones played minus its stones still on the board."""
    played = {BLACK: 0, WHITE: 0}
    for color, point in pos.moves():
        if point != pos.size * pos.size:
            played[color] += 1
    on_board = {c: pos.board.count(bytes([c])) for c in (BLACK, WHITE)}
    return max(0, played[WHITE] - on_board[WHITE]), max(0, played[BLACK] - on_board[BLACK])  # 0 for set-up boards
