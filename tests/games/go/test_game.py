"""GoGame through the domain-free interface: features, symmetries, values, strings, and one self-play game."""

import json

import numpy as np
import pytest
import torch

from qstar.core.errors import ConfigError, IllegalMove
from qstar.core.game import Game
from qstar.games.go.game import GoConfig, GoGame


def test_is_a_game_and_validates_its_config():
    assert isinstance(GoGame(), Game)
    g = GoGame(GoConfig(size=7, history=2))
    assert (g.num_actions, g.obs_shape, g.name) == (50, (5, 7, 7), "go7")
    for bad in ({"size": 4}, {"size": 20}, {"history": 0}, {"max_moves": -1}):
        with pytest.raises(ConfigError):
            GoConfig(**bad)


def test_encode_history_planes_from_the_movers_view():
    g = GoGame(GoConfig(size=5, history=2))
    s0 = g.initial_state()
    s1 = g.next_state(s0, g.string_to_action(s0, "A5"))  # black at (0, 0); white to move
    s2 = g.next_state(s1, g.string_to_action(s1, "E1"))  # white at (4, 4); black to move
    x = g.encode([s1, s2])
    assert x.shape == (2, 5, 5, 5) and x.dtype == np.float32
    # s1, white to move: own stones none, opponent's (black) at A5; one move ago: empty board; not black to move
    assert x[0, 0].sum() == 0 and x[0, 1, 0, 0] == 1 and x[0, 2:4].sum() == 0 and x[0, 4].sum() == 0
    # s2, black to move: own A5, opponent's E1; one move ago own A5 only; black-to-move plane all ones
    assert x[1, 0, 0, 0] == 1 and x[1, 1, 4, 4] == 1 and x[1, 2, 0, 0] == 1 and x[1, 3].sum() == 0
    assert x[1, 4].sum() == 25


def test_key_tells_apart_move_orders_the_network_can_see():
    g = GoGame(GoConfig(size=5, history=2))

    def play(*moves):
        s = g.initial_state()
        for m in moves:
            s = g.next_state(s, g.string_to_action(s, m))
        return s

    a, b = play("A5", "E1", "C3"), play("C3", "E1", "A5")  # the same board, different last boards
    assert a.board == b.board and not np.array_equal(g.encode([a]), g.encode([b]))
    assert g.key(a) != g.key(b)
    assert g.key(a) == g.key(play("A5", "E1", "C3"))
    # with one board of history the network sees the same input, so the cache may share it
    g1 = GoGame(GoConfig(size=5, history=1))
    assert g1.key(a) == g1.key(b)


def test_symmetries_move_stones_and_policy_together():
    g = GoGame(GoConfig(size=5, history=1))
    s = g.next_state(g.initial_state(), g.string_to_action(g.initial_state(), "B4"))
    obs = g.encode([s])[0]
    pi = np.zeros(26, np.float32)
    pi[6] = 0.75  # B4 (row 1, col 1), where the stone is
    pi[25] = 0.25
    syms = g.symmetries(obs, pi)
    assert len(syms) == 8
    assert np.array_equal(syms[0][0], obs) and np.array_equal(syms[0][1], pi)
    seen = set()
    for o, p in syms:
        stone = np.unravel_index(o[1].argmax(), (5, 5))  # the opponent's stone plane
        assert divmod(int(p[:25].argmax()), 5) == tuple(int(v) for v in stone)
        assert p[25] == 0.25 and abs(p.sum() - 1) < 1e-6
        seen.add(tuple(int(v) for v in stone))
    assert len(seen) == 4  # B4 has four images on a 5x5 board (it lies on a diagonal)


def test_terminal_value_is_for_the_player_to_move_with_komi():
    g = GoGame(GoConfig(size=5, komi=0.5))
    s = g.initial_state()
    s = g.next_state(s, g.string_to_action(s, "C3"))  # black owns the board
    s = g.next_state(s, 25)
    s = g.next_state(s, 25)
    assert g.is_terminal(s) and not g.legal_mask(s).any()
    assert g.to_play(s) == 1 and g.terminal_value(s) == -1.0  # white to move has lost by 24.5
    tied = GoGame(GoConfig(size=5, komi=0.0))
    e = tied.next_state(tied.next_state(tied.initial_state(), 25), 25)
    assert tied.terminal_value(e) == 0.0


