"""``badges why``: explain one decision for one entity."""
from __future__ import annotations

import io
from pathlib import Path

from .common import EXIT_OK, KB_HELP, console, load_kb, unknown_choice


def add_arguments(parser) -> None:
    parser.add_argument("facts", metavar="FACTS", help="a facts file")
    parser.add_argument("conclusion", metavar="BADGE", help="a badge id (or any conclusion id)")
    parser.add_argument("--kb", metavar="DIR", help=KB_HELP)
    parser.add_argument("--format", choices=("tree", "json", "md"), default="tree")
    parser.add_argument("--full", action="store_true", help="show every condition, not only the deciding ones")


def _one_entity(path: str, kb):
    from engine.diagnostics import Diagnostic, InvalidInput, Location
    from engine.facts_loader import load_entities

    if not Path(path).is_file():
        raise InvalidInput([Diagnostic(Location(path), "BD008", "expected one facts file")])
    entities = load_entities([path], kb)
    if len(entities) != 1:  # a CSV or JSON Lines table holds any number of entities
        raise InvalidInput([Diagnostic(Location(path), "BD008",
                                       f"expected one entity, found {len(entities)}; give a facts file or a table of one row")])
    return entities[0]


def run(args) -> tuple[str, int]:
    from engine.inference import Engine
    from explain.render_json import trail_data
    from explain.render_md import render_markdown
    from explain.render_tree import render_tree

    kb = load_kb(args.kb)
    entity = _one_entity(args.facts, kb)
    conclusions = [c for p in kb.packs_for(entity.kind) for c in p.conclusions.values()]
    known = {c.id for c in conclusions}
    if args.conclusion not in known:
        reported = [c.id for c in conclusions if c.is_reported]
        derived = len(known) - len(reported)
        article = "an" if entity.kind[:1] in "aeiou" else "a"
        raise unknown_choice(f"badge or conclusion for {article} {entity.kind}", args.conclusion, known, reported,
                             f" (or one of {derived} derived conclusions)" if derived else "")
    from explain import render_qualify
    from explain.counterfactual import Counterfactuals

    with Engine(kb) as engine:
        result = engine.evaluate(entity)
        trail = result.trails[args.conclusion]
        to_qualify = Counterfactuals(engine).conclusion(entity, args.conclusion, trail.outcome)
    if args.format == "json":
        data = {"entity": {"id": entity.id, "name": entity.name, "kind": entity.kind, "source": entity.source},
                "knowledge_base": {"name": kb.name, "version": kb.version, "sha256": kb.sha256},
                "trail": trail_data(trail), "to_qualify": render_qualify.qualify_data(to_qualify)}
        from explain import indented_json

        return indented_json.dumps(data) + "\n", EXIT_OK
    if args.format == "md":
        text = render_markdown(trail, entity.name, full=args.full)
        return text + ("\n" + render_qualify.render_markdown(to_qualify) if to_qualify else ""), EXIT_OK
    from rich.text import Text

    buffer = io.StringIO()
    out = console(buffer)
    out.print(Text(f"{entity.name} ({entity.id}) · {entity.source}", style="bold"))
    out.print(render_tree(trail, full=args.full))
    if to_qualify is not None:
        out.print()
        out.print(render_qualify.render_text(to_qualify))
    return buffer.getvalue(), EXIT_OK
