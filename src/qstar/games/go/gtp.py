"""A GTP version 2 engine: reads commands, answers ``= result`` or ``? reason``, never crashes on input.

``GtpEngine.handle(line)`` answers one line (in-process, for tests); ``serve(inp, out)`` is the stdin/stdout loop.
The engine holds the game as a stack of positions (for ``undo``); moves come from a ``make_mover`` factory
called again whenever the board size or komi changes.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from qstar import __version__
from qstar.core.errors import QstarError
from qstar.games.go.player import RESIGN, Decision
from qstar.games.go.rules import (BLACK, COLOR_NAMES, MAX_SIZE, MIN_SIZE, WHITE, Position, gtp_to_point,
                                  point_to_gtp)
from qstar.games.go.sgf import read_sgf

COMMANDS = ["protocol_version", "name", "version", "known_command", "list_commands", "quit", "boardsize",
            "clear_board", "komi", "play", "genmove", "reg_genmove", "undo", "showboard", "final_score",
            "final_status_list", "loadsgf", "time_settings", "time_left", "lz-analyze"]
ANALYZE = "lz-analyze"  # live analysis for Lizzie / Sabaki: streams info lines until the next input line
MAX_ANALYSIS_SIMULATIONS = 100_000  # an analysis left running stops searching here (memory), and keeps waiting


class GtpError(Exception):
    """An answer ``? message`` to one command."""


@dataclass
class Clock:
    """GTP time settings (Canadian byo-yomi) and the latest time_left for each colour."""
    main: float = 0.0
    byo_time: float = 0.0
    byo_stones: int = 0
    left: dict | None = None  # colour -> (seconds, stones)

    def budget(self, color: int, empty_points: int) -> float | None:
        """Seconds to think for this move, or None when no time control is set."""
        if self.left is None or color not in self.left:
            if self.main == 0 and self.byo_stones == 0:
                return None
            seconds, stones = self.main, 0
        else:
            seconds, stones = self.left[color]
        if stones > 0:  # in byo-yomi: share the period, keep a margin
            return max(0.05, 0.8 * seconds / stones)
        return max(0.05, 0.9 * seconds / max(10, empty_points // 2) + (0.8 * self.byo_time / max(self.byo_stones, 1)
                                                                       if self.byo_stones else 0.0))


def parse_color(text: str) -> int:
    t = text.lower()
    if t in ("b", "black"):
        return BLACK
    if t in ("w", "white"):
        return WHITE
    raise GtpError(f"invalid color {text!r}; use b, black, w or white")


class GtpEngine:
    def __init__(self, make_mover: Callable[[int, float], object], size: int = 9, komi: float = 7.5,
                 fixed_size: bool = False, name: str = "qstar"):
        """``make_mover(size, komi)`` returns an object with ``decide(position, seconds) -> Decision`` and ``name``.
        ``fixed_size``: only ``size`` is accepted (a network trained for one board)."""
        self.make_mover, self.fixed_size, self.engine_name = make_mover, fixed_size, name
        self.size, self.komi = size, komi
        self.mover = make_mover(size, komi)
        self.stack = [Position(size)]
        self.clock = Clock()
        self.running = True

    @property
    def position(self) -> Position:
        return self.stack[-1]

    # ---- protocol -----------------------------------------------------------------------------------------------

    @staticmethod
    def _parse(line: str) -> tuple[str, list[str]] | None:
        """(id, words) of one input line, control characters and comments removed; None for an empty line."""
        line = "".join(ch for ch in line if ch in "\t\n" or ord(ch) >= 32 and ord(ch) != 127).replace("\t", " ")
        words = line.split("#", 1)[0].split()
        if not words:
            return None
        return (words.pop(0), words) if words[0].isdigit() else ("", words)

    def handle(self, line: str) -> str | None:
        """The full response to one input line (ending in a blank line), or None for an empty or comment line.
        ``lz-analyze`` answers with the analysis after its first simulations (``serve`` streams it instead)."""
        parsed = self._parse(line)
        if parsed is None:
            return None
        ident, words = parsed
        if words[:1] == [ANALYZE]:
            lines = []
            answer = self.analyze(ident, words[1:], lines.append, lambda: True)
            return "".join(lines) + answer
        return self._respond(ident, words)

    def _respond(self, ident: str, words: list[str]) -> str:
        if not words:
            return f"?{ident} missing command\n\n"
        command, args = words[0], words[1:]
        try:
            handler = getattr(self, f"cmd_{command}", None) if command in COMMANDS else None
            if handler is None:
                raise GtpError("unknown command")
            result = handler(args)
        except GtpError as e:
            return f"?{ident} {e}\n\n"
        except QstarError as e:
            return f"?{ident} {str(e).splitlines()[0]}\n\n"
        except Exception as e:  # noqa: BLE001 - a GTP engine answers every line and keeps serving
            return f"?{ident} internal error: {type(e).__name__}: {e}\n\n"
        return f"={ident} {result}\n\n" if result else f"={ident}\n\n"

    def serve(self, inp: TextIO, out: TextIO) -> None:
        """Answer every line of ``inp`` on ``out``. Lines are read on a thread of their own, so that a running
        ``lz-analyze`` can stream until the next line arrives (which stops it, and is then answered)."""
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for line in inp:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()

        def write(text: str) -> None:
            out.write(text)
            out.flush()

        while self.running:
            line = lines.get()
            if line is None:
                break
            parsed = self._parse(line)
            if parsed is None:
                continue
            ident, words = parsed
            if words[:1] == [ANALYZE]:
                write(self.analyze(ident, words[1:], write, lambda: not lines.empty()))
            else:
                write(self._respond(ident, words))

    def analyze(self, ident: str, args: list[str], write: Callable[[str], None], stop: Callable[[], bool]) -> str:
        """GTP ``lz-analyze [color] [interval] [interval N] [minmoves N] [maxmoves N]`` (Leela Zero's and KataGo's
        form): write ``=`` and then, every ``interval`` centiseconds of search, one info line
        (``player.analysis_info``), until ``stop()``; returns what ends the response (a blank line, or the error)."""
        try:
            color, interval, minmoves, maxmoves = self._analyze_args(args)
            analysis = getattr(self.mover, "analysis", None)
            if analysis is None:
                raise GtpError(f"{self.mover.name} cannot analyse")
        except GtpError as e:
            return f"?{ident} {e}\n\n"
        from qstar.games.go.player import analysis_info
        write(f"={ident}\n")
        shown, searching = None, True
        try:
            for tree in analysis(self._as(self.position.to_play if color is None else color)):
                now = time.perf_counter()
                if interval > 0 and (shown is None or now - shown >= interval):
                    info = analysis_info(tree, self.size, minmoves, maxmoves)
                    if info:
                        write(info + "\n")
                    shown = now
                if stop():
                    break
                if tree.visit_counts().sum() >= MAX_ANALYSIS_SIMULATIONS or tree.terminal[tree.root]:
                    searching = False
                    break
        except Exception as e:  # noqa: BLE001 - the answer has begun with "=": end it, say why on stderr, serve on
            print(f"lz-analyze stopped: {type(e).__name__}: {e}", file=sys.stderr)
            searching = False
        while not searching and not stop():  # nothing more to search: wait for the next line
            time.sleep(0.05)
        return "\n"

    @staticmethod
    def _analyze_args(args: list[str]) -> tuple[int | None, float, int, int | None]:
        """(color or None, interval in seconds, minmoves, maxmoves or None) of ``lz-analyze``'s arguments."""
        color, interval, counts = None, 0.0, {"minmoves": 0, "maxmoves": None}
        rest = list(args)
        if rest and rest[0].lower() in ("b", "w", "black", "white"):
            color = parse_color(rest.pop(0))
        if rest and rest[0].isdigit():
            interval = int(rest.pop(0)) / 100
        while rest:
            key = rest.pop(0).lower()
            if key not in ("interval", "minmoves", "maxmoves") or not rest:
                raise GtpError(f"syntax error: lz-analyze [color] [interval] [interval N] [minmoves N] [maxmoves N], "
                               f"got {key!r}" + ("" if rest else " without a value"))
            value = rest.pop(0)
            if not value.isdigit():
                raise GtpError(f"syntax error: {key} needs a whole number >= 0, got {value!r}")
            if key == "interval":
                interval = int(value) / 100
            else:
                counts[key] = int(value)
        return color, interval, counts["minmoves"], counts["maxmoves"]

    # ---- commands -----------------------------------------------------------------------------------------------

    def cmd_protocol_version(self, args):
        return "2"

    def cmd_name(self, args):
        return self.engine_name

    def cmd_version(self, args):
        return f"{__version__} ({self.mover.name})"

    def cmd_known_command(self, args):
        _nargs(args, 1)
        return "true" if args[0] in COMMANDS else "false"

    def cmd_list_commands(self, args):
        return "\n".join(COMMANDS)

    def cmd_quit(self, args):
        self.running = False
        return ""

    def cmd_boardsize(self, args):
        _nargs(args, 1)
        if not args[0].isdigit():
            raise GtpError(f"boardsize needs an integer, got {args[0]!r}")
        size = int(args[0])
        if not MIN_SIZE <= size <= MAX_SIZE or (self.fixed_size and size != self.size):
            allowed = str(self.size) if self.fixed_size else f"{MIN_SIZE}..{MAX_SIZE}"
            raise GtpError(f"unacceptable size (this engine plays {allowed})")
        if size != self.size:
            self.mover = self.make_mover(size, self.komi)
            self.size = size
        self.stack = [Position(size)]
        return ""

    def cmd_clear_board(self, args):
        self.stack = [Position(self.size)]
        return ""

    def cmd_komi(self, args):
        _nargs(args, 1)
        try:
            komi = float(args[0])
        except ValueError:
            raise GtpError(f"syntax error: komi must be a number, got {args[0]!r}") from None
        if not abs(komi) <= self.size * self.size:  # also rejects nan
            raise GtpError(f"komi {args[0]} is out of range for a {self.size}x{self.size} board")
        if komi != self.komi:
            self.mover = self.make_mover(self.size, komi)
            self.komi = komi
        return ""

    def _as(self, color: int) -> Position:
        """The current position with ``color`` to move (GTP lets either colour move at any time)."""
        pos = self.position
        if pos.is_over and not pos.resigned:
            pos = pos.reopen()
        return pos if pos.to_play == color else pos.with_to_play(color)

    def cmd_play(self, args):
        _nargs(args, 2)
        color = parse_color(args[0])
        try:
            point = gtp_to_point(args[1], self.size)
        except QstarError as e:
            raise GtpError(f"syntax error: {e}") from None
        pos = self._as(color)
        reason = pos.illegal_reason(point)
        if reason is not None:
            raise GtpError(f"illegal move: {reason}")
        self.stack.append(pos.play(point))
        return ""

    def _decide(self, color: int) -> Decision:
        pos = self._as(color)
        seconds = self.clock.budget(color, sum(v == 0 for v in pos.board))
        return self.mover.decide(pos, seconds)

    def cmd_genmove(self, args):
        _nargs(args, 1)
        color = parse_color(args[0])
        decision = self._decide(color)
        pos = self._as(color)
        if decision.action == RESIGN:
            self.stack.append(pos.resign())
            return "resign"
        self.stack.append(pos.play(decision.action))
        return point_to_gtp(decision.action, self.size)

    def cmd_reg_genmove(self, args):
        _nargs(args, 1)
        decision = self._decide(parse_color(args[0]))
        return "resign" if decision.action == RESIGN else point_to_gtp(decision.action, self.size)

    def cmd_undo(self, args):
        if len(self.stack) == 1:
            raise GtpError("cannot undo")
        self.stack.pop()
        return ""

    def cmd_showboard(self, args):
        return "\n" + self.position.render()

    def cmd_final_score(self, args):
        pos = self.position
        if pos.resigned:
            return f"{'W' if pos.resigned == BLACK else 'B'}+R"
        return pos.score(self.komi).result()

    def cmd_final_status_list(self, args):
        _nargs(args, 1)
        status = args[0].lower()
        if status not in ("alive", "dead", "seki"):
            raise GtpError(f"invalid status {args[0]!r}; use alive, dead or seki")
        if status != "alive":  # area scoring: every stone on the board counts as alive
            return ""
        groups = sorted(self.position.groups(), key=lambda g: min(g.stones))
        return "\n".join(" ".join(point_to_gtp(p, self.size) for p in sorted(g.stones)) for g in groups)

    def cmd_loadsgf(self, args):
        if len(args) not in (1, 2):
            raise GtpError("loadsgf needs a file name and optionally a move number")
        game = read_sgf(Path(args[0]))
        upto = None
        if len(args) == 2:
            if not args[1].isdigit():
                raise GtpError(f"move number must be an integer, got {args[1]!r}")
            upto = int(args[1])
        if self.fixed_size and game.size != self.size:
            raise GtpError(f"unacceptable size {game.size} (this engine plays {self.size})")
        if upto is not None:
            game.moves = game.moves[: max(upto - 1, 0)]  # the position before move `upto`
        positions = game.positions()
        if game.size != self.size or game.komi != self.komi:
            self.mover = self.make_mover(game.size, game.komi)
        self.size, self.komi = game.size, game.komi
        self.stack = positions
        return COLOR_NAMES[positions[-1].to_play]

    def cmd_time_settings(self, args):
        _nargs(args, 3)
        main, byo, stones = (_number(a) for a in args)
        if main < 0 or byo < 0 or stones < 0 or stones != int(stones):
            raise GtpError("time_settings needs main_time byo_yomi_time byo_yomi_stones, all >= 0")
        self.clock = Clock(main, byo, int(stones), None)
        return ""

    def cmd_time_left(self, args):
        _nargs(args, 3)
        color = parse_color(args[0])
        seconds, stones = _number(args[1]), _number(args[2])
        if seconds < 0 or stones < 0 or stones != int(stones):
            raise GtpError("time_left needs color time stones, time and stones >= 0")
        self.clock.left = {**(self.clock.left or {}), color: (seconds, int(stones))}
        return ""


def _nargs(args: list[str], n: int) -> None:
    if len(args) != n:
        raise GtpError(f"syntax error: expected {n} argument{'s' if n != 1 else ''}, got {len(args)}")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GtpError(f"syntax error: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise GtpError(f"syntax error: {text!r} is not a finite number")
    return value

