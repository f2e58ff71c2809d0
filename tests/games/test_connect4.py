import numpy as np
import pytest

from qstar.core.errors import IllegalMove
from qstar.games.connect4 import Connect4
from qstar.games.connect4.benchmark import Position, bundled_path, load_positions, mistake_rate
from qstar.core.errors import QstarError

G = Connect4()


@pytest.mark.parametrize("moves, winner_moved_last", [
    ("1212121", True),          # vertical
    ("1122334", True),          # horizontal
    ("112233", False),          # three is not four
    ("2334454556", True),       # O completes the bottom row 3..6
    ("12233434", False),        # diagonal not yet complete
])
def test_wins_vertical_horizontal(moves, winner_moved_last):
    s = G.from_moves(moves)
    assert s.won == winner_moved_last
    assert G.is_terminal(s) == winner_moved_last


def test_diagonal_wins_both_directions():
    # rising diagonal for X: (c1,r0) (c2,r1) (c3,r2) (c4,r3)
    s = G.from_moves("12233434744")
    assert s.won and G.terminal_value(s) == -1.0  # player to move has lost
    # falling diagonal for X, mirrored
    s = G.from_moves("76655454144")
    assert s.won


def test_no_win_across_column_wrap():
    # stones at the top of column 1 and the bottom of column 2 are not connected vertically
    s = G.from_moves("1111122" "1" "2")
    assert not s.won


def test_full_column_is_illegal_with_clear_message():
    s = G.from_moves("111111")
    assert not G.legal_mask(s)[0]
    with pytest.raises(IllegalMove, match="column 1 is full"):
        G.next_state(s, 0)
    with pytest.raises(IllegalMove, match="legal move"):
        G.string_to_action(s, "1")
    with pytest.raises(IllegalMove):
        G.string_to_action(s, "banana")


def test_draw_when_board_fills():
    # a known drawn full-board sequence (no four in a row for either side)
    moves = "446323116125713546635334125521577677446722"
    s = G.initial_state()
    for i, ch in enumerate(moves):
        assert not G.is_terminal(s), i
        s = G.next_state(s, int(ch) - 1)
    assert s.moves == 42 and not s.won
    assert G.is_terminal(s) and G.terminal_value(s) == 0.0
    assert not G.legal_mask(s).any()


def test_encode_is_from_side_to_move_and_symmetry_mirrors():
    s = G.from_moves("1")  # X in column 1, O to move
    obs = G.encode([s])[0]
    assert obs.shape == (3, 6, 7)
    assert obs[0].sum() == 0 and obs[1, 0, 0] == 1  # the opponent's stone, bottom-left
    assert (obs[2] == 0).all() and (G.encode([G.from_moves("12")])[0, 2] == 1).all()  # colour: X (first) to move
    pi = np.arange(7, dtype=np.float32)
    (o0, p0), (o1, p1) = G.symmetries(obs, pi)
    assert (o0 == obs).all() and o1[1, 0, 6] == 1 and p1[0] == 6


def test_a_network_of_the_two_plane_encoding_still_plays():
    import torch

    from qstar.learn.resnet import PolicyValueNet, ResNetConfig
    old = PolicyValueNet(ResNetConfig(2, 6, 7, 7, blocks=1, channels=8)).eval()
    x = torch.from_numpy(G.encode([G.from_moves("4"), G.from_moves("44")]))
    with torch.no_grad():
        assert torch.equal(old(x)[1], old(x[:, :2])[1])  # it reads the stones and ignores the colour plane


def test_key_distinguishes_positions_and_transposes():
    assert G.key(G.from_moves("12")) == G.key(G.from_moves("12"))
    assert G.key(G.from_moves("1234")) == G.key(G.from_moves("3214"))  # same stones, same side to move
    assert G.key(G.from_moves("12")) != G.key(G.from_moves("21"))


def test_bundled_benchmark_loads_and_scores():
    pos = load_positions(bundled_path("Test_L3_R1"), limit=50)
    assert len(pos) == 50
    best = lambda states: [int(np.argmax(p.values)) for p in pos[:len(states)]]
    assert mistake_rate(pos, best, chunk=1000) == 0.0
    worst = lambda states: [int(np.argmin(np.where(np.isfinite(p.values), p.values, np.inf))) for p in pos]
    fin = [p.values[np.isfinite(p.values)] for p in pos]
    expected = np.mean([np.sign(v.min()) < np.sign(v.max()) for v in fin])
    assert expected > 0.2 and mistake_rate(pos, worst, chunk=1000) == pytest.approx(expected)


def test_mistake_definition_is_by_sign():
    p = Position(G.initial_state(), np.array([3, 1, 0, -2, -np.inf, 0, 1], float))
    assert not p.is_mistake(1)  # a slower win is still a win
    assert p.is_mistake(2) and p.is_mistake(3)


def test_bad_positions_file(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("1234 0 1 2 3\n")
    with pytest.raises(QstarError, match="bad.txt:1"):
        load_positions(f)
    f.write_text("1289 0 0 0 0 0 0 0 0\n")
    with pytest.raises(QstarError, match="bad move '8'"):
        load_positions(f)
    with pytest.raises(QstarError, match="not found"):
        load_positions(tmp_path / "missing.txt")
