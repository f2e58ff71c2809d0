import numpy as np
import pytest

from qstar.core.errors import ConfigError
from qstar.core.evaluator import UniformEvaluator
from qstar.core.game import play_out
from qstar.games.connect4 import Connect4
from qstar.learn.selfplay import SelfPlayConfig, play_games
from qstar.search import MCTSConfig

G = Connect4()


def _play(prob: float, moves: int, n: int = 12):
    cfg = SelfPlayConfig(MCTSConfig(num_simulations=4, leaves_per_step=2), parallel_games=4,
                         random_opening_prob=prob, random_opening_moves=moves)
    return play_games(G, UniformEvaluator(G), cfg, n, np.random.default_rng(1))


def test_random_openings_are_played_but_not_kept():
    records = _play(1.0, 6)
    assert all(1 <= r.opening <= 6 for r in records)
    assert len({tuple(r.moves[:r.opening]) for r in records}) > 1  # openings differ between games
    for r in records:
        assert len(r.z) == r.length - r.opening  # only searched positions become training data
        s = G.initial_state()
        for a in r.moves:  # the whole game, opening included, replays by the rules
            assert G.legal_mask(s)[a]
            s = G.next_state(s, a)
        assert G.is_terminal(s)
        # the first kept position is the one after the opening
        assert np.array_equal(r.obs[0], G.encode([play_out(G, G.initial_state(), r.moves[:r.opening])])[0])


def test_no_random_openings_at_probability_zero():
    assert all(r.opening == 0 and len(r.z) == r.length for r in _play(0.0, 6, n=4))


def test_random_opening_config_is_checked():
    with pytest.raises(ConfigError, match="random_opening_prob"):
        SelfPlayConfig(random_opening_prob=1.5)
    with pytest.raises(ConfigError, match="random_opening_moves"):
        SelfPlayConfig(random_opening_moves=-1)
