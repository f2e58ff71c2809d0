"""RLHF on Go boards: raters on hand-made boards, the judged game, the board reward model, the command."""

import json
import random

import numpy as np
import pytest
import torch

from qstar.cli.main import main
from qstar.core.errors import QstarError
from qstar.games.go.game import GoConfig, GoGame
from qstar.games.go.playout import random_move
from qstar.games.go.rules import BLACK, EMPTY, WHITE, Position
from qstar.learn.checkpoint import load_model
from qstar.rlhf.board_labelers import (Board, BoardVibe, BoardVibeLabeler, OutcomeLabeler, ScoreLabeler, area_margin,
                                       board_text, colour_of, compare_boards, parse_board, vibe_features)
from qstar.rlhf.board_rm import BoardRM, BoardRMConfig, RewardJudge, load_board_rm, save_board_rm, train_board_rm
from qstar.rlhf.go import JudgedGame, prisoners, rules_judge
from qstar.rlhf.labelers import read_comparisons, write_comparisons
from qstar.rlhf.reward_model import comparison_accuracy


@pytest.fixture(autouse=True)
def one_thread():
    """Small CNNs run much slower on two threads of a busy 2-core machine than on one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def board(text: str, prisoners=(0, 0), final_margin=None) -> Board:
    pos = Position.from_ascii(text)
    return Board(pos.size, pos.board, prisoners, final_margin)


# Black walls off the left side; one white stone touches that area, so it only *looks* enclosed:
# area scoring gives the 6 empty points to nobody, the vibe rater to Black (3 black neighbours to 1 white).
LOOKS_ENCLOSED = board("""
    ..X..
    ..X..
    ..XO.
    ..X..
    OOX..
""")


def test_vibe_features_on_a_hand_made_board():
    f = vibe_features(LOOKS_ENCLOSED, BLACK)
    assert f["stones"] == 5 - 3
    # left: 8 points around which 4 X and 2 O stand; right: 9 points, 4 X and 1 O. Both look Black's.
    assert f["territory"] == 8 + 9
    assert vibe_features(LOOKS_ENCLOSED, WHITE) == {k: -v for k, v in f.items()}
    assert vibe_features(board(".....\n.....\n.....\n.....\n.....", (3, 1)), BLACK)["captures"] == 2


def test_score_labeler_knows_the_rules_and_komi_the_vibe_rater_does_not():
    # The area score counts only regions that touch one colour: here nothing but the stones (5 - 3), then komi.
    assert area_margin(LOOKS_ENCLOSED, BLACK, komi=0.5) == pytest.approx(5 - 3 - 0.5)
    closed = board("""
        ..X..
        ..X..
        ..X..
        ..X..
        OOX..
    """)  # the white stone gone: the right side is Black's
    assert area_margin(closed, BLACK, 0.5) == pytest.approx(5 + 10 - 2 - 0.5)
    rng = random.Random(0)
    strict = BoardVibeLabeler(BoardVibe(temperature=0))
    # Many prisoners and a few more stones look better to the vibe rater; the rules see the lost area.
    greedy = board("""
        X.X.X
        .X.X.
        X.X.X
        .....
        OOOOO
    """, prisoners=(9, 0))
    solid = board("""
        .....
        .....
        XXXXX
        .....
        OOOOO
    """)
    assert strict.prefers_first(BLACK, greedy, solid, rng)
    assert not ScoreLabeler(komi=7.5).prefers_first(BLACK, greedy, solid, rng)
    assert area_margin(solid, BLACK, 7.5) > area_margin(greedy, BLACK, 7.5)


def test_outcome_labeler_uses_the_result_of_the_boards_game():
    win, loss = LOOKS_ENCLOSED, board("....X\n.....\n.....\n.....\n....O")
    win, loss = Board(win.size, win.cells, (0, 0), 3.5), Board(loss.size, loss.cells, (0, 0), -2.5)
    lab, rng = OutcomeLabeler(), random.Random(0)
    assert lab.prefers_first(BLACK, win, loss, rng) and lab.prefers_first(WHITE, loss, win, rng)
    assert lab.decides(BLACK, win, loss) and not lab.decides(BLACK, win, win)
    with pytest.raises(QstarError, match="final_margin"):
        lab.prefers_first(BLACK, LOOKS_ENCLOSED, loss, rng)


def test_board_comparisons_are_trl_rows_that_round_trip(tmp_path):
    a, b = LOOKS_ENCLOSED, board(".....\n.....\n..O..\n.....\n.....", (1, 2))
    assert parse_board(board_text(b)) == b
    rows = compare_boards(BoardVibeLabeler(BoardVibe(temperature=0)), [BLACK, WHITE, BLACK], [a, a, a], [b, b, a],
                          komi=7.5, seed=0)
    assert len(rows) == 2  # the identical pair is skipped
    assert rows[0].chosen == board_text(a) and "for black" in rows[0].prompt and colour_of(rows[0]) == BLACK
    assert rows[1].chosen == board_text(b) and colour_of(rows[1]) == WHITE
    path = write_comparisons(tmp_path / "c.jsonl", rows)
    assert read_comparisons(path) == rows
    assert set(json.loads(path.read_text().splitlines()[0])) >= {"prompt", "chosen", "rejected"}
    with pytest.raises(QstarError, match="board_text"):
        parse_board("XX\nnot a board")


def test_prisoners_count_captured_stones():
    pos = Position(5)
    for p in (1, 0, 5, 24):  # B b5, W a5, B a4 captures a5, W e1
        pos = pos.play(p)
    assert pos.board[0] == EMPTY and prisoners(pos) == (1, 0)
    assert Board.of(pos).prisoners == (1, 0)


def _finished(text: str) -> Position:
    return Position.from_ascii(text).pass_move().pass_move()


BLACK_AHEAD = """
    .X..O
    .X..O
    .X..O
    .X..O
    .X..O
