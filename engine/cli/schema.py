"""``badges schema``: the JSON Schemas the engine validates with, for editors and other tools.

They come from ``engine/schemas.py`` (the single source of truth), so an editor with a YAML
language server checks files exactly as ``badges check`` does for structure.
"""
from __future__ import annotations

import json
from pathlib import Path

from .common import EXIT_OK, UsageError, unknown_choice


def add_arguments(parser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="conclusion, facts-schema, kb, pack, sources, facts, tests (default with --out: all)")
    parser.add_argument("--out", metavar="DIR", help="write NAME.schema.json files into DIR instead of printing")


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def schema_text(name: str) -> str:
    """One schema as stable, pretty JSON (the published copies under schemas/ are exactly this)."""
    from engine.schemas import ALL

    return json.dumps(ALL[name], indent=2, ensure_ascii=False) + "\n"


def run(args) -> tuple[str, int]:
    from engine.schemas import ALL

    for name in args.names:
        if name not in ALL:
            raise unknown_choice("schema", name, ALL)
    if args.out is None:
        if len(args.names) != 1:
            raise UsageError(f"name one schema to print ({', '.join(ALL)}), or use --out DIR to write them all")
        return schema_text(args.names[0]), EXIT_OK
    names = args.names or list(ALL)
    texts = {name: schema_text(name) for name in names}  # everything built before anything is written
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            temporary = out / f".{file_name(name)}.tmp"
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(out / file_name(name))
    except OSError as error:
        from engine.diagnostics import Diagnostic, InvalidInput, Location

        raise InvalidInput([Diagnostic(Location(str(out)), "BD504",
                                       f"cannot write the schemas: {error.strerror or error}")]) from None
    return "".join(f"wrote {out / file_name(name)}\n" for name in names), EXIT_OK
