"""The four ingredients as small interfaces. Nothing here imports a domain, torch, or search."""

from qstar.core.errors import QstarError, IllegalMove, CheckpointError, ConfigError
from qstar.core.game import Game, State
from qstar.core.evaluator import Evaluator, Evaluation

__all__ = [
    "QstarError", "IllegalMove", "CheckpointError", "ConfigError",
    "Game", "State", "Evaluator", "Evaluation",
]
