"""SGF (FF[4]) game records: read the main line of a file, write a game.

Read: SZ, KM, RU, PB, PW, RE, AB/AW setup stones, B/W moves (``B[]`` and ``B[tt]`` are passes); other
properties are kept in ``SgfGame.extra`` of the root and otherwise ignored; variations after the first are
skipped. A broken file raises ``SgfError`` with the byte offset of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qstar.core.errors import IllegalMove, QstarError
from qstar.games.go.rules import BLACK, COLOR_NAMES, WHITE, Position, check_size, point_to_gtp


class SgfError(QstarError):
    """A broken or unsupported SGF file; the message gives the byte offset."""


@dataclass
class SgfGame:
    size: int = 9
    komi: float = 7.5
    rules: str = "Chinese"
    black: str = ""  # PB
    white: str = ""  # PW
    result: str = ""  # RE, e.g. "B+3.5", "W+R", "0"
    moves: list[tuple[int, int]] = field(default_factory=list)  # (colour, point); point size*size = pass
    setup_black: list[int] = field(default_factory=list)  # AB
    setup_white: list[int] = field(default_factory=list)  # AW
    extra: dict[str, list[str]] = field(default_factory=dict)  # other root properties, raw; C is written back

    def start(self) -> Position:
        pos = Position(self.size)
        if self.setup_black or self.setup_white:
            first = self.moves[0][0] if self.moves else (WHITE if self.setup_black and not self.setup_white else BLACK)
            pos = pos.setup(self.setup_black, self.setup_white, first)
        return pos

    def positions(self) -> list[Position]:
        """The start and the position after every move. A move out of turn is played as given
        (a pass is inserted for the other side); an illegal move raises IllegalMove naming its number."""
        out = [self.start()]
        for i, (color, point) in enumerate(self.moves, 1):
            pos = out[-1]
            if pos.to_play != color:
                pos = pos.pass_move()
            try:
                out.append(pos.play(point))
            except IllegalMove as e:
                raise IllegalMove(f"SGF move {i} ({COLOR_NAMES[color]} {point_to_gtp(point, self.size)}): {e}") from None
        return out

    def final(self) -> Position:
        return self.positions()[-1]

    @classmethod
    def from_position(cls, pos: Position, komi: float, black: str = "", white: str = "", result: str = "") -> SgfGame:
        return cls(size=pos.size, komi=komi, black=black, white=white, result=result, moves=pos.moves())


# ---- writing ------------------------------------------------------------------------------------------------------

def _coord(point: int, size: int) -> str:
    if point == size * size:
        return ""
    r, c = divmod(point, size)
    return chr(ord("a") + c) + chr(ord("a") + r)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def to_sgf(game: SgfGame) -> str:
    """``(;FF[4]GM[1]SZ[9]KM[7.5]RU[Chinese]...;B[ee];W[];...)``"""
    root = [f"FF[4]GM[1]CA[UTF-8]AP[qstar]SZ[{game.size}]KM[{game.komi:g}]RU[{_escape(game.rules)}]"]
    for key, value in (("PB", game.black), ("PW", game.white), ("RE", game.result)):
        if value:
            root.append(f"{key}[{_escape(value)}]")
    if "C" in game.extra:
        root.append(f"C[{_escape(game.extra['C'][0])}]")
    for key, points in (("AB", game.setup_black), ("AW", game.setup_white)):
        if points:
            root.append(key + "".join(f"[{_coord(p, game.size)}]" for p in points))
    body = "".join(f";{'B' if c == BLACK else 'W'}[{_coord(p, game.size)}]" for c, p in game.moves)
    return f"(;{''.join(root)}\n{body})\n"


def write_sgf(path: str | Path, game: SgfGame) -> Path:
    from qstar.core.atomic import atomic_write_text
    return atomic_write_text(path, to_sgf(game))


# ---- reading ------------------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, data: bytes):
        self.data, self.i = data, 0

    def fail(self, message: str, at: int | None = None) -> SgfError:
        at = self.i if at is None else at
        return SgfError(f"broken SGF at byte {at}: {message}")

    def skip_ws(self) -> None:
        while self.i < len(self.data) and self.data[self.i] in b" \t\r\n":
            self.i += 1

    def peek(self) -> int | None:
        self.skip_ws()
        return self.data[self.i] if self.i < len(self.data) else None

    def expect(self, ch: bytes) -> None:
        if self.peek() != ch[0]:
            found = "end of file" if self.peek() is None else repr(chr(self.data[self.i]))
            raise self.fail(f"expected {ch.decode()!r}, found {found}")
        self.i += 1

    def game_tree(self, main_line: list) -> None:
        """Append the nodes of the first variation to ``main_line``; skip the others."""
        self.expect(b"(")
        if self.peek() != ord(";"):
            raise self.fail("a game tree must start with a node ';'")
        while self.peek() == ord(";"):
            self.i += 1
            main_line.append(self.node())
        first = True
        while self.peek() == ord("("):
            self.game_tree(main_line if first else [])
            first = False
        self.expect(b")")

    def node(self) -> list[tuple[str, list[str], int]]:
        props = []
        while (c := self.peek()) is not None and (65 <= c <= 90 or 97 <= c <= 122):
            start = self.i
            while self.i < len(self.data) and (65 <= self.data[self.i] <= 90 or 97 <= self.data[self.i] <= 122):
                self.i += 1
            ident = "".join(ch for ch in self.data[start:self.i].decode("ascii") if ch.isupper())  # FF[1] lowercase
            values = []
            if self.peek() != ord("["):
                raise self.fail(f"property {ident or '?'} has no value", start)
            while self.peek() == ord("["):
                values.append(self.value())
            props.append((ident, values, start))
        return props

    def value(self) -> str:
        start = self.i
        self.i += 1
        out = bytearray()
        while True:
            if self.i >= len(self.data):
                raise self.fail("value not closed with ']'", start)
            ch = self.data[self.i]
            if ch == ord("\\"):
                self.i += 1
                if self.i >= len(self.data):
                    raise self.fail("value not closed with ']'", start)
                ch = self.data[self.i]
            elif ch == ord("]"):
                self.i += 1
                return out.decode("utf-8", errors="replace")
            out.append(ch)
            self.i += 1


def parse_sgf(data: bytes | str) -> SgfGame:
    """The main line of the first game in an SGF collection."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    p = _Parser(data)
    nodes: list = []
    if p.peek() is None:
        raise p.fail("the file is empty")
    p.game_tree(nodes)  # later games in a collection are ignored
    game = SgfGame(rules="")
    root = True
    for props in nodes:
        for ident, values, at in props:
            _apply(game, ident, values, at, root)
        root = False
    return game


