import numpy as np
import pytest

from qstar.core.errors import ConfigError
from qstar.core.evaluator import UniformEvaluator
from qstar.core.game import play_out
from qstar.games.connect4 import Connect4
from qstar.learn.selfplay import SelfPlayConfig, augment, play_games
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


def test_search_value_is_recorded_and_mixed_into_the_value_target():
    cfg = SelfPlayConfig(MCTSConfig(num_simulations=32, leaves_per_step=4), parallel_games=4)
    records = play_games(G, UniformEvaluator(G), cfg, 6, np.random.default_rng(2))
    decisive = [r for r in records if r.result != 0]
    assert decisive
    for r in records:
        assert r.q.shape == r.z.shape and np.all(np.abs(r.q) <= 1)
    for r in decisive:  # the winner's last position: the search saw the winning move
        assert r.z[-1] == 1 and r.q[-1] > 0.3
    r = records[0]
    n_sym = len(G.symmetries(r.obs[0], r.pi[0]))
    _, _, z = augment(G, r)
    assert np.array_equal(z, np.repeat(r.z, n_sym))
    _, _, mixed = augment(G, r, 0.5)
    assert np.allclose(mixed, np.repeat((r.z + r.q) / 2, n_sym)) and not np.allclose(mixed, z)
    with pytest.raises(ConfigError, match="value_q_weight"):
        SelfPlayConfig(value_q_weight=1.5)
