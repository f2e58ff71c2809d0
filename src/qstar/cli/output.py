"""What commands print: tables for people, one JSON line for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def emit_json(obj: Any) -> None:
    """The last line of an eval/bench/match command run with --json."""
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=float) + "\n")
    sys.stdout.flush()


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{x:.4g}" if isinstance(x, float) else str(x) for x in r])
    console.print(table)
