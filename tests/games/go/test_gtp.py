"""GTP engine: a scripted conversation with exact answers, a fuzz run, and the real `qstar gtp` process."""

import random
import re
import subprocess
import sys

import pytest

from qstar.core.errors import ConfigError
from qstar.games.go.gtp import COMMANDS, GtpEngine
from qstar.games.go.player import RESIGN, Decision, SearchConfig, make_mover
from qstar.games.go.rules import gtp_to_point
from qstar.games.go.sgf import SgfGame, write_sgf


class ScriptedMover:
    """Plays the first legal point of a fixed list, or resigns when the list says so."""
    name = "scripted"

    def __init__(self, size, komi, moves=("E5", "C3", "resign")):
        self.size, self.moves = size, list(moves)

    def decide(self, pos, seconds=None):
        for m in self.moves:
            if m == "resign":
                return Decision(RESIGN, -1.0, 0)
            p = gtp_to_point(m, self.size)
            if pos.is_legal(p):
                return Decision(p, 0.0, 0)
        return Decision(self.size * self.size, 0.0, 0)


def converse(engine, script):
    for line, expected in script:
        assert engine.handle(line) == expected, line


def test_scripted_conversation_exact_answers(tmp_path):
    sgf = tmp_path / "game.sgf"
    write_sgf(sgf, SgfGame(size=7, komi=6.5, moves=[(1, gtp_to_point("D4", 7)), (2, gtp_to_point("C5", 7)),
                                                    (1, gtp_to_point("E3", 7))]))
    engine = GtpEngine(lambda s, k: ScriptedMover(s, k), size=9)
    board_after = "\n".join([
        "   A B C D E",
        " 5 . . . . .  5",
        " 4 . . . . .  4",
        " 3 . . X .(O) 3",
        " 2 . . . . .  2",
        " 1 . . . . .  1",
        "   A B C D E",
        "black to play, move 2"])
    converse(engine, [
        ("protocol_version", "= 2\n\n"),
        ("1 name", "=1 qstar\n\n"),
        ("2 version", "=2 0.1.0 (scripted)\n\n"),
        ("known_command genmove", "= true\n\n"),
        ("known_command kgs-chat", "= false\n\n"),
        ("list_commands", "= " + "\n".join(COMMANDS) + "\n\n"),
        ("boardsize 25", "? unacceptable size (this engine plays 5..19)\n\n"),
        ("boardsize 5", "=\n\n"),
        ("komi 0.5", "=\n\n"),
        ("komi abc", "? syntax error: komi must be a number, got 'abc'\n\n"),
        ("play b C3", "=\n\n"),
        ("play w C3", "? illegal move: the point is occupied\n\n"),
        ("play w Z9", "? syntax error: 'Z9' is not a point on a 5x5 board; use A1..E5 or pass\n\n"),
        ("play x C3", "? invalid color 'x'; use b, black, w or white\n\n"),
        ("12 genmove w", "=12 E5\n\n"),
        ("undo", "=\n\n"),
        ("play w E3", "=\n\n"),
        ("showboard", "= \n" + board_after + "\n\n"),
        ("reg_genmove b", "= E5\n\n"),  # does not play
        ("final_score", "= W+0.5\n\n"),  # one stone each, the rest neutral, komi 0.5
        ("final_status_list alive", "= C3\nE3\n\n"),
        ("final_status_list dead", "=\n\n"),
        ("final_status_list seki", "=\n\n"),
        ("final_status_list maybe", "? invalid status 'maybe'; use alive, dead or seki\n\n"),
        ("time_settings 300 30 5", "=\n\n"),
        ("time_left b 12.5 3", "=\n\n"),
        ("time_left b x 3", "? syntax error: 'x' is not a number\n\n"),
        ("genmove b", "= E5\n\n"),
        ("genmove w", "= resign\n\n"),  # E5 and C3 are taken; the list ends with resign
        ("final_score", "= B+R\n\n"),
        ("undo", "=\n\n"),
        ("undo", "=\n\n"),
        ("undo", "=\n\n"),
        ("undo", "=\n\n"),
        ("undo", "? cannot undo\n\n"),
        ("clear_board", "=\n\n"),
        (f"loadsgf {sgf}", "= white\n\n"),
        ("final_status_list alive", "= C5\nD4\nE3\n\n"),
        (f"loadsgf {sgf} 3", "= black\n\n"),  # the position before move 3
        ("final_status_list alive", "= C5\nD4\n\n"),
        (f"loadsgf {tmp_path / 'none.sgf'}", f"? cannot read {tmp_path / 'none.sgf'}: No such file or directory\n\n"),
        ("# a comment", None),
        ("   ", None),
        ("7", "?7 missing command\n\n"),
        ("\t3\tname\t", "=3 qstar\n\n"),
        ("frobnicate", "? unknown command\n\n"),
        ("99 quit", "=99\n\n"),
    ])
    assert not engine.running


