"""``badges import kiva``: turn Kiva API partner records into facts files."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import EXIT_OK, KB_HELP, load_kb


def add_arguments(parser) -> None:
    parser.add_argument("source", choices=("kiva",), help="where the records come from (only Kiva's API for now)")
    parser.add_argument("records", metavar="PARTNERS.json",
                        help="Kiva API partner records: a JSON list, or the API's {\"partners\": [...]} response")
    parser.add_argument("--out", metavar="DIR", required=True, help="folder to write one facts file per partner into")
    parser.add_argument("--as-of", metavar="DATE", help="the date the records were retrieved (recorded as evidence)")
    parser.add_argument("--kb", metavar="DIR", help=KB_HELP)


def run(args) -> tuple[str, int]:
    from engine.diagnostics import Collector, InvalidInput
    from engine.kiva_import import check_against_kb, read_partners, write_all

    from .common import UsageError

    if args.as_of is not None:
        from datetime import date

        try:
            date.fromisoformat(args.as_of)
        except ValueError:
            raise UsageError(f"--as-of '{args.as_of}' is not a date like 2024-06-30") from None
    kb = load_kb(args.kb)
    collector = Collector()
    partners = read_partners(Path(args.records), collector, args.as_of)
    if not collector.errors:
        check_against_kb(partners, kb, collector)
    if collector.errors:
        raise InvalidInput(collector.items)  # nothing is written
    written = write_all(partners, Path(args.out), collector)
    for warning in sorted(collector.items, key=lambda d: d.sort_key()):
        if warning.severity.value == "warning":
            sys.stderr.write(warning.format() + "\n")
    if collector.errors:
        raise InvalidInput(collector.errors)
    recorded = sum(1 for p in partners if "kiva_recorded_badges" in p.document["facts"])
    return (f"wrote {len(written)} facts file(s) to {args.out} ({recorded} with the badges Kiva recorded); "
            f"`badges evaluate {args.out}` compares them with the engine's decisions\n"), EXIT_OK
