"""Simulated raters for Go boards: which of two positions looks better for a colour.

A ``BoardVibeLabeler`` is a kibitzer glancing at two boards. It counts what is visible — stones on the
board, empty areas that *look* enclosed (more of the colour's stones than the opponent's around them),
prisoners taken — and picks by a Bradley–Terry coin, ``P(A over B) = σ((vibe(A) − vibe(B)) / T)``.
It does not know komi, does not check that an area is really closed, and counts prisoners, which area
scoring ignores. The truth labelers know the rules: ``ScoreLabeler`` takes the area score with komi
of the board as it stands (for a finished game, its real result); ``OutcomeLabeler`` takes the result
of the game the position came from.

Comparisons are the same TRL preference rows as the Game-of-24 ones (``labelers.Comparison``, written
by ``labelers.write_comparisons``): the prompt names the colour, ``chosen``/``rejected`` are boards as
text (``board_text``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, Sequence

from qstar.core.errors import QstarError, check
from qstar.games.go.rules import BLACK, EMPTY, WHITE, Position, neighbors
from qstar.rlhf.go import prisoners
from qstar.rlhf.labelers import Comparison, bradley_terry_prob

COLOURS = {BLACK: "black", WHITE: "white"}
_CHARS = {EMPTY: ".", BLACK: "X", WHITE: "O"}


@dataclass(frozen=True)
class Board:
    """What a rater sees: the stones and the prisoners in the lids. ``final_margin`` (Black's area
    margin with komi at the end of the game the board came from) is hidden from the vibe rater."""

    size: int
    cells: bytes  # EMPTY / BLACK / WHITE per point, row 0 at the top
    prisoners: tuple[int, int] = (0, 0)  # (stones Black has captured, stones White has captured)
    final_margin: float | None = None

    @staticmethod
    def of(pos: Position, final_margin: float | None = None) -> "Board":
        return Board(pos.size, pos.board, prisoners(pos), final_margin)


def board_text(b: Board) -> str:
    """``'X.O..\\n.....\\n...\\nprisoners X 1 O 0'``: one row per line (X black, O white), then the prisoners."""
    rows = ["".join(_CHARS[v] for v in b.cells[r * b.size:(r + 1) * b.size]) for r in range(b.size)]
    return "\n".join(rows + [f"prisoners X {b.prisoners[0]} O {b.prisoners[1]}"])


def parse_board(text: str) -> Board:
    """The inverse of ``board_text``."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    try:
        *rows, last = lines
        words = last.split()
        check(words[:2] == ["prisoners", "X"] and words[3] == "O", "no prisoners line")
        size = len(rows)
        check(size >= 1 and all(len(r) == size for r in rows), "rows are not a square")
        inv = {v: k for k, v in _CHARS.items()}
        cells = bytes(inv[ch] for r in rows for ch in r)
        return Board(size, cells, (int(words[2]), int(words[4])))
    except (ValueError, IndexError, KeyError, QstarError) as e:
        raise QstarError(f"not a board written by board_text ({e}): {text[:60]!r}") from None


def region_owners(b: Board) -> list[tuple[int, int, int]]:
    """Each empty region as (points, black stones around it, white stones around it)."""
    nb = neighbors(b.size)
    seen = bytearray(len(b.cells))
    out = []
    for p, v in enumerate(b.cells):
        if v != EMPTY or seen[p]:
            continue
        seen[p] = 1
        todo, n_pts, border = [p], 0, set()
        while todo:
            q = todo.pop()
            n_pts += 1
            for n in nb[q]:
                if b.cells[n] == EMPTY:
                    if not seen[n]:
                        seen[n] = 1
                        todo.append(n)
                else:
                    border.add(n)
        out.append((n_pts, sum(b.cells[n] == BLACK for n in border), sum(b.cells[n] == WHITE for n in border)))
    return out


def vibe_features(b: Board, colour: int) -> dict[str, float]:
    """Differences (colour minus opponent), in points: stones on the board, empty points in regions
    that look enclosed (more of one colour's stones around them than the other's), prisoners taken."""
    own, opp = colour, 3 - colour
    looks = 0
    for n_pts, nb_black, nb_white in region_owners(b):
        mine, theirs = (nb_black, nb_white) if own == BLACK else (nb_white, nb_black)
        looks += n_pts if mine > theirs else -n_pts if theirs > mine else 0
    took = {BLACK: b.prisoners[0], WHITE: b.prisoners[1]}
    return {"stones": float(b.cells.count(bytes([own])) - b.cells.count(bytes([opp]))),
            "territory": float(looks),
            "captures": float(took[own] - took[opp])}