def test_board_size_fixed_by_a_network_is_refused_politely():
    engine = GtpEngine(lambda s, k: ScriptedMover(s, k), size=9, fixed_size=True)
    assert engine.handle("boardsize 13") == "? unacceptable size (this engine plays 9)\n\n"
    assert engine.handle("boardsize 9") == "=\n\n"


def test_play_after_two_passes_and_out_of_turn_moves():
    engine = GtpEngine(lambda s, k: ScriptedMover(s, k), size=9)
    converse(engine, [("play b pass", "=\n\n"), ("play w pass", "=\n\n"), ("final_score", "= W+7.5\n\n"),
                      ("play w D4", "=\n\n"), ("play w E5", "=\n\n"), ("final_score", "= W+88.5\n\n")])


def test_real_engine_genmove_is_legal_and_resigns_only_when_lost():
    engine = GtpEngine(lambda s, k: make_mover(s, k, SearchConfig(simulations=16)), size=5)
    for _ in range(6):
        for color in "bw":
            answer = engine.handle(f"genmove {color}")
            assert answer.startswith("= "), answer
    assert engine.position.move_number == 12


def test_settled_engine_plays_on_until_only_its_eyes_are_left():
    """--pass-rule settled: the engine's search never considers a pass while it has a non-eye point; the
    opponent's passes are its own business."""
    engine = GtpEngine(lambda s, k: make_mover(s, k, SearchConfig(simulations=8, pass_rule="settled")), size=5)
    for _ in range(4):
        assert engine.handle("play w pass").startswith("=")
        answer = engine.handle("genmove b")
        assert answer.startswith("= ") and "pass" not in answer.lower(), answer
    with pytest.raises(ConfigError, match="--pass-rule must be one of any, settled"):
        SearchConfig(pass_rule="later")


def test_each_move_adds_its_simulations_to_the_subtree_it_reached():
    """Subtree reuse: after the engine's move and the reply, the search goes on from what it found below them;
    after an undo, or with --fresh-tree, it starts from nothing."""
    from qstar.games.go.rules import Position
    start = Position(5)
    m = make_mover(5, 7.5, SearchConfig(simulations=64))
    d1 = m.decide(start)
    node = m.tree.child(m.tree.root, d1.action)
    reply = int(m.tree.N[node].argmax())  # the reply the search looked at most
    kept = int(m.tree.N[m.tree.child(node, reply)].sum())
    later = start.play(d1.action).play(reply)
    d2 = m.decide(later)
    assert d1.simulations == 64 and kept > 0 and d2.simulations == 64 + kept
    assert m.tree.root_state.board == later.board and m.tree.root_state.moves() == later.moves()
    assert m.decide(start).simulations == 64  # an undo back to the start: a fresh tree
    fresh = make_mover(5, 7.5, SearchConfig(simulations=64, reuse_tree=False))
    fresh.decide(start)
    assert fresh.decide(later).simulations == 64


