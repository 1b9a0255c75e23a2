"""A progress bar for long commands: on stderr when it is a terminal, nothing when piped."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def progress(description: str, total: Callable[[], int | None]) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``. ``total()`` is only asked when the bar is shown. While the bar
    shows, writes to ``sys.stdout`` go above it when stdout is the terminal too (and straight
    to the file or pipe otherwise)."""
    if not sys.stderr.isatty():
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(),
                   console=Console(file=sys.stderr), transient=True, redirect_stdout=sys.stdout.isatty(),
                   redirect_stderr=False)
    with bar:
        task = bar.add_task(description, total=total())

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
