"""Go rules: immutable positions with incremental groups and liberties, Zobrist hashing, positional superko,
area (Tromp-Taylor / Chinese) scoring with komi.

Points are integers ``row * size + col`` with row 0 the top line as drawn; ``size * size`` is the pass.
``Position.play(point)`` returns a new position and raises ``IllegalMove`` (board + reason) otherwise.

Speed: a move touches only the groups next to it (their stone and liberty sets are frozensets shared
between positions); superko is checked against a 4096-bit filter of past board hashes and the parent
chain is walked only on a filter hit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, NamedTuple

from qstar.core.errors import ConfigError, IllegalMove

EMPTY, BLACK, WHITE = 0, 1, 2
MIN_SIZE, MAX_SIZE = 5, 19
COLUMNS = "ABCDEFGHJKLMNOPQRST"  # GTP skips I
STONE_CHARS = {EMPTY: ".", BLACK: "X", WHITE: "O"}
COLOR_NAMES = {BLACK: "black", WHITE: "white"}
_FILTER_BITS = 4096


def opponent(color: int) -> int:
    return 3 - color


def check_size(size: int) -> None:
    if not (isinstance(size, int) and MIN_SIZE <= size <= MAX_SIZE):
        raise ConfigError(f"board size {size!r} not supported; use {MIN_SIZE}..{MAX_SIZE}")


@lru_cache(maxsize=None)
def neighbors(size: int) -> tuple[tuple[int, ...], ...]:
    """Orthogonal neighbours of every point: ``neighbors(5)[0] == (5, 1)``."""
    out = []
    for p in range(size * size):
        r, c = divmod(p, size)
        out.append(tuple(q for q, ok in ((p - size, r > 0), (p + size, r < size - 1),
                                         (p - 1, c > 0), (p + 1, c < size - 1)) if ok))
    return tuple(out)


@lru_cache(maxsize=None)
def zobrist(size: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """64-bit keys ``[color][point]`` (index 0 unused), the same for every run."""
    rng = random.Random(0x60 + size)
    n = size * size
    return (tuple([0] * n), tuple(rng.getrandbits(64) for _ in range(n)), tuple(rng.getrandbits(64) for _ in range(n)))


def point_to_gtp(point: int, size: int) -> str:
    """``point_to_gtp(0, 9) == "A9"``; the pass is ``"pass"``."""
    if point == size * size:
        return "pass"
    r, c = divmod(point, size)
    return f"{COLUMNS[c]}{size - r}"


def gtp_to_point(text: str, size: int) -> int:
    """Inverse of ``point_to_gtp``, case-insensitive. Raises IllegalMove naming the allowed range."""
    t = text.strip().upper()
    if t == "PASS":
        return size * size
    last = f"{COLUMNS[size - 1]}{size}"
    if len(t) < 2 or t[0] not in COLUMNS[:size] or not t[1:].isdigit():
        raise IllegalMove(f"{text!r} is not a point on a {size}x{size} board; use A1..{last} or pass")
    row = int(t[1:])
    if not 1 <= row <= size:
        raise IllegalMove(f"{text!r} is off the {size}x{size} board; use A1..{last} or pass")
    return (size - row) * size + COLUMNS.index(t[0])


class Group(NamedTuple):
    color: int
    stones: frozenset[int]
    liberties: frozenset[int]


@dataclass(frozen=True)
class Score:
    black_area: int
    white_area: int
    komi: float

    @property
    def margin(self) -> float:
        """Black's area minus White's area minus komi: positive means Black wins."""
        return self.black_area - self.white_area - self.komi

    @property
    def winner(self) -> int:
        return BLACK if self.margin > 0 else WHITE if self.margin < 0 else EMPTY

    def result(self) -> str:
        """SGF/GTP result: ``B+3.5``, ``W+7.5`` or ``0``."""
        m = self.margin
        return "0" if m == 0 else f"{'B' if m > 0 else 'W'}+{abs(m):g}"


class Position:
    """An immutable Go position: board, groups, player to move, consecutive passes and the history behind it."""

    __slots__ = ("size", "board", "to_play", "passes", "hash", "parent", "last_move", "move_number",
                 "resigned", "_gid", "_groups", "_next_id", "_seen", "_legal", "mask_cache")

    def __init__(self, size: int = 9):
        check_size(size)
        self.size = size
        self.board = bytes(size * size)  # EMPTY / BLACK / WHITE per point
        self.to_play = BLACK
        self.passes = 0  # consecutive passes just played
        self.hash = 0  # Zobrist hash of the board alone (positional superko)
        self.parent: Position | None = None
        self.last_move: int | None = None
        self.move_number = 0
        self.resigned = EMPTY  # the colour that resigned
        self._gid = [0] * (size * size)  # group id per point, 0 when empty
        self._groups: dict[int, Group] = {}
        self._next_id = 1
        self._seen = 1 << (self.hash % _FILTER_BITS)
        self._legal: list[int] | None = None  # legal_points() cache
        self.mask_cache = None  # GoGame.legal_mask's array for this position (the rules themselves never read it)

    # ---- construction -------------------------------------------------------------------------------------

    @classmethod
    def from_ascii(cls, text: str, to_play: int = BLACK) -> Position:
        """Set up a position from rows of ``X`` (black), ``O`` (white) and ``.``; spaces are ignored.
        The setup has no history, so superko applies from here on."""
        rows = ["".join(ch for ch in line if not ch.isspace()) for line in text.strip().splitlines()]
        size = len(rows)
        check_size(size)
        if any(len(r) != size for r in rows):
            raise ConfigError(f"ASCII board must be square; got rows of lengths {[len(r) for r in rows]}")
        chars = {".": EMPTY, "X": BLACK, "O": WHITE}
        stones = {BLACK: [], WHITE: []}
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch not in chars:
                    raise ConfigError(f"unknown board character {ch!r}; use X, O or .")
                if chars[ch]:
                    stones[chars[ch]].append(r * size + c)
        return cls(size).setup(stones[BLACK], stones[WHITE], to_play)

    def setup(self, black: Iterable[int], white: Iterable[int], to_play: int = BLACK) -> Position:
        """A position with these stones added (SGF AB/AW, handicap), with no history behind it (superko
        starts here); groups are rebuilt by flood fill once. Stones without liberties are rejected."""
        board = bytearray(self.board)
        for color, points in ((BLACK, black), (WHITE, white)):
            for p in points:
                board[p] = color
        new = self._derive(bytes(board), to_play, passes=0, last_move=None)
        new.parent, new.move_number = None, 0
        new._rebuild_groups()
        for g in new._groups.values():
            if not g.liberties:
                raise IllegalMove(f"setup leaves a {COLOR_NAMES[g.color]} group without liberties\n{new.render()}")
        z = zobrist(self.size)
        new.hash = 0
        for p, v in enumerate(new.board):
            new.hash ^= z[v][p]
        new._seen = 1 << (new.hash % _FILTER_BITS)
        return new

    def _derive(self, board: bytes, to_play: int, passes: int, last_move: int | None) -> Position:
        new = object.__new__(Position)
        new.size, new.board, new.to_play, new.passes = self.size, board, to_play, passes
        new.hash, new.parent, new.last_move = self.hash, self, last_move
        new.move_number, new.resigned = self.move_number + 1, EMPTY
        new._gid, new._groups, new._next_id, new._seen = self._gid, self._groups, self._next_id, self._seen
        new._legal = new.mask_cache = None
        return new

    def _rebuild_groups(self) -> None:
        nb = neighbors(self.size)
        self._gid = [0] * len(self.board)
        self._groups = {}
        for p, v in enumerate(self.board):
            if v == EMPTY or self._gid[p]:
                continue
            gid, self._next_id = self._next_id, self._next_id + 1
            stones, libs, todo = {p}, set(), [p]
            while todo:
                q = todo.pop()
                self._gid[q] = gid
                for n in nb[q]:
                    if self.board[n] == EMPTY:
                        libs.add(n)
                    elif self.board[n] == v and n not in stones:
                        stones.add(n)
                        todo.append(n)
            self._groups[gid] = Group(v, frozenset(stones), frozenset(libs))

    # ---- queries ------------------------------------------------------------------------------------------

    @property
    def is_over(self) -> bool:
        return self.passes >= 2 or self.resigned != EMPTY

    def group_at(self, point: int) -> Group | None:
        gid = self._gid[point]
        return self._groups[gid] if gid else None

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def is_eye(self, point: int, color: int) -> bool:
        """A single-point eye of ``color``: empty, every orthogonal neighbour a ``color`` stone."""
        board = self.board
        return board[point] == EMPTY and all(board[n] == color for n in neighbors(self.size)[point])

    def illegal_reason(self, point: int) -> str | None:
        """None if the player to move may play ``point`` (a pass is always legal), else why not."""
        n2 = self.size * self.size
        if self.is_over:
            return "the game is over"
        if point == n2:
            return None
        if not 0 <= point < n2:
            return f"point {point} is off the board"
        board = self.board
        if board[point] != EMPTY:
            return "the point is occupied"
        color = self.to_play
        gid, groups = self._gid, self._groups
        z = zobrist(self.size)
        liberty = False
        h = self.hash ^ z[color][point]
        captured: set[int] = set()
        for n in neighbors(self.size)[point]:
            v = board[n]
            if v == EMPTY:
                liberty = True
            elif v == color:
                if len(groups[gid[n]].liberties) > 1:
                    liberty = True
            elif len(groups[gid[n]].liberties) == 1 and gid[n] not in captured:
                captured.add(gid[n])
                for s in groups[gid[n]].stones:
                    h ^= z[v][s]
        if not liberty and not captured:
            return "suicide"
        if self._repeats(h):
            return "positional superko (the board would repeat)"
        return None

    def is_legal(self, point: int) -> bool:
        return self.illegal_reason(point) is None

    def _repeats(self, h: int) -> bool:
        if not (self._seen >> (h % _FILTER_BITS)) & 1:
            return False
        q: Position | None = self
        while q is not None:
            if q.hash == h:
                return True
            q = q.parent
        return False

    def legal_points(self) -> list[int]:
        """Every legal board point (the pass, always legal while the game runs, is not listed). Computed once per
        position. A point with an empty neighbour that captures nothing cannot be suicide and leaves the board
        hash at ``hash ^ key``, so it needs only the superko filter; the others (the last liberty of an enemy
        group in atari, points without an empty neighbour) get the full check, captures included."""
        if self._legal is not None:
            return self._legal
        out: list[int] = []
        if not self.is_over:
            board, nb = self.board, neighbors(self.size)
            color = self.to_play
            z, h, seen = zobrist(self.size)[color], self.hash, self._seen
            captures = {next(iter(g.liberties)) for g in self._groups.values()
                        if g.color != color and len(g.liberties) == 1}
            for p, v in enumerate(board):
                if v:
                    continue
                if p not in captures:
                    for n in nb[p]:
                        if not board[n]:
                            hp = h ^ z[p]
                            if not ((seen >> (hp % _FILTER_BITS)) & 1 and self._repeats(hp)):
                                out.append(p)
                            break
                    else:
                        if self.illegal_reason(p) is None:
                            out.append(p)
                elif self.illegal_reason(p) is None:
                    out.append(p)
        self._legal = out
        return out

    # ---- moves --------------------------------------------------------------------------------------------

    def pass_move(self) -> Position:
        if self.is_over:
            raise IllegalMove(f"pass: the game is over\n{self.render()}")
        return self._derive(self.board, opponent(self.to_play), self.passes + 1, self.size * self.size)

    def with_to_play(self, color: int) -> Position:
        """The same board with ``color`` to move (GTP and SGF allow moves out of turn); not a move, no pass."""
        new = self._derive(self.board, color, 0, None)
        new.move_number = self.move_number
        return new

    def reopen(self) -> Position:
        """After two passes: the same board with play going on (a GTP controller may continue the game)."""
        return self.with_to_play(self.to_play)

    def resign(self) -> Position:
        """The player to move resigns: the game is over and the opponent wins."""
        new = self._derive(self.board, opponent(self.to_play), self.passes, None)
        new.resigned = self.to_play
        return new

    def play(self, point: int) -> Position:
        """The position after the player to move plays ``point`` (``size*size`` passes)."""
        if point == self.size * self.size:
            return self.pass_move()
        reason = self.illegal_reason(point)
        if reason is not None:
            where = point_to_gtp(point, self.size) if 0 <= point < self.size ** 2 else str(point)
            raise IllegalMove(f"{COLOR_NAMES[self.to_play]} {where} is illegal: {reason}\n{self.render()}")
        color, other = self.to_play, opponent(self.to_play)
        nb = neighbors(self.size)
        z = zobrist(self.size)
        board, gid, groups = self.board, self._gid, self._groups
        new_board = bytearray(board)
        new_gid = gid.copy()
        new_groups = dict(groups)
        new_board[point] = color
        h = self.hash ^ z[color][point]

        stones, libs = {point}, set()
        friends, enemies = set(), set()
        for n in nb[point]:
            v = board[n]
            if v == EMPTY:
                libs.add(n)
            elif v == color:
                friends.add(gid[n])
            else:
                enemies.add(gid[n])
        for f in friends:
            g = groups[f]
            stones |= g.stones
            libs |= g.liberties
            del new_groups[f]
        libs.discard(point)
        nid = self._next_id
        for s in stones:
            new_gid[s] = nid

        captured: list[Group] = []
        for e in enemies:
            g = groups[e]
            if len(g.liberties) == 1:
                captured.append(g)
                del new_groups[e]
            else:
                new_groups[e] = Group(other, g.stones, g.liberties - {point})
        if captured:
            gained: dict[int, set[int]] = {}
            for g in captured:
                for s in g.stones:
                    new_board[s] = EMPTY
                    new_gid[s] = 0
                    h ^= z[other][s]
            for g in captured:
                for s in g.stones:
                    for n in nb[s]:
                        k = new_gid[n]
                        if k == nid:
                            libs.add(s)
                        elif k:  # only our groups can touch a captured enemy group
                            gained.setdefault(k, set()).add(s)
            for k, extra in gained.items():
                g = new_groups[k]
                new_groups[k] = Group(g.color, g.stones, g.liberties | extra)
        new_groups[nid] = Group(color, frozenset(stones), frozenset(libs))

        new = self._derive(bytes(new_board), other, 0, point)
        new.hash = h
        new._gid, new._groups, new._next_id = new_gid, new_groups, nid + 1
        new._seen = self._seen | (1 << (h % _FILTER_BITS))
        return new

    # ---- scoring and drawing -------------------------------------------------------------------------------

    def score(self, komi: float = 7.5) -> Score:
        """Area scoring: stones plus empty regions that touch only one colour. Every stone counts as alive."""
        nb = neighbors(self.size)
        board = self.board
        area = {BLACK: 0, WHITE: 0}
        seen = bytearray(len(board))
        for p, v in enumerate(board):
            if v != EMPTY:
                area[v] += 1
            elif not seen[p]:
                region, borders, todo = 0, set(), [p]
                seen[p] = 1
                while todo:
                    q = todo.pop()
                    region += 1
                    for n in nb[q]:
                        w = board[n]
                        if w == EMPTY:
                            if not seen[n]:
                                seen[n] = 1
                                todo.append(n)
                        else:
                            borders.add(w)
                if len(borders) == 1:
                    area[borders.pop()] += region
        return Score(area[BLACK], area[WHITE], komi)

    def winner(self, komi: float = 7.5) -> int:
        """BLACK, WHITE or EMPTY (a jigo): the resigner loses, otherwise the area score decides."""
        if self.resigned:
            return opponent(self.resigned)
        return self.score(komi).winner

    def history(self, n: int) -> list[Position]:
        """This position and up to ``n - 1`` before it, newest first."""
        out, q = [], self
        while q is not None and len(out) < n:
            out.append(q)
            q = q.parent
        return out

    def moves(self) -> list[tuple[int, int]]:
        """(colour, point) of every move since the start (or setup), oldest first; passes included."""
        out, q = [], self
        while q.parent is not None:
            if q.last_move is not None:
                out.append((q.parent.to_play, q.last_move))
            q = q.parent
        return out[::-1]

    def render(self) -> str:
        """The board with GTP coordinates; the last move is marked with parentheses."""
        s = self.size
        header = "   " + " ".join(COLUMNS[:s])
        lines = [header]
        for r in range(s):
            cells = ""
            for c in range(s):
                p = r * s + c
                ch = STONE_CHARS[self.board[p]]
                cells += f"({ch}" if p == self.last_move else (")" + ch if p - 1 == self.last_move and c else " " + ch)
            if self.last_move == r * s + s - 1:
                cells += ")"
            else:
                cells += " "
            lines.append(f"{s - r:2d}{cells}{s - r:2d}")
        lines.append(header)
        lines.append(f"{COLOR_NAMES[self.to_play]} to play, move {self.move_number}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Position(size={self.size}, move={self.move_number}, to_play={COLOR_NAMES[self.to_play]})"
