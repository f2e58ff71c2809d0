"""The shipped Connect Four network: it is the file `qstar eval connect4` and `qstar play connect4` load, it is small,
and it plays like a trained network on solved positions (a fresh network of the same shape does not)."""

import numpy as np
import torch

from qstar.cli.games import _load_net
from qstar.games.connect4 import Connect4
from qstar.games.connect4.benchmark import bundled_path, load_positions, mistake_rate
from qstar.games.registry import get_game
from qstar.learn.evaluator import NetworkEvaluator
from qstar.learn.resnet import PolicyValueNet
from qstar.search.players import PolicyPlayer


def alone(net, positions) -> float:
    """Mistake rate of the network's policy alone (its most probable legal move)."""
    player = PolicyPlayer(NetworkEvaluator(Connect4(), net))
    rng = np.random.default_rng(0)
    return mistake_rate(positions, lambda states: player.select(states, rng))


def test_shipped_network_loads_is_small_and_plays_like_a_trained_one():
    entry = get_game("connect4")
    net, path = _load_net("connect4", None)  # what qstar eval / play connect4 load without --model
    assert path.name == entry.shipped_model and path.stat().st_size < 5_000_000
    assert net.num_parameters() < 1_000_000
    positions = load_positions(bundled_path("Test_L2_R1"), limit=200)
    trained = alone(net, positions)
    torch.manual_seed(0)
    fresh = alone(PolicyValueNet(entry.net(Connect4())), positions)
    assert trained <= 0.12, trained  # v3 measures 6.0% alone on these 200 positions (v2 11.0%, v1 19.0%)
    assert fresh >= trained + 0.10, (fresh, trained)  # an untrained net of the same shape: 23.5%