def test_move_limit_ends_the_game_and_strings_round_trip():
    g = GoGame(GoConfig(size=5, max_moves=3))
    s = g.initial_state()
    for text in ("C3", "pass", "D4"):
        assert g.action_to_string(s, g.string_to_action(s, text)) == text
        s = g.next_state(s, g.string_to_action(s, text))
    assert g.is_terminal(s)
    with pytest.raises(IllegalMove, match="move limit"):
        g.next_state(s, 0)
    with pytest.raises(IllegalMove, match="occupied"):
        g.string_to_action(g.next_state(g.initial_state(), 12), "C3")


def test_one_self_play_game_through_the_shared_loop():
    """Go plugs into qstar.learn's self-play with no special case."""
    from qstar.core.evaluator import UniformEvaluator
    from qstar.learn.selfplay import SelfPlayConfig, augment, play_games
    from qstar.search import MCTSConfig
    g = GoGame(GoConfig(size=5, max_moves=30))
    cfg = SelfPlayConfig(MCTSConfig(num_simulations=8, leaves_per_step=4), parallel_games=2, temperature_moves=30)
    records = play_games(g, UniformEvaluator(g), cfg, 2, np.random.default_rng(0))
    assert len(records) == 2 and all(0 < r.length <= 30 for r in records)
    obs, pi, z = augment(g, records[0])
    assert obs.shape == (8 * len(records[0].z), *g.obs_shape) and np.allclose(pi.sum(1), 1)


