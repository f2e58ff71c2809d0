from qstar.games.connect4.rules import Connect4, C4State

__all__ = ["Connect4", "C4State"]
