"""Elo from match results, with a 95% confidence interval (normal approximation on the score)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MatchResult:
    wins: int
    draws: int
    losses: int

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        """Points per game: win 1, draw 1/2."""
        return (self.wins + 0.5 * self.draws) / max(self.games, 1)

    def score_interval(self, z: float = 1.96) -> tuple[float, float]:
        """95% interval of the score (Wilson interval on points, draws counted as half a win)."""
        n = self.games
        if n == 0:
            return 0.0, 1.0
        p = self.score
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        return max(0.0, centre - half), min(1.0, centre + half)

    def elo(self) -> float:
        return elo_from_score(self.score, self.games)

    def elo_interval(self) -> tuple[float, float]:
        lo, hi = self.score_interval()
        return elo_from_score(lo, self.games), elo_from_score(hi, self.games)

    def as_dict(self) -> dict:
        lo, hi = self.elo_interval()
        slo, shi = self.score_interval()
        return {"wins": self.wins, "draws": self.draws, "losses": self.losses, "games": self.games,
                "score": round(self.score, 4), "score_ci95": [round(slo, 4), round(shi, 4)],
                "elo": round(self.elo(), 1), "elo_ci95": [round(lo, 1), round(hi, 1)]}

    def __str__(self) -> str:
        lo, hi = self.elo_interval()
        return (f"+{self.wins} ={self.draws} -{self.losses}  score {self.score:.3f}  "
                f"Elo {self.elo():+.0f} [{lo:+.0f}, {hi:+.0f}]")


def elo_from_score(score: float, games: int = 0) -> float:
    """Elo difference for an expected score; clipped at half a game from 0 and 1 so a sweep stays finite."""
    eps = 0.5 / max(games, 1) if games else 1e-3
    s = min(max(score, eps), 1 - eps)
    return -400.0 * math.log10(1.0 / s - 1.0)
