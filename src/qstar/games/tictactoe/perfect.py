"""Perfect-play check: the agent against a perfect minimax opponent that tries every optimal reply."""

from __future__ import annotations

from typing import Callable

from qstar.games.tictactoe.rules import TicTacToe, TTTState
from qstar.search.minimax import Solver


def losses_against_perfect(select: Callable[[list[TTTState]], list[int]]) -> dict:
    """Play the agent (deterministic ``select``) as X and as O against every optimal line of a perfect
    opponent. Returns the number of lost lines and of non-optimal-result lines per side."""
    game = TicTacToe()
    solver = Solver(game)
    result = {}
    for agent_side in (0, 1):
        frontier, losses, draws, wins, lines = [game.initial_state()], 0, 0, 0, 0
        while frontier:
            nxt = []
            agent_states = [s for s in frontier if not game.is_terminal(s) and game.to_play(s) == agent_side]
            moves = dict(zip(map(game.key, agent_states), select(agent_states))) if agent_states else {}
            for s in frontier:
                if game.is_terminal(s):
                    v = game.terminal_value(s)
                    mine = v if game.to_play(s) == agent_side else -v
                    lines += 1
                    losses, draws, wins = losses + (mine < 0), draws + (mine == 0), wins + (mine > 0)
                elif game.to_play(s) == agent_side:
                    nxt.append(game.next_state(s, moves[game.key(s)]))
                else:
                    nxt.extend(game.next_state(s, a) for a in solver.optimal_actions(s))
            frontier = nxt
        result["X" if agent_side == 0 else "O"] = {"lines": lines, "losses": losses, "draws": draws, "wins": wins}
    return result