def _apply(game: SgfGame, ident: str, values: list[str], at: int, root: bool) -> None:
    def fail(message: str) -> SgfError:
        return SgfError(f"broken SGF at byte {at}: {message}")

    if ident == "GM" and values[0].strip() not in ("", "1"):
        raise fail(f"GM[{values[0]}] is not a Go game (GM[1])")
    if ident == "SZ":
        text = values[0].strip()
        if not text.isdigit():
            raise fail(f"SZ[{text}] must be one number (square boards only)")
        if game.moves or game.setup_black or game.setup_white:
            raise fail("SZ must come before the moves")
        try:
            check_size(int(text))
        except QstarError as e:
            raise fail(str(e)) from None
        game.size = int(text)
    elif ident == "KM":
        try:
            game.komi = float(values[0].strip() or 0)
        except ValueError:
            raise fail(f"KM[{values[0]}] is not a number") from None
    elif ident in ("RU", "RE"):
        setattr(game, "rules" if ident == "RU" else "result", values[0].strip())
    elif ident in ("PB", "PW"):
        setattr(game, "black" if ident == "PB" else "white", values[0])
    elif ident in ("B", "W"):
        if len(values) != 1:
            raise fail(f"{ident} takes one point")
        game.moves.append((BLACK if ident == "B" else WHITE, _point(values[0], game.size, fail)))
    elif ident in ("AB", "AW"):
        if game.moves:
            raise fail(f"{ident} setup stones after the first move are not supported")
        points = [p for v in values for p in _points(v, game.size, fail)]
        (game.setup_black if ident == "AB" else game.setup_white).extend(points)
    elif root:
        game.extra[ident] = values


def _point(text: str, size: int, fail) -> int:
    t = text.strip()
    if t == "" or (t == "tt" and size <= 19):
        return size * size
    if len(t) != 2 or not all("a" <= ch < chr(ord("a") + size) for ch in t):
        raise fail(f"[{text}] is not a point on a {size}x{size} board (aa..{chr(ord('a') + size - 1) * 2})")
    return (ord(t[1]) - 97) * size + (ord(t[0]) - 97)


def _points(text: str, size: int, fail) -> list[int]:
    """A point or a compressed rectangle ``aa:cc``."""
    if ":" not in text:
        return [_point(text, size, fail)]
    a, b = (_point(x, size, fail) for x in text.split(":", 1))
    (r1, c1), (r2, c2) = divmod(a, size), divmod(b, size)
    return [r * size + c for r in range(min(r1, r2), max(r1, r2) + 1) for c in range(min(c1, c2), max(c1, c2) + 1)]


def read_sgf(path: str | Path) -> SgfGame:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SgfError(f"cannot read {path}: {e.strerror}") from None
    try:
        return parse_sgf(data)
    except SgfError as e:
        raise SgfError(f"{path}: {e}") from None
