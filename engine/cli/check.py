"""``badges check``: validate a knowledge base and report every problem at once."""
from __future__ import annotations

import json
import sys

from .common import EXIT_INVALID, EXIT_OK, KB_HELP, kb_dir

HELP = "validate a knowledge base"


def add_arguments(parser) -> None:
    parser.add_argument("kb_dir", nargs="?", metavar="KB_DIR", help=KB_HELP)
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args) -> tuple[str, int]:
    from engine.diagnostics import InvalidInput
    from engine.kb_loader import load_with_diagnostics

    kb, collector = load_with_diagnostics(kb_dir(args.kb_dir))
    items = sorted(collector.items, key=lambda d: d.sort_key())
    status = EXIT_INVALID if collector.errors else EXIT_OK
    if args.format == "json":
        return json.dumps({"ok": status == EXIT_OK, "diagnostics": [d.to_dict() for d in items]},
                          indent=2, ensure_ascii=False) + "\n", status
    if status != EXIT_OK:
        raise InvalidInput(items)
    for d in items:
        sys.stderr.write(d.format() + "\n")
    conclusions = sum(len(p.conclusions) for p in kb.packs.values())
    facts = sum(len(p.facts) for p in kb.packs.values())
    return (f"{kb.root}: OK: {kb.name} v{kb.version}, {len(kb.packs)} pack(s), {conclusions} conclusions, "
            f"{facts} facts, {len(items)} warning(s)\n"), EXIT_OK
