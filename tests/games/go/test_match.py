"""Match runner against scripted fake engines: colours alternate, SGF per game, a dead or silent engine loses
that game and the match goes on. One real game against GNU Go when it is installed."""

import sys
import textwrap

import pytest

from qstar.games.go.client import EngineDied, GtpClient, engine_argv, find_gnugo
from qstar.games.go.match import MatchConfig, play_match
from qstar.games.go.sgf import read_sgf

FAKE = textwrap.dedent("""
    import sys, time
    mode = sys.argv[1]
    moves = iter(sys.argv[2:])
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "genmove":
            if mode == "die":
                sys.exit(3)
            if mode == "hang":
                time.sleep(60)
            if mode == "slow":
                time.sleep(0.3)
            if mode == "illegal":
                print("= Z99\\n", flush=True)
                continue
            print("= " + next(moves, "pass") + "\\n", flush=True)
        elif cmd[0] == "clear_board":
            moves = iter(sys.argv[2:])
            print("=\\n", flush=True)
        elif cmd[0] == "name":
            print("= fake-" + mode + "\\n", flush=True)
        elif cmd[0] == "quit":
            print("=\\n", flush=True)
            break
        else:
            print("=\\n", flush=True)
""")


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "fake_engine.py"
    path.write_text(FAKE)
    return lambda mode, *moves: " ".join([sys.executable, str(path), mode, *moves])


def test_alternating_colours_results_and_sgf(fake, tmp_path):
    # "corner" plays A1 then passes: as Black it owns the whole empty 5x5 board (25 - 0.5 komi)
    report = play_match(fake("corner", "A1"), fake("passer"), MatchConfig(games=4, size=5, komi=0.5, scorer="area",
                                                                         out_dir=tmp_path / "sgf", openings=0))
    r = report.result
    assert (r.wins, r.draws, r.losses) == (4, 0, 0)
    assert [g.a_black for g in report.games] == [True, False, True, False]
    assert [g.result for g in report.games] == ["B+24.5", "W+25.5", "B+24.5", "W+25.5"]
    assert report.a.startswith("fake-corner")
    game = read_sgf(tmp_path / "sgf" / "game-002.sgf")
    assert game.result == "W+25.5" and game.white.startswith("fake-corner") and len(game.moves) == 4
    assert game.extra["C"] == ["two passes, scored by area"]
    d = report.as_dict()
    assert d["games"] == 4 and d["score_ci95"][0] < 1.0 and d["elo"] > 0


def test_random_openings_make_deterministic_engines_play_different_games(fake, tmp_path):
    """Two engines that always pass: without openings every game is the same; with two random opening moves each
    pair of games (A Black, then A White) shares one opening and the pairs differ; both engines are told it."""
    same = play_match(fake("passer"), fake("passer"), MatchConfig(games=4, size=5, scorer="area", openings=0))
    assert same.as_dict()["distinct_games"] == 1
    cfg = MatchConfig(games=4, size=5, scorer="area", openings=2, seed=1, out_dir=tmp_path)
    report = play_match(fake("passer"), fake("passer"), cfg)
    openings = [g.record[:2] for g in report.games]
    assert openings[0] == openings[1] != openings[2] == openings[3]
    assert all(len(g.record) == 4 and g.record[2][1] == g.record[3][1] == 25 for g in report.games)  # then 2 passes
    assert report.as_dict()["distinct_games"] == 2
    assert "random opening" in read_sgf(tmp_path / "game-001.sgf").extra["C"][0]
    # the same seed gives the same openings
    assert [g.record for g in play_match(fake("passer"), fake("passer"), cfg).games] == [g.record for g in report.games]
    with pytest.raises(Exception, match="--openings must be 0..12"):
        MatchConfig(size=5, openings=13)


def test_report_gives_each_sides_seconds_per_move(fake):
    d = play_match(fake("passer"), fake("slow"), MatchConfig(games=2, size=5, scorer="area",
                                                                                    openings=0)).as_dict()
    assert d["b_seconds_per_move"] >= 0.3 > d["a_seconds_per_move"]
    assert d["mean_moves"] == 2  # both pass at once


