import numpy as np
import pytest
import torch

from qstar.core.errors import ConfigError
from qstar.games.connect4 import Connect4
from qstar.games.go.game import GoConfig, GoGame
from qstar.learn.evaluator import NetworkEvaluator, symmetry_permutations
from qstar.learn.resnet import PolicyValueNet, ResNetConfig


def _net(game):
    torch.manual_seed(0)
    return PolicyValueNet(ResNetConfig(*game.obs_shape, game.num_actions, blocks=1, channels=8))


def _play(game, moves):
    s = game.initial_state()
    for a in moves:
        s = game.next_state(s, int(a))
    return s


@pytest.mark.parametrize("game", [GoGame(GoConfig(size=7)), Connect4()], ids=["go7", "connect4"])
def test_symmetry_average_is_the_same_for_every_transformed_position(game):
    """Averaged over all symmetries, a transformed position gets the transformed priors and the same value; the
    plain network does not (so the average really changes the answer)."""
    rng = np.random.default_rng(1)
    moves, s = [], game.initial_state()
    for _ in range(7):
        a = int(rng.choice(np.flatnonzero(game.legal_mask(s)[:-1] if isinstance(game, GoGame) else game.legal_mask(s))))
        moves.append(a)
        s = game.next_state(s, a)
    net = _net(game)
    perms = symmetry_permutations(game, len(game.symmetries(game.encode([s])[0], np.zeros(game.num_actions))))
    assert len(perms) == (8 if isinstance(game, GoGame) else 2)
    avg, plain = NetworkEvaluator(game, net, cache_size=0, symmetries=len(perms)), NetworkEvaluator(game, net)
    p0, v0 = avg.forward([s])
    assert p0[0].sum() == pytest.approx(1.0, abs=1e-5) and not p0[0][~game.legal_mask(s)].any()
    plain_gap = 0.0
    for _, p in perms[1:]:
        inverse = np.argsort(p)  # the transformed move of each of the position's moves
        t = _play(game, inverse[moves])
        p1, v1 = avg.forward([t])
        np.testing.assert_allclose(p1[0], p0[0][p], atol=1e-6)
        np.testing.assert_allclose(v1, v0, atol=1e-6)
        q0, q1 = plain.forward([s])[0][0], plain.forward([t])[0][0]
        plain_gap = max(plain_gap, float(np.abs(q1 - q0[p]).max()))
    assert plain_gap > 1e-4
    # the cached call gives the averaged answer too, and one symmetry is the plain network
    cached = NetworkEvaluator(game, net, symmetries=len(perms))([s, s])
    np.testing.assert_allclose(cached.priors[1], p0[0], atol=1e-6)
    np.testing.assert_allclose(NetworkEvaluator(game, net, symmetries=1).forward([s])[0], plain.forward([s])[0])


def test_symmetries_out_of_range_is_a_config_error():
    game = Connect4()
    with pytest.raises(ConfigError, match=r"--symmetries must be 1..2 for connect4, got 3"):
        NetworkEvaluator(game, _net(game), symmetries=3)
