import numpy as np

from qstar.games.connect4 import Connect4
from qstar.games.tictactoe import TicTacToe
from qstar.learn.arena import play_match
from qstar.search import AlphaBetaPlayer, RandomPlayer, Solver, action_values


def test_alphabeta_takes_the_win_and_blocks():
    g = Connect4()
    rng = np.random.default_rng(0)
    p = AlphaBetaPlayer(g, 2)
    assert p.select([g.from_moves("112233")], rng) == [3]
    assert p.select([g.from_moves("11223")], rng) == [3]
    vals = action_values(g, g.from_moves("112233"), 1)
    assert vals[3] > 0 and all(v == 0 for a, v in vals.items() if a != 3)


def test_alphabeta_beats_random_and_perfect_never_loses():
    g = Connect4()
    r = play_match(g, AlphaBetaPlayer(g, 2, g.heuristic), RandomPlayer(g), 20, np.random.default_rng(1))
    assert r.games == 20 and r.score > 0.8
    t = TicTacToe()
    solver = Solver(t)

    class Perfect:
        name = "perfect"

        def select(self, states, rng):
            return [int(rng.choice(solver.optimal_actions(s))) for s in states]

    r = play_match(t, Perfect(), RandomPlayer(t), 30, np.random.default_rng(2), random_opening=0)
    assert r.losses == 0 and r.wins > 15