"""  # Black 5 stones + 5 points, White 5 stones, the middle is shared: Black by 5 - komi


def test_judged_game_takes_the_outcome_from_the_judge_not_the_rules():
    go = GoGame(GoConfig(size=5, komi=0.5))
    end = _finished(BLACK_AHEAD)
    assert go.is_terminal(end) and end.winner(0.5) == BLACK
    rules = JudgedGame(go, rules_judge(0.5))
    white_always = JudgedGame(go, lambda pos: WHITE)
    draw = JudgedGame(go, lambda pos: EMPTY)
    mover = end.to_play
    assert rules.terminal_value(end) == go.terminal_value(end) == (1.0 if mover == BLACK else -1.0)
    assert white_always.terminal_value(end) == (1.0 if mover == WHITE else -1.0)
    assert draw.terminal_value(end) == 0.0
    assert rules_judge(10.5)(end) == WHITE  # the same board with a larger komi
    # everything but the outcome is the wrapped game's
    start = go.initial_state()
    s1 = white_always.next_state(start, 12)
    assert np.array_equal(white_always.legal_mask(s1), go.legal_mask(s1))
    assert np.array_equal(white_always.encode([s1]), go.encode([s1]))
    assert white_always.key(s1) == go.key(s1) and white_always.name == go.name and white_always.variant == go.variant
    assert not white_always.is_terminal(s1) and not white_always.legal_mask(end).any()


def test_judged_game_asks_the_judge_once_per_finished_board():
    calls = []
    game = JudgedGame(GoGame(GoConfig(size=5)), lambda pos: calls.append(1) or BLACK)
    end = _finished(BLACK_AHEAD)
    for _ in range(3):
        game.terminal_value(end)
    assert len(calls) == 1 and game.judged == 1


def test_legal_points_match_the_full_check_along_random_games():
    """A capture that would repeat an earlier board once crashed a 7x7 self-play run of this experiment."""
    rng = random.Random(3)
    for _ in range(6):
        pos = Position(5)
        while not pos.is_over and pos.move_number < 120:
            full = [p for p in range(25) if pos.illegal_reason(p) is None]
            assert pos.legal_points() == full
            pos = pos.play(random_move(pos, rng))


def test_reward_judge_is_antisymmetric_and_follows_the_model():
    torch.manual_seed(0)
    rm = BoardRM(BoardRMConfig(size=5, blocks=1, channels=8))
    judge = RewardJudge(rm)
    end = _finished(BLACK_AHEAD)
    b = Board.of(end)
    m = float(judge.margins([b])[0])
    rb, rw = rm.score([b, b], [BLACK, WHITE])
    assert m == pytest.approx(rb - rw)
    assert judge(end) == (BLACK if m > 0 else WHITE)
    flipped = Board(5, bytes({BLACK: WHITE, WHITE: BLACK}.get(v, v) for v in b.cells), b.prisoners[::-1])
    assert float(judge.margins([flipped])[0]) == pytest.approx(-m, abs=1e-5)  # colours swapped, verdict swapped


def test_board_reward_model_learns_the_raters_ranking(tmp_path):
    rng = random.Random(0)
    boards = []
    for _ in range(800):
        pos = Position(5)
        for _ in range(rng.randrange(4, 30)):
            if pos.is_over:
                break
            pos = pos.play(random_move(pos, rng))
        boards.append(Board.of(pos))
    colours = [rng.choice((BLACK, WHITE)) for _ in range(400)]
    rows = compare_boards(BoardVibeLabeler(BoardVibe(temperature=0)), colours, boards[0::2], boards[1::2], 7.5, 0)
    train, held = rows[:320], rows[320:]
    rm, st = train_board_rm(train, BoardRMConfig(size=5, blocks=1, channels=16, epochs=20, batch_size=32))
    assert st["comparisons"] == len(train) and st["steps"] == 20 * ((len(train) + 31) // 32)
    assert comparison_accuracy(rm.reward, held) >= 0.8
    path = save_board_rm(rm, tmp_path / "rm", st)
    again = load_board_rm(path)
    assert comparison_accuracy(again.reward, held) == comparison_accuracy(rm.reward, held)
    with pytest.raises(QstarError, match="9x9|5x5"):
        train_board_rm(rows[:5], BoardRMConfig(size=9))


def test_rlhf_go_tiny_run_ends_with_one_json_line(tmp_path, capsys):
    run = tmp_path / "go"
    args = ["rlhf", "go", "--size", "5", "--run", str(run), "--pairs", "60", "--iterations", "1", "--games", "2",
            "--sims", "4", "--train-steps", "2", "--eval-games", "2", "--match-games", "2", "--match-sims", "2",
            "--gnugo-games", "0", "--workers", "1", "--json"]
    assert main(args) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["match_truth_vs_rlhf"]["games"] == 2 and set(s["rm_heldout_acc"]) == {"vibe", "score", "outcome"}
    for f in ("comparisons_vibe.jsonl", "comparisons_score.jsonl", "rm/model.safetensors", "truth/latest.safetensors",
              "rlhf/latest.safetensors", "training.png", "rm_vs_rules.png", "matches.png", "summary.md"):
        assert (run / f).exists(), f
    assert main(["rlhf", "report", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["size"] == 5
    assert main(args) == 2  # a finished run is not overwritten
    assert capsys.readouterr().err.strip().startswith("error:")
    # --init: both sides start from a given network (RLHF as fine-tuning); a network that does not fit is refused
    start = run / "truth" / "latest.safetensors"
    again = tmp_path / "go-init"
    assert main([*args[:5], str(again), *args[6:], "--init", str(start)]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r: v["games"] for r, v in s["vs_init"].items()} == {"truth": 2, "rlhf": 2}  # each side against its start
    assert "started from" in (again / "summary.md").read_text()
    w = load_model(start).state_dict()
    for side in ("truth", "rlhf"):
        w0 = load_model(again / side / "model_0000.safetensors").state_dict()
        assert all(torch.equal(w0[k], w[k]) for k in w)
    assert json.loads((again / "config.json").read_text())["init"] == str(start)
    for bad, why in (("shipped", "ships no network for 5x5"), (str(tmp_path / "none.safetensors"), "not found")):
        assert main([*args[:5], str(tmp_path / "go-bad"), *args[6:], "--init", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and why in err and len(err.splitlines()) == 1
