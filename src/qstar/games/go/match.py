"""Matches between two GTP engines: colours alternate, every game is written as SGF, the score is a win rate with a
95% interval and an Elo difference (``qstar.core.elo.MatchResult``). An engine that dies, times out, answers
nonsense or plays an illegal move loses that game; it is restarted and the match goes on."""

from __future__ import annotations

import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from qstar.core.elo import MatchResult
from qstar.core.errors import IllegalMove, QstarError, check
from qstar.games.go.client import EngineDied, EngineError, GtpClient, engine_argv, find_gnugo
from qstar.games.go.player import NO_MODEL
from qstar.games.go.rules import BLACK, WHITE, Position, gtp_to_point, point_to_gtp
from qstar.games.go.sgf import SgfGame, write_sgf

SCORERS = ("auto", "area", "gnugo")


@dataclass(frozen=True)
class MatchConfig:
    games: int = 10  # games in the match; A is Black in the even-numbered ones
    size: int = 9
    komi: float = 7.5
    move_timeout: float = 60.0  # seconds an engine may take per answer before it loses the game
    max_moves: int = 0  # the game is scored after this many moves; 0 = 3 * size * size
    scorer: str = "auto"  # area: every stone alive (Tromp-Taylor); gnugo: GNU Go's --chinese-rules final_score,
    #                      which removes dead stones; auto: gnugo when installed, else area
    out_dir: Path | None = None  # one SGF per game, game-001.sgf ...
    openings: int = 2  # the first moves of every game are random (legal, no own-eye fill), the same for both
    #                    games of a pair (A Black, then A White), so that deterministic engines do not play one
    #                    game over and over; 0 = none
    seed: int = 0  # of the openings

    def __post_init__(self):
        check(self.games >= 1, f"--games must be >= 1, got {self.games}")
        check(0 <= self.openings <= self.size * self.size // 2,
              f"--openings must be 0..{self.size * self.size // 2} moves, got {self.openings}")
        check(5 <= self.size <= 19, f"--size must be 5..19, got {self.size}")
        check(self.move_timeout > 0, f"--timeout must be > 0 seconds, got {self.move_timeout}")
        check(self.scorer in SCORERS, f"--scorer must be one of {', '.join(SCORERS)}, got {self.scorer!r}")


@dataclass
class GameOutcome:
    index: int
    a_black: bool
    winner: str | None  # "A", "B", or None for a jigo
    result: str  # SGF RE: B+3.5, W+R, B+T (time), B+F (forfeit: died or illegal move)
    reason: str
    moves: int
    sgf: Path | None = None
    think: dict[str, tuple[float, int]] = field(default_factory=dict)  # "A"/"B" -> (genmove seconds, genmoves)
    record: tuple = ()  # the moves, (colour, point) each: games with the same record were the same game


@dataclass
class MatchReport:
    a: str
    b: str
    scorer: str
    games: list[GameOutcome] = field(default_factory=list)

    @property
    def result(self) -> MatchResult:
        w = sum(g.winner == "A" for g in self.games)
        l_ = sum(g.winner == "B" for g in self.games)
        return MatchResult(w, len(self.games) - w - l_, l_)

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "scorer": self.scorer, **self.result.as_dict(),
                "distinct_games": len({g.record for g in self.games}),
                "a_wins_as_black": sum(g.winner == "A" and g.a_black for g in self.games),
                "a_wins_as_white": sum(g.winner == "A" and not g.a_black for g in self.games),
                "forfeits": [f"game {g.index + 1}: {g.reason}" for g in self.games if g.result[2:] in ("F", "T")],
                "a_seconds_per_move": self.seconds_per_move("A"), "b_seconds_per_move": self.seconds_per_move("B"),
                "mean_moves": round(sum(g.moves for g in self.games) / max(len(self.games), 1), 1)}

    def seconds_per_move(self, side: str) -> float | None:
        """Mean wall seconds a side took to answer genmove over the match (None before any move)."""
        secs = sum(g.think.get(side, (0.0, 0))[0] for g in self.games)
        n = sum(g.think.get(side, (0.0, 0))[1] for g in self.games)
        return round(secs / n, 3) if n else None


