"""A progress bar for long commands: on stderr when it is a terminal, nothing when piped."""
from __future__ import annotations

import sys
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator


@contextmanager
def progress(description: str, total: Callable[[], int | None]) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``. The bar appears at the first ``advance``: its drawing thread then
    starts, after a batch has forked its workers (a fork copies only the thread that forks, so
    workers forked beside a running thread could inherit a lock it holds, held forever).
    ``total()`` is only asked when the bar is shown. While the bar shows, writes to
    ``sys.stdout`` go above it when stdout is the terminal too (and straight to the file or
    pipe otherwise)."""
    if not sys.stderr.isatty():
        yield lambda n=1: None
        return
    with ExitStack() as stack:
        shown: list[Callable[[int], None]] = []

        def advance(n: int = 1) -> None:
            if not shown:
                shown.append(stack.enter_context(_bar(description, total)))
            shown[0](n)

        yield advance


@contextmanager
def _bar(description: str, total: Callable[[], int | None]) -> Iterator[Callable[[int], None]]:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(),
                   console=Console(file=sys.stderr), transient=True, redirect_stdout=sys.stdout.isatty(),
                   redirect_stderr=False)
    with bar:
        task = bar.add_task(description, total=total())
        yield lambda n: bar.advance(task, n)
