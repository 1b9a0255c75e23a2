"""``badges evaluate``: decide every conclusion for facts files or folders of them."""
from __future__ import annotations

import io

from .common import EXIT_OK, KB_HELP, console, load_kb, unknown_choice

HELP = "decide every badge for facts files or folders of them"


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a facts file or a folder of them")
    parser.add_argument("--kb", metavar="DIR", help=KB_HELP)
    parser.add_argument("--format", choices=("table", "json", "csv", "md"), default="table")
    parser.add_argument("--pack", metavar="NAME", help="only the conclusions of this pack")
    parser.add_argument("--log", metavar="FILE",
                        help="append every decision to this tamper-evident decision log (see `badges verify`)")


def run(args) -> tuple[str, int]:
    from dataclasses import replace

    from engine.facts_loader import load_entities
    from engine.inference import Engine
    from explain import portfolio

    kb = load_kb(args.kb)
    if args.pack and args.pack not in kb.packs:
        raise unknown_choice("pack", args.pack, kb.packs)
    entities = load_entities(args.paths, kb)
    with Engine(kb) as engine:
        results = engine.evaluate_all(entities)
    if args.pack:
        results = [replace(r, decisions=tuple(d for d in r.decisions if d.conclusion.pack == args.pack))
                   for r in results]
    if args.log:  # the decision log (engine/decision_log.py); a failure leaves no output
        from engine.decision_log import BadClock, append_records, build_records

        from .common import UsageError

        try:
            append_records(args.log, build_records(kb, results))
        except BadClock as error:
            raise UsageError(str(error)) from None
    if args.format == "json":
        return portfolio.to_json(kb, results), EXIT_OK
    if args.format == "csv":
        return portfolio.to_csv(kb, results), EXIT_OK
    if args.format == "md":
        return portfolio.to_markdown(kb, results), EXIT_OK
    buffer = io.StringIO()
    portfolio.to_table(kb, results, console(buffer))
    return buffer.getvalue(), EXIT_OK