@pytest.mark.parametrize("mode,code", [("die", "F"), ("hang", "T"), ("illegal", "F")])
def test_broken_engine_loses_the_game_and_the_match_goes_on(fake, tmp_path, mode, code):
    report = play_match(fake("passer"), fake(mode), MatchConfig(games=2, size=5, komi=0.5, move_timeout=1.0,
                                                               scorer="area", out_dir=tmp_path, openings=0))
    results = [g.result for g in report.games]
    # game 1: broken engine is White and loses on its first genmove; game 2 it is Black
    assert results == [f"B+{code}", f"W+{code}"], [g.reason for g in report.games]
    assert report.result.wins == 2
    forfeits = report.as_dict()["forfeits"]  # numbered as the SGF files are: game-001.sgf is game 1
    assert [f.split(":")[0] for f in forfeits] == ["game 1", "game 2"], forfeits
    assert (tmp_path / "game-001.sgf").exists() and f"+{code}]" in (tmp_path / "game-002.sgf").read_text()


def test_client_timeout_and_missing_engine():
    with pytest.raises(EngineDied, match="cannot start"):
        GtpClient(["/nonexistent/engine"])
    with GtpClient([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5) as c:
        with pytest.raises(EngineDied, match="within 0.5 s"):
            c.send("name")


def test_engine_argv_specs(tmp_path):
    assert engine_argv("qstar", 7)[-3:] == ["gtp", "--size", "7"]
    assert engine_argv(str(tmp_path / "net.safetensors"), 9)[-5:] == ["gtp", "--model", str(tmp_path / "net.safetensors"),
                                                                       "--size", "9"]
    assert engine_argv("some-engine --mode gtp") == ["some-engine", "--mode", "gtp"]


@pytest.mark.gnugo
@pytest.mark.skipif(find_gnugo() is None, reason="gnugo not installed: run scripts/install_gnugo.sh")
def test_one_real_game_gnugo_against_itself(tmp_path):
    report = play_match("gnugo --mode gtp --level 0", "gnugo --mode gtp --level 0",
                        MatchConfig(games=1, size=7, out_dir=tmp_path))
    g = report.games[0]
    assert g.result[:2] in ("B+", "W+") and g.result[2:] not in ("F", "T"), g.reason
    assert read_sgf(g.sgf).final().move_number == g.moves


def test_match_command_json_last_line_and_one_line_errors(fake, tmp_path, capsys):
    import json

    from qstar.cli.main import main
    rc = main(["match", fake("corner", "A1"), fake("passer"), "--games", "2", "--size", "5", "--komi", "0.5",
               "--scorer", "area", "--out", str(tmp_path), "--openings", "0", "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    d = json.loads(out[-1])
    assert (d["wins"], d["losses"], d["games"]) == (2, 0, 2) and (tmp_path / "game-002.sgf").exists()
    assert main(["match", "", "gnugo", "--games", "1"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: empty engine command")
    # an engine that cannot start, or a checkpoint that is not there: refused before the first game
    for spec, says in (("no-such-engine --mode gtp", "no program 'no-such-engine' found"),
                       (str(tmp_path / "gone.safetensors"), "no checkpoint at")):
        assert main(["match", spec, fake("passer"), "--games", "1", "--out", str(tmp_path / "refused")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
        assert not (tmp_path / "refused").exists()
    from qstar.games.go.match import _Seat
    _Seat(fake("passer") + " --model a-name-not-a-file", 5, 5.0)  # another engine's own --model is its business


def test_eval_go_passes_its_resign_threshold_and_symmetries_to_the_engine(fake, tmp_path, capsys, monkeypatch):
    import json

    import qstar.cli.go as go_cli
    from qstar.cli.main import main
    seen, run = [], go_cli._run_match
    monkeypatch.setattr(go_cli, "_run_match", lambda black, *a: seen.append(black) or run(black, *a))
    rc = main(["eval", "go", "--opponent", fake("passer"), "--model", "none", "--size", "5", "--sims", "8",
               "--games", "2", "--resign", "-1", "--symmetries", "4", "--openings", "0", "--out", str(tmp_path),
               "--json"])
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and d["games"] == 2 and d["resign"] == -1.0 and d["symmetries"] == 4
    assert "--resign -1.0" in seen[0] and "--symmetries 4" in seen[0] and (tmp_path / "game-002.sgf").exists()
    for flag, says in (("--resign", "resign threshold must be in [-1, 0]"),
                       ("--symmetries", "--symmetries must be 1..8")):
        assert main(["eval", "go", "--opponent", fake("passer"), flag, "9", "--out", str(tmp_path / "no")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
