"""Matches between players: all games advanced together so batched players see one batch per turn."""

from __future__ import annotations

import numpy as np

from qstar.core.elo import MatchResult
from qstar.core.game import Game, random_action
from qstar.search.players import Player


def play_games(game: Game, a: Player, b: Player, games: int, rng: np.random.Generator,
               random_opening: int = 2, progress=lambda n=1, **kw: None) -> tuple[list, list[bool]]:
    """``a`` against ``b``, all games advanced together; colours alternate game by game. The first
    ``random_opening`` plies of each game are random so deterministic players meet in varied positions.
    Returns the final states and, per game, whether ``a`` moved first."""
    states = [game.initial_state() for _ in range(games)]
    a_first = [i % 2 == 0 for i in range(games)]
    plies = 0
    while True:
        live = [i for i, s in enumerate(states) if not game.is_terminal(s)]
        if not live:
            break
        if plies < random_opening:
            moves = {i: random_action(game, states[i], rng) for i in live}
        else:
            moves = {}
            for player, is_a in ((a, True), (b, False)):
                idx = [i for i in live if (game.to_play(states[i]) == 0) == (a_first[i] == is_a)]
                if idx:
                    moves.update(zip(idx, player.select([states[i] for i in idx], rng)))
        for i, m in moves.items():
            states[i] = game.next_state(states[i], m)
            if game.is_terminal(states[i]):
                progress(1)
        plies += 1
    return states, a_first


def play_match(game: Game, a: Player, b: Player, games: int, rng: np.random.Generator,
               random_opening: int = 2, progress=lambda n=1, **kw: None) -> MatchResult:
    """``play_games`` scored by the game's own result, from ``a``'s side."""
    states, a_first = play_games(game, a, b, games, rng, random_opening, progress)
    w = d = l = 0
    for s, af in zip(states, a_first):
        v = game.terminal_value(s)
        first = v if game.to_play(s) == 0 else -v  # result for the first player
        mine = first if af else -first
        w, d, l = w + (mine > 0), d + (mine == 0), l + (mine < 0)
    return MatchResult(w, d, l)
