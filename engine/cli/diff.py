"""``badges diff``: who a rule edit affects, by evaluating a portfolio under two knowledge bases."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .common import EXIT_OK, UsageError, console

USAGE = ("badges diff OLD_KB NEW_KB PARTNERS... [--format table|json|csv] [--jobs N]\n"
         "       badges diff --old-rev REV NEW_KB PARTNERS... [--format table|json|csv] [--jobs N]")
CSV_COLUMNS = ("entity_id", "entity_name", "source", "conclusion", "name", "from", "to", "changed_conditions")


def add_arguments(parser) -> None:
    parser.usage = USAGE
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="OLD_KB NEW_KB PARTNERS... (or NEW_KB PARTNERS... with --old-rev); "
                             "partners are facts files or folders of them")
    parser.add_argument("--old-rev", metavar="REV",
                        help="the old knowledge base is NEW_KB's folder as of this git revision (e.g. HEAD~1)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="worker processes comparing in parallel (default: the machine's cores)")


def run(args) -> tuple[str, int]:
    from engine.batch import default_jobs, estimate_count
    from engine.impact import checkout_revision, compare
    from engine.kb_cache import load_cached
    from engine.kb_loader import load_knowledge_base

    from .progress import progress

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    needed = 2 if args.old_rev else 3
    if len(args.paths) < needed:
        raise UsageError("name " + ("NEW_KB and at least one facts file or folder" if args.old_rev
                                    else "OLD_KB, NEW_KB and at least one facts file or folder"))
    new_dir = Path(args.paths[needed - 2])
    partners = args.paths[needed - 1:]
    import tempfile  # here: every command imports this module for its arguments

    with tempfile.TemporaryDirectory(prefix="badges-diff-") as scratch:
        if args.old_rev:
            old_dir, commit = checkout_revision(new_dir, args.old_rev, Path(scratch))
            old_label = f"{new_dir} at {args.old_rev} ({commit[:12]})"
        else:
            old_dir = Path(args.paths[0])
            old_label = str(old_dir)
        # a revision checked out into a scratch folder is read once: not worth a cache entry
        old_kb = load_knowledge_base(old_dir) if args.old_rev else load_cached(old_dir)
        new_kb = load_cached(new_dir)
        with progress("comparing", lambda: estimate_count(partners)) as advance:
            impact = compare(old_kb, new_kb, partners, jobs=args.jobs or default_jobs(), advance=advance)
    labels = (old_label, str(new_dir))
    if args.format == "json":
        return _json(impact, labels), EXIT_OK
    if args.format == "csv":
        return _csv(impact), EXIT_OK
    return _table(impact, labels), EXIT_OK


def _nodes_text(change, separator: str = "; ") -> str:
    """``re-women: true → false; ...``: the condition nodes whose value changed."""
    return separator.join(f"{n.id}: {n.old or 'absent'} → {n.new or 'absent'}" for n in change.nodes)


def _json(impact, labels) -> str:
    def kb(kb_, label):
        return {"label": label, "name": kb_.name, "version": kb_.version, "sha256": kb_.sha256}

    data = {
        "old": kb(impact.old_kb, labels[0]), "new": kb(impact.new_kb, labels[1]),
        "entities": impact.entities, "changed": len(impact.changes),
        "changes": [{"entity": {"id": c.entity.id, "name": c.entity.name, "source": c.entity.source},
                     "conclusion": c.conclusion, "name": c.name, "from": c.old, "to": c.new,
                     "conditions": [{"id": n.id, "from": n.old, "to": n.new} for n in c.nodes]}
                    for c in impact.changes],
        "summary": {cid: [{"from": a, "to": b, "entities": n} for (a, b), n in sorted(counts.items())]
                    for cid, counts in impact.summary().items()},
        "facts_unknown_to_old": {entity: list(names) for entity, names in impact.dropped},
    }
    from explain import indented_json

    return indented_json.dumps(data) + "\n"


def _csv(impact) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in impact.changes:
        writer.writerow((c.entity.id, c.entity.name, c.entity.source, c.conclusion, c.name, c.old, c.new,
                         _nodes_text(c)))
    return buffer.getvalue()


def _table(impact, labels) -> str:
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    out = console(buffer, piped_width=120)
    out.print(Text(f"old: {labels[0]}: {impact.old_kb.name} v{impact.old_kb.version}\n"
                   f"new: {labels[1]}: {impact.new_kb.name} v{impact.new_kb.version}"))
    if impact.changes:
        table = Table(title="Outcomes that change", title_justify="left")
        for column in ("Entity", "Conclusion", "From", "To", "Conditions that changed"):
            table.add_column(column)
        for c in impact.changes:
            table.add_row(Text(f"{c.entity.name}\n{c.entity.id}"), Text(c.conclusion), Text(c.old), Text(c.new),
                          Text(_nodes_text(c, "\n")))
        out.print(table)
        summary = Table(title="Summary per conclusion", title_justify="left")
        for column in ("Conclusion", "From → to", "Entities"):
            summary.add_column(column)
        for cid, counts in impact.summary().items():
            for (before, after), n in sorted(counts.items()):
                summary.add_row(Text(cid), Text(f"{before} → {after}"), str(n))
        out.print(summary)
    for entity, names in impact.dropped:
        out.print(Text(f"note: {entity}: {', '.join(names)} unknown to the old fact schema (read as unknown there)"))
    out.print(Text(f"{impact.entities} entities evaluated under both; {len(impact.changes)} outcome(s) change "
                   f"for {len({c.entity.id for c in impact.changes})} entities."))
    return buffer.getvalue()
