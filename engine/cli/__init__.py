"""The ``badges`` command line.

Exit status: 0 success (whatever the outcomes), 1 invalid input or rule base (or a
failing rule test), 2 usage error, 3 internal error, 130 interrupted, 141 stdout closed
by its reader (as a command SIGPIPE ends). Output is built in full before
anything is written, so a failure never leaves half a report.

Each command is a module with ``add_arguments(parser)`` and ``run(args) -> (output, status)``;
``COMMANDS`` lists them, with what each does, in the order ``--help`` shows.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .common import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INVALID, EXIT_USAGE, UsageError

# command name -> (module under engine.cli, what the command does)
COMMANDS = {
    "evaluate": ("evaluate", "decide every badge for facts files, folders of them, "
                             "or CSV / JSON Lines tables of entities"),
    "why": ("why", "explain one decision as a tree"),
    "report": ("report", "write a self-contained HTML or Markdown report: portfolio, every decision's trail, evidence, "
                         "what would it take"),
    "check": ("check", "validate a knowledge base: structure, names, types, and what the rules mean"),
    "test": ("ruletest", "run the rule tests stored beside the packs (--coverage: which conditions they exercise)"),
    "diff": ("diff", "compare outcomes under an old and a new knowledge base (or a git revision of it)"),
    "schema": ("schema", "print the JSON Schema of a kind of file (or write them all with --out DIR) for editors"),
    "verify": ("verify", "check a decision log's hash chain and re-evaluate every decision in it"),
    "import": ("import_kiva", "convert Kiva API partner records into facts files"),
}


def _module(command: str):
    return importlib.import_module(f"{__name__}.{COMMANDS[command][0]}")


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: only the command ``argv`` names is imported to add its arguments
    (importing them all cost every command 5 to 10 ms)."""
    parser = argparse.ArgumentParser(
        prog="badges",
        description="Decide Kiva Social Performance Badges from partner facts, and explain why.",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    at = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), len(argv))  # top-level options take no value
    named = argv[at] if at < len(argv) and not {"-h", "--help"} & set(argv[:at]) else None
    # A command line that names a command needs only its parser (each costs ~0.2 ms); without
    # one, or with a wrong one, every command is listed.
    for name, (_, help_text) in COMMANDS.items():
        if named in COMMANDS and name != named:
            continue
        command = commands.add_parser(name, help=help_text, description=help_text)
        if name == named:
            _module(name).add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(argv)
    args = parser.parse_args(argv)  # exits 2 on usage errors
    from engine.diagnostics import InvalidInput

    try:
        output, status = _module(args.command).run(args)
        sys.stdout.write(output)
        sys.stdout.flush()
    except InvalidInput as error:
        sys.stderr.write("".join(d.format() + "\n" for d in error.diagnostics))
        return EXIT_INVALID
    except UsageError as error:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"badges {args.command}: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("badges: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader of stdout went away (`badges ... | head`): not a defect
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback for users
        from engine.fork_pool import WorkerLost

        if args.debug:
            raise
        if isinstance(error, WorkerLost):  # the system ended it: no defect to report
            sys.stderr.write(f"badges: {error}. Run again (with fewer --jobs if memory is short).\n")
            return EXIT_INTERNAL
        sys.stderr.write(f"badges: internal error: {type(error).__name__}: {error}\n"
                         "This is a defect in badges, not in your input. Run again with --debug for details.\n")
        return EXIT_INTERNAL
    return status


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what is still
    buffered for the closed pipe does not fail again on the way out."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (tests capture it)
        pass


def leave(status: int) -> None:
    """End the process with ``status``. Whatever is still alive then lives until the end: it is
    moved out of the cyclic collector's reach first, which spares the interpreter's last
    collections a walk over all of it (the knowledge base, the compiled rules): a tenth of a
    short run. Files are flushed and closed as on any exit."""
    import gc

    gc.freeze()
    sys.exit(status)


def console_main() -> None:
    """The ``badges`` command."""
    leave(main())


if __name__ == "__main__":
    console_main()
