"""What every ``badges`` command shares: exit codes, the knowledge base to use, the console."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command the signal ended
KB_HELP = "knowledge base folder (default: the bundled one)"


class UsageError(Exception):
    """The command line asks for something that does not exist (exit 2)."""


def kb_dir(value: str | None) -> Path:
    """The knowledge base folder named on the command line, or the bundled one."""
    if value:
        return Path(value)
    from knowledge_base import BUNDLED

    return BUNDLED


def load_kb(value: str | None):
    """Load and validate the knowledge base, from the cache when it has not changed;
    raises InvalidInput with every problem."""
    from engine.kb_cache import load_cached

    return load_cached(kb_dir(value))


def console(buffer: io.StringIO, piped_width: int = 100):
    """A rich console writing into ``buffer``: colour on a terminal, plain text of
    ``piped_width`` columns when piped (so output does not depend on who runs it)."""
    from rich.console import Console

    tty = sys.stdout.isatty()
    width = os.get_terminal_size().columns if tty else piped_width
    return Console(file=buffer, width=width, force_terminal=tty, color_system="auto" if tty else None,
                   highlight=False, soft_wrap=False)


def unknown_choice(what: str, name: str, choices, shown=None, more: str = "") -> UsageError:
    """A usage error for an unknown name, with the closest of ``choices`` and a list of
    ``shown`` (all the choices unless given; ``more`` says what the list leaves out)."""
    from engine.diagnostics import did_you_mean

    hint = did_you_mean(name, choices)
    listed = sorted(choices if shown is None else shown)
    return UsageError(f"unknown {what} '{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
                      + f"; choose from: {', '.join(listed)}{more}")
