"""Go: rules, the Game adapter, SGF records, a GTP engine and client, matches against GNU Go."""

from qstar.games.go.rules import BLACK, EMPTY, WHITE, Position, Score, gtp_to_point, point_to_gtp

__all__ = ["BLACK", "WHITE", "EMPTY", "Position", "Score", "gtp_to_point", "point_to_gtp"]
