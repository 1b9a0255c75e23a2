"""``badges report``: one self-contained HTML or Markdown document for facts files or folders of them."""
from __future__ import annotations

from .common import EXIT_OK, KB_HELP, UsageError, load_kb


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a facts file or a folder of them")
    parser.add_argument("--out", metavar="FILE", required=True,
                        help="the file to write (replaced atomically: never left half-written)")
    parser.add_argument("--format", choices=("html", "md"),
                        help="html or md (default: from the --out suffix, html unless it ends in .md)")
    parser.add_argument("--kb", metavar="DIR", help=KB_HELP)
    parser.add_argument("--generated-at", metavar="TIME",
                        help="the time to print as generated (ISO 8601; default: now, or $BADGES_NOW)")


def generated_at(option: str | None) -> str:
    """The report's timestamp in UTC ISO 8601: the option, else $BADGES_NOW, else now."""
    from datetime import datetime, timezone

    from engine.decision_log import BadClock, timestamp_now

    if option is None:
        try:
            return timestamp_now()
        except BadClock as error:
            raise UsageError(str(error)) from None
    try:
        moment = datetime.fromisoformat(option.strip())
    except ValueError:
        raise UsageError(f"--generated-at {option!r} is not an ISO 8601 time such as 2026-11-25T09:30:00Z") from None
    if moment.tzinfo is None:  # a time without offset is read as UTC, as for BADGES_NOW
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_atomically(path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    import os
    import tempfile
    from pathlib import Path

    from engine.diagnostics import Diagnostic, InvalidInput, Location

    target = Path(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
        temporary = None
    except OSError as error:
        raise InvalidInput([Diagnostic(Location(str(target)), "BD503",
                                       f"cannot write the report: {error.strerror or error}")]) from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


def run(args) -> tuple[str, int]:
    from engine.facts_loader import load_entities
    from engine.inference import Engine
    from explain.render_report import render_report
    from explain.report import build_report

    fmt = args.format or ("md" if args.out.lower().endswith((".md", ".markdown")) else "html")
    stamp = generated_at(args.generated_at)
    kb = load_kb(args.kb)
    entities = load_entities(args.paths, kb)
    with Engine(kb) as engine:
        results = engine.evaluate_all(entities)
        text = render_report(build_report(engine, results, stamp), fmt)
    write_atomically(args.out, text)
    decisions = sum(len(r.decisions) for r in results)
    return f"wrote {args.out} ({fmt}: {len(results)} entities, {decisions} decisions)\n", EXIT_OK
