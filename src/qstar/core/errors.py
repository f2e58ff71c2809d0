"""Errors a user can act on. The CLI prints their message as one line, never a traceback."""


class QstarError(Exception):
    """Base class: the message names the problem and what is allowed."""


class IllegalMove(QstarError):
    """A move that the rules forbid; the message shows the board and the reason."""


class CheckpointError(QstarError):
    """A checkpoint that is missing, corrupt, or made for another game or network."""


class ConfigError(QstarError):
    """A configuration value out of range or an unknown option."""


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds. For user-facing validation, not invariants."""
    if not condition:
        raise ConfigError(message)
