"""Agreement with GNU Go over random 9x9 games played to the end (marked gnugo; skipped without the binary).

One gnugo process for all games (`clear_board` between them). Every move qstar calls legal is sent with `play`
and must be accepted; at a sample of positions qstar's set of legal points must equal GNU Go's apart from
superko refusals (GNU Go checks simple ko only). At the end qstar's area score must equal GNU Go's
`final_score` (--chinese-rules) unless GNU Go calls some stones dead; those games are counted and reported.
"""

import os
import random

import pytest

from qstar.games.go.client import EngineError, GtpClient, find_gnugo
from qstar.games.go.playout import random_move
from qstar.games.go.rules import BLACK, Position, point_to_gtp

GNUGO = find_gnugo()
pytestmark = pytest.mark.gnugo
needs_gnugo = pytest.mark.skipif(GNUGO is None, reason="gnugo not installed: run scripts/install_gnugo.sh "
                                                       "(it lands in /usr/games/gnugo)")


@pytest.fixture(scope="module")
def gnugo():
    with GtpClient([GNUGO, "--mode", "gtp", "--chinese-rules", "--level", "0"], timeout=30, name="gnugo") as g:
        g.send("boardsize 9")
        g.send("komi 7.5")
        yield g


@needs_gnugo
def test_random_games_agree_with_gnugo_quick(gnugo):
    agree(gnugo, games=40, seed=1)


@needs_gnugo
@pytest.mark.slow
def test_500_random_games_agree_with_gnugo(gnugo):
    agree(gnugo, games=int(os.environ.get("QSTAR_GNUGO_games", "500")), seed=2024)


def agree(gnugo, games: int, seed: int) -> None:
    rng = random.Random(seed)
    compared = dead_games = legal_checks = 0
    superko_only = 0
    for game in range(games):
        gnugo.send("clear_board")
        pos = Position(9)
        while not pos.is_over:
            move = random_move(pos, rng)
            if game < 20 and pos.move_number % 10 == 5:  # full legal-set comparison on a sample
                ours = set(pos.legal_points())
                color = "b" if pos.to_play == BLACK else "w"
                empty = [p for p, v in enumerate(pos.board) if v == 0]
                theirs = {p for p in empty if gnugo.send(f"is_legal {color} {point_to_gtp(p, 9)}") == "1"}
                assert ours <= theirs, (game, pos.render())
                for p in theirs - ours:
                    assert pos.illegal_reason(p).startswith("positional superko"), (game, p, pos.render())
                    superko_only += 1
                legal_checks += 1
            color = "b" if pos.to_play == BLACK else "w"
            try:
                gnugo.send(f"play {color} {point_to_gtp(move, 9)}")
            except EngineError as e:
                pytest.fail(f"game {game}: GNU Go refused {color} {point_to_gtp(move, 9)} ({e})\n{pos.render()}")
            pos = pos.play(move)
        if gnugo.send("final_status_list dead").strip():
            dead_games += 1
            continue
        assert gnugo.send("final_score") == pos.score(7.5).result(), (game, pos.render())
        compared += 1
    print(f"\n{games} random games: {compared} scores equal to GNU Go's, {dead_games} skipped because GNU Go "
          f"calls stones dead; {legal_checks} full legal-set checks, {superko_only} points refused only by superko")
    assert compared >= 0.3 * games