def area_margin(b: Board, colour: int, komi: float) -> float:
    """The rules' view of the board as it stands: area score (every stone alive) with komi, for ``colour``."""
    black = [p for p, v in enumerate(b.cells) if v == BLACK]
    white = [p for p, v in enumerate(b.cells) if v == WHITE]
    m = Position(b.size).setup(black, white).score(komi).margin
    return m if colour == BLACK else -m


@dataclass(frozen=True)
class BoardVibe:
    """What a kibitzer likes, as weights in points per point of each feature."""

    stones: float = 1.0
    territory: float = 0.5
    captures: float = 1.0
    temperature: float = 2.0  # Bradley–Terry noise in points; 0 is a deterministic rater

    def __post_init__(self):
        check(self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}")


def vibe_score(b: Board, colour: int, vibe: BoardVibe = BoardVibe()) -> float:
    f = vibe_features(b, colour)
    return vibe.stones * f["stones"] + vibe.territory * f["territory"] + vibe.captures * f["captures"]


class BoardLabeler(Protocol):
    name: str

    def prefers_first(self, colour: int, a: Board, b: Board, rng: random.Random) -> bool:
        """True if the rater says ``a`` is better for ``colour`` than ``b``."""


class BoardVibeLabeler:
    name = "vibe"

    def __init__(self, vibe: BoardVibe = BoardVibe()):
        self.vibe = vibe

    def prob_first(self, colour: int, a: Board, b: Board) -> float:
        return bradley_terry_prob(vibe_score(a, colour, self.vibe) - vibe_score(b, colour, self.vibe),
                                  self.vibe.temperature)

    def prefers_first(self, colour: int, a: Board, b: Board, rng: random.Random) -> bool:
        return rng.random() < self.prob_first(colour, a, b)


class ScoreLabeler:
    """The rules as a rater: the larger area margin with komi for ``colour``; a fair coin on a tie."""

    name = "score"

    def __init__(self, komi: float):
        self.komi = komi

    def prefers_first(self, colour: int, a: Board, b: Board, rng: random.Random) -> bool:
        ma, mb = area_margin(a, colour, self.komi), area_margin(b, colour, self.komi)
        return ma > mb if ma != mb else rng.random() < 0.5

    def decides(self, colour: int, a: Board, b: Board) -> bool:
        return area_margin(a, colour, self.komi) != area_margin(b, colour, self.komi)


class OutcomeLabeler:
    """The eventual result as a rater: the board whose game ``colour`` went on to win; a coin when both
    games ended the same way. Needs ``Board.final_margin``."""

    name = "outcome"

    @staticmethod
    def result(b: Board, colour: int) -> int:
        if b.final_margin is None:
            raise QstarError("OutcomeLabeler needs boards with final_margin (the result of their game)")
        m = b.final_margin if colour == BLACK else -b.final_margin
        return (m > 0) - (m < 0)

    def prefers_first(self, colour: int, a: Board, b: Board, rng: random.Random) -> bool:
        ra, rb = self.result(a, colour), self.result(b, colour)
        return ra > rb if ra != rb else rng.random() < 0.5

    def decides(self, colour: int, a: Board, b: Board) -> bool:
        return self.result(a, colour) != self.result(b, colour)


def board_prompt(size: int, komi: float, colour: int) -> str:
    return f"{size}x{size} Go, komi {komi:g}. Which position looks better for {COLOURS[colour]}?"


def compare_boards(labeler: BoardLabeler, colours: Sequence[int], firsts: Sequence[Board], seconds: Sequence[Board],
                   komi: float, seed: int) -> list[Comparison]:
    """Label pairs ``(firsts[i], seconds[i])`` for ``colours[i]`` as TRL preference rows; identical boards are skipped."""
    rng = random.Random(seed)
    out = []
    for c, a, b in zip(colours, firsts, seconds):
        if (a.cells, a.prisoners) == (b.cells, b.prisoners):
            continue
        win, lose = (a, b) if labeler.prefers_first(c, a, b, rng) else (b, a)
        out.append(Comparison(board_prompt(a.size, komi, c), board_text(win), board_text(lose),
                              f"go{a.size} {COLOURS[c]}", labeler.name))
    return out


def colour_of(row: Comparison) -> int:
    """The colour a comparison row is about, from its ``problem`` field (``'go7 black'``)."""
    word = row.problem.split()[-1] if row.problem else ""
    if word not in ("black", "white"):
        raise QstarError(f"not a Go board comparison (problem {row.problem!r})")
    return BLACK if word == "black" else WHITE