class _Seat:
    """One side of the match: a spec and its (re)started engine process."""

    def __init__(self, spec: str, size: int, timeout: float):
        self.spec, self.argv, self.timeout = spec, engine_argv(spec, size), timeout
        # an engine that can never start is a typo, not a forfeit: refuse it before the first game
        if shutil.which(self.argv[0]) is None:
            raise QstarError(f"engine {spec!r}: no program {self.argv[0]!r} found; give a GTP command line "
                             f"('gnugo --mode gtp --level 1'), 'qstar', or a Go checkpoint path")
        ours = Path(self.argv[0]).name == "qstar" or self.argv[1:3] == ["-m", "qstar.cli"]
        model = self.argv[self.argv.index("--model") + 1] if ours and "--model" in self.argv[:-1] else None
        if model is not None and model.lower() != NO_MODEL and not Path(model).is_file():
            raise QstarError(f"engine {spec!r}: no checkpoint at {model}")
        self.client: GtpClient | None = None
        self.label = spec

    def engine(self) -> GtpClient:
        if self.client is None or not self.client.alive:
            self.client = GtpClient(self.argv, timeout=self.timeout, name=shlex.split(self.spec)[0])
            try:
                self.label = f"{self.client.send('name')} {self.client.send('version')}".strip()
            except (EngineError, EngineDied):
                self.label = self.spec
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class _Forfeit(Exception):
    def __init__(self, color: int, code: str, reason: str):
        super().__init__(reason)
        self.color, self.code, self.reason = color, code, reason


def _score(pos: Position, cfg: MatchConfig, referee: GtpClient | None) -> tuple[str, str]:
    """(result, how) of a finished position."""
    if referee is not None:
        try:
            referee.send(f"boardsize {pos.size}")
            referee.send("clear_board")
            referee.send(f"komi {cfg.komi:g}")
            for color, point in pos.moves():
                referee.send(f"play {'b' if color == BLACK else 'w'} {point_to_gtp(point, pos.size)}")
            return referee.send("final_score").strip(), "GNU Go final_score"
        except (EngineError, EngineDied) as e:
            return pos.score(cfg.komi).result(), f"area (referee failed: {e})"
    return pos.score(cfg.komi).result(), "area"


def random_opening(cfg: MatchConfig, pair: int) -> list[int]:
    """The opening of game pair ``pair``: ``cfg.openings`` random points (legal, not filling an own eye)."""
    import random

    from qstar.games.go.playout import random_move
    rng = random.Random(f"{cfg.seed}/{pair}")
    pos, points = Position(cfg.size), []
    for _ in range(cfg.openings):
        p = random_move(pos, rng)
        pos = pos.play(p)
        points.append(p)
    return points