def test_train_go_resume_keeps_the_runs_shape(tmp_path, capsys):
    from qstar.cli.main import main
    rd = tmp_path / "go5"
    base = ["train", "go", "--size", "5", "--run-dir", str(rd), "--games", "2", "--sims", "4", "--fast-sims", "2",
            "--train-steps", "1", "--eval-games", "0", "--threads", "1"]
    assert main(base + ["--iterations", "1", "--blocks", "1", "--channels", "8", "--max-moves", "12",
                        "--pass-rule", "settled"]) == 0
    shape = json.loads((rd / "go.json").read_text())
    assert shape["channels"] == 8 and shape["pass_rule"] == "settled"
    from qstar.learn.checkpoint import read_metadata
    meta = read_metadata(rd / "latest.safetensors")  # the rules the network learned travel with it
    assert (meta["pass_rule"], meta["komi"], meta["iteration"]) == ("settled", "7.5", "1")
    assert main(base + ["--iterations", "2", "--resume"]) == 0  # shape and move cap come from go.json
    assert (rd / "model_0002.safetensors").exists()
    capsys.readouterr()
    assert main(base + ["--iterations", "3", "--resume", "--channels", "16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--channels 16 differs from the run's 8" in err[0]
    assert main(base + ["--iterations", "3", "--resume", "--pass-rule", "any"]) == 0  # 'any' is the default: kept
    assert main(base + ["--iterations", "3", "--pass-rule", "sometimes"]) == 2
    assert "pass rule must be one of any, settled" in capsys.readouterr().err
    # the final-network stage added to the finished run: a fresh network of the run's shape, now latest
    assert main(base + ["--iterations", "3", "--resume", "--final-steps", "2"]) == 0
    final = json.loads((rd / "final.json").read_text())
    assert final["steps"] == 2 and (rd / "final.safetensors").exists()
    assert read_metadata(rd / "latest.safetensors")["pass_rule"] == "settled"


def test_settled_pass_rule_waits_until_only_own_eyes_are_left():
    """pass_rule='settled': no pass while a legal point is not the mover's own eye; then the pass only.
    The points themselves are as under the plain rule."""
    from qstar.games.go.rules import Position

    g = GoGame(GoConfig(size=5, pass_rule="settled"))
    plain = GoGame(GoConfig(size=5))
    start = g.initial_state()
    assert not g.legal_mask(start)[g.pass_action] and plain.legal_mask(start)[plain.pass_action]
    settled = Position.from_ascii("""
        .X.X.
        XXXXX
        .X.X.
        XXXXX
        .X.X.
    """)  # Black's only empty points are its own single-point eyes
    mask = g.legal_mask(settled)
    assert mask[g.pass_action] and mask[:-1].tolist() == plain.legal_mask(settled)[:-1].tolist()
    unsettled = Position.from_ascii("""
        .X.X.
        XXXXX
        .X...
        XXXXX
        .X.X.
    """)
    assert not g.legal_mask(unsettled)[g.pass_action]
    with pytest.raises(ConfigError, match="pass rule must be one of any, settled"):
        GoConfig(pass_rule="never")


def test_a_go_self_play_worker_survives_pickling():
    """What `qstar train go --executor ray` sends to each actor: the game, the network shape and the self-play
    config; the copy plays games with weights it is sent, as the original would."""
    import functools
    import pickle

    from qstar.learn.executor import SelfPlayWorker
    from qstar.learn.resnet import PolicyValueNet, ResNetConfig
    from qstar.learn.selfplay import SelfPlayConfig
    from qstar.search import MCTSConfig
    g = GoGame(GoConfig(size=5, max_moves=12, pass_rule="settled"))
    net = ResNetConfig(*g.obs_shape, g.num_actions, blocks=1, channels=8)
    cfg = SelfPlayConfig(MCTSConfig(num_simulations=4, leaves_per_step=2), parallel_games=2, temperature_moves=4)
    make = pickle.loads(pickle.dumps(functools.partial(SelfPlayWorker, g, net, cfg)))
    weights = PolicyValueNet(net).state_dict()
    copy, here = make(), SelfPlayWorker(g, net, cfg)
    copy.set_weights(weights)
    here.set_weights(weights)
    a, b = copy.play(2, seed=3), here.play(2, seed=3)
    assert copy.game.config == g.config and [r.moves for r in a] == [r.moves for r in b] and a[0].length > 0


def test_train_go_init_from_a_network_of_another_board_size(tmp_path, capsys):
    """--init with a 5x5 network on a 6x6 run: the convolutions are copied, the board-sized linear layers
    start fresh; a network of another trunk, a non-Go network, or --init with --resume are refused in one line."""
    from qstar.cli.main import main
    from qstar.learn.checkpoint import load_model
    small = ["--games", "2", "--sims", "4", "--fast-sims", "2", "--train-steps", "1", "--eval-games", "0",
             "--threads", "1", "--iterations", "1", "--blocks", "1", "--channels", "8"]
    assert main(["train", "go", "--size", "5", "--run-dir", str(tmp_path / "a"), *small]) == 0
    src = tmp_path / "a" / "latest.safetensors"
    assert main(["train", "go", "--size", "6", "--run-dir", str(tmp_path / "b"), *small, "--init", str(src)]) == 0
    assert "board-sized tensors fresh (policy_fc.weight, policy_fc.bias, value_fc.0.weight" in capsys.readouterr().err
    a, b = load_model(src).state_dict(), load_model(tmp_path / "b" / "model_0000.safetensors").state_dict()
    assert torch.equal(a["stem.0.weight"], b["stem.0.weight"]) and a["policy_fc.weight"].shape != b["policy_fc.weight"].shape
    for extra, why in ((["--size", "6", "--channels", "16"], "channels 8 (the run's: 16)"),
                       (["--size", "5", "--resume"], "leave it out with --resume")):
        args = ["train", "go", "--run-dir", str(tmp_path / "c"), *small, *extra, "--init", str(src)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and why in err[0], err
    from qstar.games.tictactoe import TicTacToe
    from qstar.learn.checkpoint import save_model
    from qstar.learn.resnet import PolicyValueNet, ResNetConfig
    ttt = save_model(tmp_path / "ttt.safetensors", PolicyValueNet(ResNetConfig(2, 3, 3, 9, blocks=1, channels=8)),
                     TicTacToe().name)
    assert main(["train", "go", "--size", "5", "--run-dir", str(tmp_path / "d"), *small, "--init", str(ttt)]) == 2
    assert "is a tictactoe network, not a Go one" in capsys.readouterr().err
