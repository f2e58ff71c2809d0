import numpy as np
import pytest

from qstar.core.errors import IllegalMove
from qstar.games.tictactoe import TicTacToe
from qstar.games.tictactoe.perfect import losses_against_perfect
from qstar.search import Solver

G = TicTacToe()


def play(moves):
    s = G.initial_state()
    for m in moves:
        s = G.next_state(s, m)
    return s


@pytest.mark.parametrize("moves", [[0, 3, 1, 4, 2], [0, 1, 3, 2, 6], [0, 1, 4, 2, 8], [2, 0, 4, 1, 6]])
def test_lines_win(moves):
    s = play(moves)
    assert G.is_terminal(s) and G.terminal_value(s) == -1.0


def test_draw_and_occupied():
    s = play([0, 4, 8, 2, 6, 3, 5, 7, 1])
    assert G.is_terminal(s) and G.terminal_value(s) == 0.0
    with pytest.raises(IllegalMove, match="cell taken"):
        G.next_state(play([4]), 4)


def test_symmetries_are_the_eight_of_the_square():
    s = play([0])
    obs = G.encode([s])[0]
    pi = np.eye(9, dtype=np.float32)[0]
    syms = G.symmetries(obs, pi)
    assert len(syms) == 8
    corners = {int(p.argmax()) for _, p in syms}
    assert corners == {0, 2, 6, 8}
    for o, p in syms:  # the stone moves with the policy
        assert o[1].reshape(9)[int(p.argmax())] == 1


def test_solver_says_draw_and_check_catches_a_bad_player():
    assert Solver(G).value(G.initial_state()) == 0
    first_legal = lambda states: [int(np.flatnonzero(G.legal_mask(s))[0]) for s in states]
    r = losses_against_perfect(first_legal)
    assert r["X"]["losses"] + r["O"]["losses"] > 0
    solver = Solver(G)
    perfect = lambda states: [solver.optimal_actions(s)[0] for s in states]
    r = losses_against_perfect(perfect)
    assert r["X"]["losses"] == 0 and r["O"]["losses"] == 0 and r["X"]["lines"] > 1
