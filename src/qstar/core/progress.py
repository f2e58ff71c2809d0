"""Progress bars with rates and ETA (rich), shared by every long job."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class RateColumn(ProgressColumn):
    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self.unit}/s" if speed else f"- {self.unit}/s", style="cyan")


console = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: float | None, unit: str = "it", enabled: bool = True) -> Iterator:
    """Yield ``advance(n=1, **fields)``. Draws on stderr; silent when ``enabled`` is False or stderr is not a terminal
    and QSTAR_PROGRESS is unset (so logs and tests stay clean)."""
    import os
    show = enabled and (sys.stderr.isatty() or os.environ.get("QSTAR_PROGRESS") == "1")
    if not show:
        yield lambda n=1, **kw: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(unit),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
    with Progress(*columns, console=console, transient=False) as prog:
        task = prog.add_task(description, total=total, info="")

        def advance(n: float = 1, info: str | None = None) -> None:
            prog.update(task, advance=n, **({"info": info} if info is not None else {}))

        yield advance
