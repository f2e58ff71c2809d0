import math

import numpy as np
import pytest

from qstar.core.errors import ConfigError
from qstar.core.evaluator import Evaluation, UniformEvaluator
from qstar.core.game import play_out
from qstar.games.connect4 import Connect4
from qstar.games.tictactoe import TicTacToe
from qstar.search import Forest, MCTSConfig, Tree, add_root_noise, choose_action, policy_from_visits, run_mcts

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


def test_principal_variation_follows_the_most_visited_children():
    t = Tree(C4, C4.initial_state())
    run_mcts([t], UniformEvaluator(C4), MCTSConfig(num_simulations=300, leaves_per_step=8))
    a = int(t.visit_counts().argmax())
    line = t.principal_variation(a, 5)
    assert line[0] == a and 2 <= len(line) <= 5
    walker = Tree(C4, C4.initial_state())  # replay the line by hand: each step is the most visited child
    node = t.root
    for prev, nxt in zip(line, line[1:]):
        node = int(t.children[node, prev])
        assert nxt == int(t.N[node].argmax()) and t.N[node].sum() > 0
    assert walker.principal_variation(a, 5) == [a]  # nothing searched below: the line is the move alone


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


class HashedEvaluator:
    """Priors and values that look like a network's (uneven, no ties) but are a fixed function of the state."""

    def __init__(self, game):
        self.game = game

    def __call__(self, states):
        rows = [np.random.default_rng(abs(hash(self.game.key(s))) % 2**32).random(self.game.num_actions + 1)
                for s in states]
        masks = np.stack([self.game.legal_mask(s) for s in states])
        p = np.stack([r[:-1] for r in rows]) * masks
        p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-9)
        return Evaluation(p.astype(np.float32), np.array([2 * r[-1] - 1 for r in rows], np.float32))


def reference_mcts(trees, evaluator, cfg, sims):
    """The same search written the plain way: one tree after another, one node at a time, each leaf's
    virtual loss applied and undone edge by edge. The vectorised search must visit exactly as this does."""
    vl = cfg.virtual_loss

    def expand(t, node, prior, value):
        legal = t.game.legal_mask(t.states[node])
        p = np.where(legal, prior, 0.0)
        t.legal[node], t.P[node] = legal, p / p.sum() if p.sum() > 0 else legal / legal.sum()
        t.value[node], t.expanded[node], t.pending[node] = value, True, False

    def action(t, node):
        n, w, p = t.N[node], t.W[node], t.P[node]
        total = n.sum()
        c = (math.log((1.0 + cfg.c_puct_base + total) / cfg.c_puct_base) + cfg.c_puct_init) * math.sqrt(max(total, 1.0))
        scores = [((w[a] / n[a]) if n[a] > 0 else t.value[node] - cfg.fpu_reduction) + c * p[a] / (1.0 + n[a])
                  if t.legal[node, a] else -math.inf for a in range(len(n))]
        return int(np.argmax(scores))

    def backup(t, leaf, path, value, undo):
        for node, a in reversed(path):
            sign = 1.0 if t.to_play[node] == t.to_play[leaf] else -1.0
            t.N[node, a] += 1.0 - undo
            t.W[node, a] += sign * value + undo

    fresh = [t for t in trees if not t.expanded[t.root] and not t.terminal[t.root]]
    if fresh:
        ev = evaluator([t.root_state for t in fresh])
        for t, p, v in zip(fresh, ev.priors, ev.values):
            expand(t, t.root, p, float(v))
    remaining = [0 if t.terminal[t.root] else s for t, s in zip(trees, sims)]
    while any(remaining):
        batch = []
        for i, t in enumerate(trees):
            for _ in range(min(cfg.leaves_per_step, remaining[i])):
                node, path = t.root, []
                while t.expanded[node]:
                    a = action(t, node)
                    path.append((node, a))
                    node = t.child(node, a)
                if t.pending[node]:
                    break
                remaining[i] -= 1
                if t.terminal[node]:
                    backup(t, node, path, float(t.value[node]), 0.0)
                    continue
                for p, a in path:
                    t.N[p, a] += vl
                    t.W[p, a] -= vl
                t.pending[node] = True
                batch.append((t, node, path))
        if batch:
            ev = evaluator([t.states[leaf] for t, leaf, _ in batch])
            for (t, leaf, path), p, v in zip(batch, ev.priors, ev.values):
                expand(t, leaf, p, float(v))
                backup(t, leaf, path, float(v), vl)


