"""The compiled inner loops against their NumPy meaning, on hand-built arrays."""

import numpy as np

from qstar.search.kernels import puct_walks, update_edges


def chain(depth: int, actions: int = 3):
    """Nodes 0..depth: node i is expanded and its prior puts all mass on action i % actions, whose child is i + 1."""
    cap = depth + 2
    stats = np.zeros((cap, 4, actions))
    children = np.full((cap, actions), -1, np.int64)
    expanded = np.zeros(cap, bool)
    for i in range(depth):
        stats[i, 2, i % actions] = 1.0
        children[i, i % actions] = i + 1
        expanded[i] = True
    return stats, np.ones(cap), children, expanded


def test_walks_follow_the_highest_score_to_the_leaf_through_a_growing_path_buffer():
    stats, C, children, expanded = chain(depth=70)  # one walk of 70 edges: the buffer (16 * 1 + 16) doubles twice
    leaves, node, action, walk, last = puct_walks(stats, C, children, expanded, np.array([0, 69, 70]))
    assert leaves.tolist() == [70, 70, 70]
    assert node.tolist() == list(range(70)) + [69]
    assert action.tolist() == [i % 3 for i in range(70)] + [69 % 3]
    assert walk.tolist() == [0] * 70 + [1]
    assert last.tolist() == [69, 70, -1]  # the third walk starts on a leaf: no edge


def test_a_walk_into_an_edge_without_a_child_returns_minus_one_and_names_the_edge():
    stats, C, children, expanded = chain(depth=5)
    children[3, 0] = -1  # node 3's best edge (3 % 3 = 0) has no child yet
    leaves, node, action, _, last = puct_walks(stats, C, children, expanded, np.array([1]))
    assert leaves.tolist() == [-1]
    assert (node[last[0]], action[last[0]]) == (3, 0)


def test_scores_are_q_plus_c_p_over_one_plus_n_with_ties_to_the_lowest_action():
    stats = np.zeros((2, 4, 4))
    stats[0, 0] = [3.0, 0.0, 1.0, 0.0]  # N
    stats[0, 1] = [0.5, -np.inf, 0.2, 0.1]  # Q (action 1 illegal)
    stats[0, 2] = [0.1, 0.9, 0.2, 0.2]  # P
    children = np.array([[1, 1, 1, 1], [-1] * 4])
    expanded = np.array([True, False])
    for c in (0.0, 1.0, 10.0):
        want = int(np.argmax(stats[0, 1] + c * stats[0, 2] / (1.0 + stats[0, 0])))
        _, _, action, _, _ = puct_walks(stats, np.array([c, 0.0]), children, expanded, np.array([0]))
        assert action.tolist() == [want]
    stats[0, 1] = 0.0
    stats[0, 2] = 0.25
    stats[0, 0] = 0.0
    assert puct_walks(stats, np.ones(2), children, expanded, np.array([0]))[2].tolist() == [0]


def test_update_edges_adds_every_repeat_and_refreshes_q_and_c_as_numpy_does():
    rng = np.random.default_rng(0)
    stats = np.zeros((4, 4, 3))
    nsum, C = np.zeros(4), np.zeros(4)
    value = rng.uniform(-1, 1, 4)
    to_play = np.array([0, 1, 0, 1], np.int8)
    node = np.array([0, 1, 0, 2, 0])  # edge (0, 2) three times, from two leaves
    action = np.array([2, 0, 2, 1, 2])
    walk = np.array([0, 0, 1, 1, 1])
    leaves = np.array([3, 2])
    leaf_value = np.array([0.5, -0.25])
    dn, dw, fpu, init, base = 0.75, 0.25, 0.1, 1.25, 19652.0
    update_edges(stats, nsum, C, value, to_play, node, action, walk, leaves, leaf_value, dn, dw, fpu, init, base)
    v = np.where(to_play[node] == to_play[leaves[walk]], leaf_value[walk], -leaf_value[walk])
    N, W, S = np.zeros((4, 3)), np.zeros((4, 3)), np.zeros(4)
    np.add.at(N, (node, action), dn)
    np.add.at(W, (node, action), v + dw)
    np.add.at(S, node, dn)
    assert np.array_equal(stats[:, 0], N) and np.array_equal(stats[:, 3], W) and np.array_equal(nsum, S)
    touched = np.zeros((4, 3), bool)
    touched[node, action] = True
    assert np.allclose(stats[:, 1][touched], (W / np.where(N > 0, N, 1))[touched])
    assert stats[0, 1, 0] == 0.0  # untouched edges keep what they had
    want_c = (np.log((1.0 + base + S) / base) + init) * np.sqrt(np.maximum(S, 1.0))
    assert np.allclose(C[[0, 1, 2]], want_c[[0, 1, 2]]) and C[3] == 0.0
