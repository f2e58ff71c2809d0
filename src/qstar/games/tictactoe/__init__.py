from qstar.games.tictactoe.rules import TicTacToe, TTTState

__all__ = ["TicTacToe", "TTTState"]