FUZZ_WORDS = COMMANDS + ["", "b", "w", "black", "white", "pass", "resign", "A1", "E5", "T19", "Z0", "i5", "-1", "0",
                         "1", "5", "9", "19", "25", "7.5", "nan", "inf", "-0", "1e9", "alive", "dead", "seki", "#", "\x00",
                         "é", "\x1b[2J", "/dev/null", "nonexistent.sgf", "genmove", "12", "99999999999999999999"]


@pytest.mark.parametrize("seed", [0, 1])
def test_fuzz_every_line_answered_and_the_engine_stays_alive(seed):
    """Random and malformed lines: each non-empty one gets exactly one answer starting with = or ?."""
    rng = random.Random(seed)
    engine = GtpEngine(lambda s, k: make_mover(s, k, SearchConfig(simulations=2)), size=5)
    answered = 0
    for i in range(6000):
        kind = rng.random()
        if kind < 0.6:
            words = [rng.choice(COMMANDS)] + [rng.choice(FUZZ_WORDS) for _ in range(rng.randrange(4))]
            if rng.random() < 0.3:
                words.insert(0, str(rng.randrange(1000)))
            line = " ".join(words)
        elif kind < 0.9:
            line = " ".join(rng.choice(FUZZ_WORDS) for _ in range(rng.randrange(1, 6)))
        else:
            line = "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 40)))
        if line.split()[:1] == ["quit"] or line.split()[1:2] == ["quit"]:
            line = "name"  # quitting would end the conversation early
        if "boardsize" in line and engine.size > 9:
            line = "boardsize 5"  # keep genmove fast
        response = engine.handle(line)
        if response is None:
            continue
        answered += 1
        assert response[0] in "=?" and response.endswith("\n\n") and "\n\n" not in response[:-2], (line, response)
        assert "internal error" not in response, (line, response)
    assert answered > 5000
    assert engine.handle("name") == "= qstar\n\n"


