"""``badges evaluate``: decide every conclusion for facts files, folders of them, or tables of entities."""
from __future__ import annotations

from .common import EXIT_OK, KB_HELP, UsageError, load_kb, unknown_choice

# Decisions of this many entities go into the log in one atomic append, and a batch that logs
# hands its workers this many at a time: a record is about 30 KB (it names every rule file).
LOG_CHUNK = 64


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a facts file, a folder of them, or a .csv / .jsonl table (one entity per row)")
    parser.add_argument("--kb", metavar="DIR", help=KB_HELP)
    parser.add_argument("--format", choices=("table", "json", "jsonl", "csv", "md"), default="table")
    parser.add_argument("--pack", metavar="NAME", help="only the conclusions of this pack")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="worker processes evaluating in parallel (default: the machine's cores)")
    parser.add_argument("--log", metavar="FILE",
                        help="append every decision to this tamper-evident decision log (see `badges verify`)")


def run(args) -> tuple[str, int]:
    """Stream the results to stdout in input order; bad entities are reported at the end (exit 1)."""
    import sys
    from functools import partial

    from engine import batch, stream_output
    from engine.diagnostics import Collector, InvalidInput
    from engine.facts_loader import facts_paths

    from .progress import progress

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    kb = load_kb(args.kb)
    if args.pack and args.pack not in kb.packs:
        raise unknown_choice("pack", args.pack, kb.packs)
    render = stream_output.RENDERERS[args.format]
    log = _DecisionLog(args.log) if args.log else None
    if log:
        render = partial(stream_output.render_with_log, render)
    collector = Collector()
    files = facts_paths(args.paths, collector)
    collector.raise_if_errors()  # a path that is not there is a mistake on the command line: no work done
    chunk = LOG_CHUNK if log else None
    stream = batch.evaluate_stream(batch.input_items(files, kb, collector, expanded=True, rows=chunk), kb, render,
                                   jobs=args.jobs or batch.default_jobs(), pack=args.pack, chunk=chunk)
    with batch.UniqueIds() as seen, progress("evaluating", lambda: batch.estimate_count(args.paths)) as advance:
        writer = stream_output.writer_for(args.format, kb, sys.stdout)
        for outcomes in stream:  # a task's outcomes: their ids are checked in one go
            advance(len(outcomes))
            good = []
            for key, where, diagnostics, payload in outcomes:  # batch.Outcome's fields
                if diagnostics:
                    collector.items.extend(diagnostics)
                if payload is not None:
                    good.append((key, where, payload))
            pieces = []
            for (key, where, payload), earlier in zip(good, seen.first_uses([g[:2] for g in good])):
                if earlier is not None:
                    batch.report_reused_id(collector, key, where, earlier)
                elif log:
                    log.add(*payload, writer)
                else:
                    pieces.append(payload)
            writer.add_all(pieces)
        if log:
            log.flush(writer)
        writer.finish(any_bad=bool(collector.errors))
    if collector.errors:
        raise InvalidInput(collector.items)
    for warning in sorted(collector.items, key=lambda d: d.sort_key()):
        sys.stderr.write(warning.format() + "\n")
    return "", EXIT_OK


class _DecisionLog:
    """Appends decisions to the log in chunks, each before its entities are written out, so
    that nothing is shown that the log does not hold (engine/decision_log.py)."""

    def __init__(self, path: str):
        from engine.decision_log import BadClock, timestamp_now

        try:
            timestamp_now()  # a bad pinned clock is a usage error, found before any work
        except BadClock as error:
            raise UsageError(str(error)) from None
        self.path = path
        self.records: list = []  # decision_log.RecordText
        self.pieces: list = []

    def add(self, piece, records: list, writer) -> None:
        self.pieces.append(piece)
        self.records.extend(records)
        if len(self.pieces) >= LOG_CHUNK:
            self.flush(writer)

    def flush(self, writer) -> None:
        from engine.decision_log import append_records

        if self.records:
            append_records(self.path, self.records)
        for piece in self.pieces:
            writer.add(piece)
        self.records, self.pieces = [], []