def play_game(index: int, a: _Seat, b: _Seat, cfg: MatchConfig, referee: GtpClient | None) -> GameOutcome:
    a_black = index % 2 == 0
    opening = random_opening(cfg, index // 2)
    seats = {BLACK: a if a_black else b, WHITE: b if a_black else a}
    letter = {BLACK: "B", WHITE: "W"}
    pos = Position(cfg.size)
    limit = cfg.max_moves or 3 * cfg.size * cfg.size
    side = {BLACK: "A" if a_black else "B", WHITE: "B" if a_black else "A"}
    think = {"A": [0.0, 0], "B": [0.0, 0]}
    try:
        for color, seat in seats.items():
            try:
                eng = seat.engine()
                eng.send(f"boardsize {cfg.size}")
                eng.send("clear_board")
                eng.send(f"komi {cfg.komi:g}")
            except (EngineError, EngineDied) as e:
                raise _Forfeit(color, "F", f"setup failed: {e}") from None
        for point in opening:  # both engines are told the opening's moves, as if the players had made them
            color = pos.to_play
            pos = pos.play(point)
            for c, seat in seats.items():
                try:
                    seat.engine().send(f"play {letter[color].lower()} {point_to_gtp(point, cfg.size)}")
                except (EngineError, EngineDied) as e:
                    raise _Forfeit(c, "F", f"rejected the opening move {point_to_gtp(point, cfg.size)}: {e}") from None
        while not pos.is_over and pos.move_number < limit:
            color = pos.to_play
            mover, other = seats[color], seats[3 - color]
            try:
                engine = mover.engine()
                t0 = time.perf_counter()
                answer = engine.send(f"genmove {letter[color].lower()}").strip()
                think[side[color]][0] += time.perf_counter() - t0
                think[side[color]][1] += 1
            except EngineDied as e:
                raise _Forfeit(color, "T" if "within" in str(e) else "F", str(e)) from None
            except EngineError as e:
                raise _Forfeit(color, "F", str(e)) from None
            if answer.lower() == "resign":
                pos = pos.resign()
                break
            try:
                point = gtp_to_point(answer, cfg.size)
                pos = pos.play(point)
            except IllegalMove as e:
                raise _Forfeit(color, "F", f"illegal move {answer!r}: {str(e).splitlines()[0]}") from None
            try:
                other.engine().send(f"play {letter[color].lower()} {point_to_gtp(point, cfg.size)}")
            except (EngineError, EngineDied) as e:
                raise _Forfeit(3 - color, "F", f"rejected or missed {answer}: {e}") from None
        if pos.resigned:
            result, reason = f"{letter[3 - pos.resigned]}+R", f"{letter[pos.resigned]} resigned"
        else:
            result, how = _score(pos, cfg, referee)
            reason = ("two passes" if pos.is_over else f"move limit {limit}") + f", scored by {how}"
    except _Forfeit as f:
        seats[f.color].drop()
        result, reason = f"{letter[3 - f.color]}+{f.code}", f"{letter[f.color]} forfeits: {f.reason}"
    winner_color = BLACK if result.upper().startswith("B+") else WHITE if result.upper().startswith("W+") else None
    winner = None if winner_color is None else ("A" if (winner_color == BLACK) == a_black else "B")
    out = GameOutcome(index, a_black, winner, result, reason, pos.move_number,
                      think={k: (v[0], v[1]) for k, v in think.items()}, record=tuple(pos.moves()))
    if cfg.out_dir is not None:
        game = SgfGame.from_position(pos, cfg.komi, black=seats[BLACK].label, white=seats[WHITE].label, result=result)
        game.extra["C"] = [reason + (f"; the first {len(opening)} moves were a random opening" if opening else "")]
        out.sgf = write_sgf(Path(cfg.out_dir) / f"game-{index + 1:03d}.sgf", game)
    return out


def play_match(a_spec: str, b_spec: str, cfg: MatchConfig, progress=lambda n=1, **kw: None) -> MatchReport:
    """A against B for ``cfg.games`` games. Specs are GTP command lines, ``qstar``, or a checkpoint path."""
    a, b = _Seat(a_spec, cfg.size, cfg.move_timeout), _Seat(b_spec, cfg.size, cfg.move_timeout)
    scorer = cfg.scorer
    if scorer == "auto":
        scorer = "gnugo" if find_gnugo() else "area"
    referee = None
    if scorer == "gnugo":
        gnugo = find_gnugo()
        if gnugo is None:
            raise QstarError("--scorer gnugo needs GNU Go; run scripts/install_gnugo.sh or use --scorer area")
        referee = GtpClient([gnugo, "--mode", "gtp", "--chinese-rules", "--level", "0"], timeout=60, name="referee")
    report = MatchReport(a_spec, b_spec, scorer)
    try:
        for i in range(cfg.games):
            outcome = play_game(i, a, b, cfg, referee)
            report.games.append(outcome)
            progress(1, info=f"{report.result}")
        report.a, report.b = a.label, b.label
    finally:
        a.drop()
        b.drop()
        if referee is not None:
            referee.close()
    return report
