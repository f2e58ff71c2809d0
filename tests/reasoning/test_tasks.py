"""Tasks: the solver, exact solvability, splits and generation."""


from qstar.reasoning.countdown import Countdown, held_out
from qstar.reasoning.game24 import Game24, TEST_ROWS, load_puzzles
from qstar.reasoning.task import Problem

G = Game24()


def test_split_is_ranks_901_to_1000_and_disjoint_from_train():
    test, train = G.problems("test"), G.problems("train")
    assert [int(p.id) for p in test] == list(range(901, 1001))
    assert len(train) == 1262 and not {p.id for p in test} & {p.id for p in train}
    assert not {tuple(sorted(p.numbers)) for p in test} & {tuple(sorted(p.numbers)) for p in train}
    assert len(load_puzzles()) == 1362 and len(TEST_ROWS) == 100


def test_synthetic_training_puzzles_are_solvable_new_and_never_a_test_puzzle():
    synth = G.problems("synthetic")
    keys = {tuple(sorted(p.numbers)) for p in synth}
    assert len(keys) == len(synth) == 4344  # every solvable multiset of 1..20 with a number above 13
    assert all(max(p.numbers) > 13 for p in synth)
    assert not keys & {tuple(sorted(p.numbers)) for p in load_puzzles()}
    assert all(G.solvable(p.numbers, 24) for p in synth[::97])


def test_every_shipped_puzzle_is_solvable_and_known_unsolvable_ones_are_not():
    assert all(G.solvable(p.numbers, 24) for p in G.problems("test"))
    assert not G.solvable((1, 1, 1, 1), 24) and not G.solvable((13, 13, 13, 13), 24)
    assert G.solvable((3, 3, 8, 8), 24)  # needs a fraction: 8 / (3 - 8/3)


def test_solver_solutions_all_verify():
    for p in G.problems("test")[:20]:
        sols = G.solve(p)
        assert sols, p
        for s in sols:
            assert G.score_trace(p, "\n".join(s)).ok, (p, s)


def test_solver_golden_and_limit():
    sols = G.solve(Problem((1, 2, 2, 9), 24))
    assert ("9 + 1 = 10 (left: 2 2 10)", "10 + 2 = 12 (left: 2 12)", "12 * 2 = 24 (left: 24)") in sols
    assert len(G.solve(Problem((1, 1, 4, 6), 24), max_solutions=1)) == 1


def test_state_solvable_follows_the_steps():
    s0 = G.initial_state(Problem((4, 5, 6, 10), 24))
    s1, _ = G.apply(s0, "10 - 4 = 6 (left: 5 6 6)")
    assert G.state_solvable(s1)
    bad, _ = G.apply(s0, "10 + 6 = 16 (left: 4 5 16)")
    assert not G.state_solvable(bad)


def test_countdown_generation_is_seeded_solvable_and_holds_out_targets():
    c = Countdown()
    a, b = c.problems("train", seed=3, n=30), c.problems("train", seed=3, n=30)
    assert a == b and a != c.problems("train", seed=4, n=30)
    test = c.problems("test", seed=3, n=30)
    assert all(held_out(p.target) for p in test) and not any(held_out(p.target) for p in a)
    for p in a[:10] + test[:10]:
        assert 3 <= len(p.numbers) <= 6
        sol = c.solve(p, max_solutions=1)
        assert sol and c.score_trace(p, "\n".join(sol[0])).ok


def test_countdown_rules_keep_positive_integers():
    c = Countdown()
    s0 = c.initial_state(Problem((3, 7, 25), 18))
    assert c.apply(s0, "7 / 3 = 7/3 (left: 3 7/3 25)")[0] is None
    assert c.apply(s0, "3 - 7 = -4 (left: -4 25)")[0] is None
    s1, why = c.apply(s0, "25 - 7 = 18 (left: 3 18)")
    assert s1 is not None and c.is_done(s1) and c.is_goal(s1)
