"""SGF: round trips (hypothesis), a hand-written file, and broken files that must fail with a byte offset."""

import random
import re

import pytest
from hypothesis import given, settings, strategies as st

from qstar.core.errors import IllegalMove
from qstar.games.go.playout import random_playout
from qstar.games.go.rules import BLACK, WHITE, Position, gtp_to_point
from qstar.games.go.sgf import SgfError, SgfGame, parse_sgf, read_sgf, to_sgf, write_sgf


def test_reads_a_hand_written_record_with_passes_setup_and_escapes():
    text = r"""(;FF[4]GM[1]SZ[9]KM[6.5]RU[Japanese]PB[Lee \] Sedol]PW[qstar]RE[W+R]AB[cc][gg]
               C[comment with ( and ; inside]
               ;W[ee];B[];W[ff]
               (;B[dd];W[tt])(;B[ff]))"""
    g = parse_sgf(text)
    assert (g.size, g.komi, g.rules, g.black, g.white, g.result) == (9, 6.5, "Japanese", "Lee ] Sedol", "qstar", "W+R")
    assert g.setup_black == [gtp_to_point("C7", 9), gtp_to_point("G3", 9)]
    assert g.moves == [(WHITE, gtp_to_point("E5", 9)), (BLACK, 81), (WHITE, gtp_to_point("F4", 9)),
                       (BLACK, gtp_to_point("D6", 9)), (WHITE, 81)]
    final = g.final()
    assert final.board[gtp_to_point("D6", 9)] == BLACK and final.board[gtp_to_point("C7", 9)] == BLACK


def test_rectangle_setup_and_lowercase_ff3_identifiers():
    g = parse_sgf("(;SZ[5]AddBlack[aa:bb];W[cc])")
    assert sorted(g.setup_black) == [0, 1, 5, 6]


@settings(max_examples=40, deadline=None)
@given(size=st.integers(5, 19), seed=st.integers(0, 2**31), komi=st.sampled_from([0.0, 5.5, 6.5, 7.5, -3.0]),
       name=st.text(max_size=12))
def test_round_trip_of_random_games(size, seed, komi, name):
    pos = random_playout(Position(size), random.Random(seed), max_moves=60)
    game = SgfGame.from_position(pos, komi, black=name, white="w]\\", result=pos.score(komi).result())
    back = parse_sgf(to_sgf(game))
    assert back.extra == {"FF": ["4"], "GM": ["1"], "CA": ["UTF-8"], "AP": ["qstar"]}
    back.extra = {}
    assert back == game
    assert back.final().board == pos.board


def test_write_and_read_file(tmp_path):
    pos = Position(9).play(40).pass_move().play(41)
    path = write_sgf(tmp_path / "g.sgf", SgfGame.from_position(pos, 7.5))
    assert read_sgf(path).final().board == pos.board
    assert path.read_text().startswith("(;FF[4]GM[1]")


@pytest.mark.parametrize("text,where,what", [
    ("", 0, "empty"),
    ("   ", 3, "empty"),
    ("(;SZ[9];B[ee]", 13, "expected ')'"),
    ("(;SZ[9", 4, "not closed"),
    ("(;SZ[9;B[ee])", 2, "one number"),
    ("(;SZ[9]B)", 7, "no value"),
    (";SZ[9]", 0, "expected '('"),
    ("(SZ[9])", 1, "must start with a node"),
    ("(;SZ[25])", 2, "not supported"),
    ("(;SZ[9x9])", 2, "one number"),
    ("(;SZ[9];B[zz])", 8, "not a point"),
    ("(;SZ[9]KM[seven])", 7, "not a number"),
    ("(;GM[2])", 2, "not a Go game"),
    ("(;SZ[9];B[ee];SZ[13])", 14, "before the moves"),
])
def test_broken_files_fail_with_the_byte_offset(text, where, what):
    with pytest.raises(SgfError, match=rf"byte {where}\b.*{re.escape(what)}"):
        parse_sgf(text)


def test_illegal_move_in_a_record_names_the_move():
    g = parse_sgf("(;SZ[5];B[cc];W[cc])")
    with pytest.raises(IllegalMove, match=r"SGF move 2 \(white C3\).*occupied"):
        g.final()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SgfError, match="cannot read"):
        read_sgf(tmp_path / "nope.sgf")
