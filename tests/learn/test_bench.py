"""The dict-keyed baseline of `qstar bench selfplay` must be a sound search, or its ratio would flatter us."""

import numpy as np

from qstar.core.evaluator import UniformEvaluator
from qstar.games.connect4 import Connect4
from qstar.learn.bench import DictMCTS
from qstar.search import MCTSConfig, Tree, run_mcts

C4 = Connect4()


class Counting(UniformEvaluator):
    def __init__(self, game):
        super().__init__(game)
        self.batches = []

    def __call__(self, states):
        self.batches.append(len(states))
        return super().__call__(states)


def test_dict_search_takes_the_win_and_blocks_with_one_position_per_call():
    ev = Counting(C4)
    for moves, best in (("112233", 3), ("11223", 3)):
        visits = DictMCTS(C4, ev, c_puct=1.25).visits(C4.from_moves(moves), 200)
        assert visits.argmax() == best and visits.sum() == 199  # the first search only expands the root
    assert set(ev.batches) == {1}


def test_dict_search_agrees_with_our_search_on_the_opening():
    """Same evaluator, same simulations: both searches prefer the same first move of Connect Four."""
    ours = Tree(C4, C4.initial_state())
    run_mcts([ours], UniformEvaluator(C4), MCTSConfig(num_simulations=300))
    theirs = DictMCTS(C4, UniformEvaluator(C4), c_puct=1.25).visits(C4.initial_state(), 300)
    assert int(np.argmax(theirs)) == int(np.argmax(ours.visit_counts()))


def test_bench_counts_only_searched_moves_whatever_the_openings():
    from dataclasses import replace

    from qstar.games.tictactoe import TicTacToe
    from qstar.learn.bench import bench_selfplay
    from qstar.learn.resnet import PolicyValueNet, ResNetConfig
    from qstar.learn.selfplay import SelfPlayConfig

    game = TicTacToe()
    net = PolicyValueNet(ResNetConfig(*game.obs_shape, game.num_actions, blocks=1, channels=8))
    plain = SelfPlayConfig(mcts=MCTSConfig(num_simulations=4))
    opened = replace(plain, random_opening_prob=1.0, random_opening_moves=4)
    rows = [bench_selfplay(game, net, c, batched_games=3, sequential_games=2, dict_search=False) for c in (plain, opened)]
    for path in ("batched", "sequential"):  # same games: random openings are not played, so not counted
        assert rows[0][path]["positions"] == rows[1][path]["positions"] > 0
