import numpy as np
import pytest

from qstar.core.errors import ConfigError
from qstar.core.evaluator import Evaluation, UniformEvaluator
from qstar.games.connect4 import Connect4
from qstar.games.tictactoe import TicTacToe
from qstar.search import MCTSConfig, Tree, add_root_noise, choose_action, policy_from_visits, run_mcts

C4 = Connect4()
TTT = TicTacToe()


class CountingEvaluator:
    """Uniform priors, value 0, and a record of every batch it was asked for."""

    def __init__(self, game):
        self.inner = UniformEvaluator(game)
        self.batches = []

    def __call__(self, states):
        self.batches.append(len(states))
        return self.inner(states)


def test_finds_win_in_one():
    s = C4.from_moves("112233")  # X to move: column 4 wins
    t = Tree(C4, s)
    run_mcts([t], UniformEvaluator(C4), MCTSConfig(num_simulations=100))
    assert t.visit_counts().argmax() == 3
    assert t.root_value() > 0.5


def test_blocks_a_win_in_one_and_finds_win_in_two():
    s = C4.from_moves("11223")  # O must block column 4
    t = Tree(C4, s)
    run_mcts([t], UniformEvaluator(C4), MCTSConfig(num_simulations=800))
    assert t.visit_counts().argmax() == 3
    # tic-tac-toe: X has 0 and 4, O has 8 and 1; X plays 6 (threatens 2 and 3) ... forced win in two
    s = TTT.initial_state()
    for m in [0, 8, 4, 1]:
        s = TTT.next_state(s, m)
    t = Tree(TTT, s)
    run_mcts([t], UniformEvaluator(TTT), MCTSConfig(num_simulations=2000))
    assert t.visit_counts().argmax() in (3, 6)  # both create a double threat
    assert t.root_value() > 0.5


def test_visit_counts_sum_to_simulations_and_reuse_keeps_subtree():
    s = C4.initial_state()
    t = Tree(C4, s)
    cfg = MCTSConfig(num_simulations=200, leaves_per_step=8)
    run_mcts([t], UniformEvaluator(C4), cfg)
    assert t.visit_counts().sum() == pytest.approx(200)
    assert (t.N >= 0).all()  # virtual loss fully undone
    child_visits = t.visit_counts()[3]
    t.advance(3)
    assert t.visit_counts().sum() == pytest.approx(child_visits - 1)  # the child kept its subtree
    run_mcts([t], UniformEvaluator(C4), cfg)
    assert t.visit_counts().sum() == pytest.approx(child_visits - 1 + 200)


def test_batches_across_trees_and_leaves():
    ev = CountingEvaluator(C4)
    trees = [Tree(C4, C4.initial_state()) for _ in range(10)]
    run_mcts(trees, ev, MCTSConfig(num_simulations=32, leaves_per_step=8))
    assert ev.batches[0] == 10  # all roots in one call
    assert max(ev.batches) > 40  # leaves of several trees share a call
    for t in trees:
        assert t.visit_counts().sum() == pytest.approx(32)
    ev1 = CountingEvaluator(C4)
    run_mcts([Tree(C4, C4.initial_state())], ev1, MCTSConfig(num_simulations=32, leaves_per_step=1))
    assert set(ev1.batches) == {1} and len(ev1.batches) == 33  # the slow path: one position per call


def test_noise_only_at_root_and_only_when_asked():
    s = C4.initial_state()
    rng = np.random.default_rng(0)
    t = Tree(C4, s)
    run_mcts([t], UniformEvaluator(C4), MCTSConfig(num_simulations=50), rng, add_noise=True)
    assert not np.allclose(t.P[t.root], 1 / 7)
    for node in range(1, t.size):
        if t.expanded[node]:
            legal = t.legal[node]
            assert np.allclose(t.P[node][legal], 1 / legal.sum())
    t2 = Tree(C4, s)
    run_mcts([t2], UniformEvaluator(C4), MCTSConfig(num_simulations=50))
    assert np.allclose(t2.P[t2.root], 1 / 7)
    before = t.P[t.root].copy()
    add_root_noise(t, MCTSConfig(), rng)  # a root is noised once
    assert np.array_equal(before, t.P[t.root])


def test_terminal_root_and_same_seed_same_result():
    s = C4.from_moves("1212121")
    t = Tree(C4, s)
    run_mcts([t], UniformEvaluator(C4), MCTSConfig(num_simulations=10))
    assert t.visit_counts().sum() == 0
    runs = []
    for _ in range(2):
        t = Tree(C4, C4.initial_state())
        run_mcts([t], UniformEvaluator(C4), MCTSConfig(num_simulations=64), np.random.default_rng(5), add_noise=True)
        runs.append(t.visit_counts())
    assert np.array_equal(*runs)


def test_priors_guide_search():
    """A bandit-style check: with a prior on one move and equal values, search follows the prior."""
    class Biased:
        def __call__(self, states):
            p = np.full((len(states), 7), 0.01, np.float32)
            p[:, 5] = 0.94
            return Evaluation(p * np.stack([C4.legal_mask(s) for s in states]), np.zeros(len(states), np.float32))
    t = Tree(C4, C4.initial_state())
    run_mcts([t], Biased(), MCTSConfig(num_simulations=100))
    assert t.visit_counts().argmax() == 5


def test_temperature_and_config_validation():
    v = np.array([1, 3, 0, 6], float)
    assert np.array_equal(policy_from_visits(v, 0.0), [0, 0, 0, 1])
    assert np.allclose(policy_from_visits(v, 1.0), v / 10)
    assert choose_action(v, 0.0, np.random.default_rng(0)) == 3
    with pytest.raises(ConfigError, match="num_simulations"):
        MCTSConfig(num_simulations=0)
    with pytest.raises(ConfigError, match="noise_weight"):
        MCTSConfig(noise_weight=2.0)
