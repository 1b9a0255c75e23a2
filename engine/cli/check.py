"""``badges check``: validate a knowledge base in depth and report every problem at once.

Loader diagnostics (syntax, schema, names, types) come first; once the knowledge base
loads, the static analysis (``engine.lint``) and the rule tests' own diagnostics join
them. All are sorted by location and printed as ``path:line:col: CODE message``.
"""
from __future__ import annotations

import json
import sys

from .common import EXIT_INVALID, EXIT_OK, KB_HELP, UsageError, kb_dir


def add_arguments(parser) -> None:
    parser.add_argument("kb_dir", nargs="?", metavar="KB_DIR", help=KB_HELP)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors (exit 1 on any)")
    parser.add_argument("--max-errors", type=int, default=0, metavar="N",
                        help="show at most N problems (default: all)")
    parser.add_argument("--codes", action="store_true",
                        help="print the catalogue of diagnostic codes as Markdown (docs/diagnostics.md) and exit")


def diagnose(root) -> tuple[object, list]:
    """The loaded knowledge base (or None) and every diagnostic about it, sorted."""
    from engine.diagnostics import Diagnostic
    from engine.kb_loader import load_with_diagnostics
    from engine.lint import lint
    from engine.rule_tests import load_rule_tests

    kb, collector = load_with_diagnostics(root)
    items = list(collector.items)
    if kb is not None:
        items += lint(kb)
        items += load_rule_tests(kb)[1].items
        items += _beyond_engine_limits(kb)
    return kb, sorted(items, key=Diagnostic.sort_key)


def _beyond_engine_limits(kb) -> list:
    """Compile each entity kind's rules as ``evaluate`` will, so that a rule base too large for
    durable_rules fails here rather than at the first evaluation (compiling needs no engine)."""
    from pathlib import Path

    from engine.compiler import compile_program
    from engine.diagnostics import Diagnostic, Location
    from engine.rule_limits import LimitError

    found = []
    for kind in sorted({pack.entity for pack in kb.packs.values()}):
        try:
            compile_program(kb, kind)
        except LimitError as error:
            found.append(Diagnostic(Location(str(Path(kb.root) / "kb.yaml"), 1, 1), "BD218", str(error)))
    return found


def run(args) -> tuple[str, int]:
    from engine.diagnostics import Severity

    if args.codes:
        from engine.diagnostics_doc import catalogue_markdown

        return catalogue_markdown(), EXIT_OK
    if args.max_errors < 0:
        raise UsageError("--max-errors needs a number from 0 (all) upwards")
    root = kb_dir(args.kb_dir)
    kb, items = diagnose(root)
    errors = sum(d.severity is Severity.ERROR for d in items)
    warnings = len(items) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    status = EXIT_INVALID if failed else EXIT_OK
    shown = items[: args.max_errors] if args.max_errors else items
    hidden = len(items) - len(shown)
    if args.format == "json":
        data = {"knowledge_base": str(root), "ok": not failed, "strict": args.strict,
                "errors": errors, "warnings": warnings, "not_shown": hidden,
                "diagnostics": [d.to_dict() for d in shown]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n", status
    lines = [d.format() for d in shown]
    if hidden:
        lines.append(f"... and {hidden} more (--max-errors 0 shows all)")
    if kb is None and errors:
        lines.append("badges check: the knowledge base did not load; fix these first, then the deeper checks run")
    if lines:
        sys.stderr.write("".join(line + "\n" for line in lines))
    counts = f"{errors} error(s), {warnings} warning(s)" + (" (--strict: warnings count as errors)"
                                                            if args.strict and warnings else "")
    if failed:
        return f"{root}: FAILED: {counts}\n", status
    conclusions = sum(len(p.conclusions) for p in kb.packs.values())
    facts = sum(len(p.facts) for p in kb.packs.values())
    return (f"{root}: OK: {kb.name} v{kb.version}, {len(kb.packs)} pack(s), {conclusions} conclusions, "
            f"{facts} facts, {warnings} warning(s)\n"), status