def visits_by_path(t, node=None, prefix=(), depth=3):
    """{moves from the root: visit counts} over the first ``depth`` levels: comparable across forests."""
    node = t.root if node is None else node
    out = {prefix: t.N[node].tolist()}
    if depth > 1:
        for a in np.flatnonzero(t.children[node] >= 0):
            out.update(visits_by_path(t, int(t.children[node, a]), prefix + (int(a),), depth - 1))
    return out


@pytest.mark.parametrize("game, openings", [(C4, ["", "4", "44", "4455", "112233", "1212121"]),
                                            (TTT, [[], [4], [0, 8, 4, 1]])])
def test_vectorised_search_matches_the_plain_reference(game, openings):
    def start(o):
        return C4.from_moves(o) if game is C4 else play_out(TTT, TTT.initial_state(), o)
    cfg = MCTSConfig(num_simulations=60, leaves_per_step=8)
    sims = [60, 7, 33, 60, 1, 60][:len(openings)]
    forest = Forest(game, capacity=16)  # small: the arrays grow during the search
    fast = [Tree(game, start(o), forest=forest) for o in openings]  # one forest: searched level by level
    alone = [Tree(game, start(o), capacity=4) for o in openings]  # a forest each: the one-tree path
    slow = [Tree(game, start(o)) for o in openings]
    ev = HashedEvaluator(game)
    for _ in range(2):  # the second search continues on the kept subtree of the most visited move
        run_mcts(fast, ev, cfg, num_simulations=sims)
        run_mcts(alone, ev, cfg, num_simulations=sims)
        reference_mcts(slow, ev, cfg, sims)
        for f, o, s in zip(fast, alone, slow):
            assert visits_by_path(f) == visits_by_path(s) == visits_by_path(o)
            assert np.allclose(f.W[f.root], s.W[s.root]) and np.allclose(o.W[o.root], s.W[s.root])
            assert f.Nsum[f.root] == pytest.approx(f.N[f.root].sum())
            if not f.terminal[f.root]:
                a = int(f.visit_counts().argmax())
                for t in (f, o, s):
                    t.advance(a)
    assert (forest.N[:forest.size] >= 0).all() and not forest.pending[:forest.size].any()


def test_compact_keeps_the_live_subtrees_and_frees_the_rest():
    forest = Forest(C4)
    trees = [Tree(C4, C4.from_moves(o), forest=forest) for o in ["", "4", "43"]]
    run_mcts(trees, UniformEvaluator(C4), MCTSConfig(num_simulations=80))
    trees[0].advance(3)
    keep = trees[:2]
    before = [visits_by_path(t, depth=6) for t in keep]
    size = forest.size
    forest.compact(keep)
    assert forest.size < size
    assert [visits_by_path(t, depth=6) for t in keep] == before
    assert forest.size == sum(sum(1 for _ in _subtree(t, t.root)) for t in keep)
    assert not forest.expanded[forest.size:size].any() and (forest.children[forest.size:size] == -1).all()
    run_mcts(keep, UniformEvaluator(C4), MCTSConfig(num_simulations=40))  # searching on after compaction works
    assert trees[1].visit_counts().sum() == pytest.approx(120)


def _subtree(t, node):
    yield node
    for c in t.children[node]:
        if c >= 0:
            yield from _subtree(t, int(c))
