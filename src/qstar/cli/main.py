"""Entry point: builds the app from the command modules and turns QstarError, and a file the system
refuses (a folder that cannot be made, a full disk, no permission), into one clear line."""

from __future__ import annotations

import importlib
import sys

from qstar.cli.app import app
from qstar.core.errors import QstarError

# Each module adds its commands to the groups in qstar.cli.app when imported.
COMMAND_MODULES = ["games", "go", "tokenizer", "reasoning", "rlhf"]


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"qstar.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"qstar.cli.{name}":
                raise


def main(argv: list[str] | None = None) -> int:
    _load_commands()
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except QstarError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the file system said no: say what and where, not a traceback
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