def test_qstar_gtp_subprocess_answers_garbage_and_quits():
    lines = ["1 protocol_version", "garbage \x01\x02", "boardsize 1000", "play b", "2 genmove b", "showboard",
             "final_score", "3 quit"]
    proc = subprocess.run([sys.executable, "-m", "qstar.cli", "gtp", "--size", "5", "--sims", "8"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    answers = proc.stdout.split("\n\n")
    assert answers[0] == "=1 2"
    assert answers[1].startswith("? unknown command")
    assert answers[2].startswith("? unacceptable size")
    assert answers[3].startswith("? syntax error")
    assert answers[4].startswith("=2 ") and answers[4] != "=2 resign"
    assert answers[-2] == "=3" and answers[-1] == ""


def test_engine_with_a_network_checkpoint(tmp_path):
    """--model: MCTS with the network; the board size is fixed by the checkpoint; a wrong file is a clear error."""
    import torch

    from qstar.core.errors import CheckpointError
    from qstar.games.go.game import GoConfig, GoGame
    from qstar.learn.checkpoint import save_model
    from qstar.learn.resnet import PolicyValueNet, ResNetConfig
    torch.manual_seed(0)
    game = GoGame(GoConfig(size=5, history=2))
    c, h, w = game.obs_shape
    path = save_model(tmp_path / "go5.safetensors", PolicyValueNet(ResNetConfig(c, h, w, 26, blocks=1, channels=8)),
                      game.name)
    engine = GtpEngine(lambda s, k: make_mover(s, k, SearchConfig(simulations=8), path), size=5, fixed_size=True)
    assert engine.handle("version") == "= 0.1.0 (mcts-net:go5.safetensors)\n\n"
    assert engine.handle("genmove b").startswith("= ")
    assert engine.handle("boardsize 7") == "? unacceptable size (this engine plays 5)\n\n"
    with pytest.raises(CheckpointError, match="trained for 'go5', not 'go9'"):
        make_mover(9, 7.5, SearchConfig(), path)
    # --pass-rule auto plays by the rule the checkpoint records, "any" where it records none
    settled = save_model(tmp_path / "settled.safetensors", PolicyValueNet(ResNetConfig(c, h, w, 26, blocks=1, channels=8)),
                         game.name, {"pass_rule": "settled"})
    auto = SearchConfig(simulations=8, pass_rule="auto")
    assert make_mover(5, 7.5, auto, settled).game.config.pass_rule == "settled"
    assert make_mover(5, 7.5, auto, path).game.config.pass_rule == "any"
    assert make_mover(5, 7.5, auto, None).game.config.pass_rule == "any"
    assert make_mover(5, 7.5, SearchConfig(pass_rule="any"), settled).game.config.pass_rule == "any"  # asked for


INFO = re.compile(r"info move (pass|[A-HJ-T]\d{1,2}) visits (\d+) winrate (\d+) prior (\d+) order (\d+) pv ((?:(?:pass|[A-HJ-T]\d{1,2}) ?)+)")


def analysis_lines(text):
    """The info records of one lz-analyze line: [(move, visits, winrate, prior, order, pv)]."""
    found = INFO.findall(text)
    assert " ".join(" ".join(["info move", m, "visits", v, "winrate", w, "prior", p, "order", o, "pv", pv.strip()])
                    for m, v, w, p, o, pv in found) == text.strip(), text  # nothing but info records
    return [(m, int(v), int(w), int(p), int(o), pv.split()) for m, v, w, p, o, pv in found]


def test_lz_analyze_answers_info_lines_and_refuses_bad_arguments():
    engine = GtpEngine(lambda s, k: make_mover(s, k, SearchConfig(simulations=8)), size=5)
    engine.handle("play b C3")
    head, info, end = engine.handle("7 lz-analyze w 10 minmoves 30").split("\n", 2)
    assert head == "=7" and end == "\n"
    moves = analysis_lines(info)
    assert [o for *_, o, _ in moves] == list(range(len(moves)))
    names = [m for m, *_ in moves]
    assert len(names) == 25 and "pass" in names and "C3" not in names  # every legal move (24 points, the pass)
    visits = [v for _, v, *_ in moves]
    assert visits == sorted(visits, reverse=True) and 0 < sum(visits) <= 16 and visits[-1] == 0
    assert all(0 <= w <= 10000 and 0 <= p <= 10000 and pv[0] == m for m, v, w, p, o, pv in moves)
    assert len(analysis_lines(engine.handle("lz-analyze 10 maxmoves 3").split("\n")[1])) == 3
    assert engine.handle("lz-analyze") == "=\n\n"  # no interval: nothing shown, the search stopped at once
    for bad, says in (("lz-analyze 10 foo 3", "got 'foo'"), ("lz-analyze b minmoves", "without a value"),
                      ("lz-analyze b maxmoves -1", "whole number")):
        answer = engine.handle(bad)
        assert answer.startswith("? syntax error") and says in answer and answer.endswith("\n\n"), answer
    scripted = GtpEngine(lambda s, k: ScriptedMover(s, k), size=5)
    assert scripted.handle("lz-analyze 10") == "? scripted cannot analyse\n\n"
    assert engine.handle("genmove b").startswith("= ")  # the engine goes on as before


def test_qstar_gtp_lz_analyze_streams_until_the_next_command():
    """As Lizzie and Sabaki use it: info lines keep coming until any new line, which ends the answer and is answered."""
    import queue
    import threading
    import time

    proc = subprocess.Popen([sys.executable, "-m", "qstar.cli", "gtp", "--size", "5", "--sims", "8"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    got: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [got.put(line) for line in proc.stdout], daemon=True).start()
    try:
        proc.stdin.write("1 lz-analyze b 5\n")
        proc.stdin.flush()
        assert got.get(timeout=60) == "=1\n"
        time.sleep(1.0)
        proc.stdin.write("2 name\n3 quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    rest = []
    while not got.empty():
        rest.append(got.get())
    blank = rest.index("\n")
    assert blank >= 2, rest  # several analyses streamed during that second
    for line in rest[:blank]:
        assert analysis_lines(line)
    assert rest[blank + 1:] == ["=2 qstar\n", "\n", "=3\n", "\n"]
