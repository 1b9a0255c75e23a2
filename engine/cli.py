"""The ``badges`` command line.

Exit status: 0 success (whatever the outcomes), 1 invalid input or rule base (or a
failing rule test), 2 usage error, 3 internal error. Output is built in full before
anything is written, so a failure never leaves half a report.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="badges",
        description="Decide Kiva Social Performance Badges from partner facts, and explain why.",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    kb_help = "knowledge base folder (default: the bundled one)"
    evaluate = commands.add_parser("evaluate", help="decide every badge for facts files or folders of them")
    evaluate.add_argument("paths", nargs="+", metavar="PATH", help="a facts file or a folder of them")
    evaluate.add_argument("--kb", metavar="DIR", help=kb_help)
    evaluate.add_argument("--format", choices=("table", "json", "csv", "md"), default="table")
    evaluate.add_argument("--pack", metavar="NAME", help="only the conclusions of this pack")

    why = commands.add_parser("why", help="explain one decision as a tree")
    why.add_argument("facts", metavar="FACTS", help="a facts file")
    why.add_argument("conclusion", metavar="BADGE", help="a badge id (or any conclusion id)")
    why.add_argument("--kb", metavar="DIR", help=kb_help)
    why.add_argument("--format", choices=("tree", "json", "md"), default="tree")
    why.add_argument("--full", action="store_true", help="show every condition, not only the deciding ones")

    check = commands.add_parser("check", help="validate a knowledge base")
    check.add_argument("kb_dir", nargs="?", metavar="KB_DIR", help=kb_help)
    check.add_argument("--format", choices=("text", "json"), default="text")

    test = commands.add_parser("test", help="run the rule tests stored beside the packs")
    test.add_argument("kb_dir", nargs="?", metavar="KB_DIR", help=kb_help)
    return parser


def _kb_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    from knowledge_base import BUNDLED

    return BUNDLED


def _console(buffer: io.StringIO):
    from rich.console import Console

    tty = sys.stdout.isatty()
    width = os.get_terminal_size().columns if tty else 100
    return Console(file=buffer, width=width, force_terminal=tty, color_system="auto" if tty else None,
                   highlight=False, soft_wrap=False)


def _load_kb(path: Path):
    from engine.kb_loader import load_knowledge_base

    return load_knowledge_base(path)


def cmd_evaluate(args) -> tuple[str, int]:
    from engine.facts_loader import load_entities
    from engine.inference import Engine
    from explain import portfolio

    kb = _load_kb(_kb_dir(args.kb))
    if args.pack and args.pack not in kb.packs:
        from engine.diagnostics import did_you_mean

        hint = did_you_mean(args.pack, kb.packs)
        raise UsageError(f"unknown pack '{args.pack}'" + (f" (did you mean '{hint}'?)" if hint else "")
                         + f"; packs: {', '.join(kb.packs)}")
    entities = load_entities(args.paths, kb)
    with Engine(kb) as engine:
        results = engine.evaluate_all(entities)
    if args.pack:
        from dataclasses import replace

        results = [replace(r, decisions=tuple(d for d in r.decisions if d.conclusion.pack == args.pack))
                   for r in results]
    if args.format == "json":
        return portfolio.to_json(kb, results), EXIT_OK
    if args.format == "csv":
        return portfolio.to_csv(kb, results), EXIT_OK
    if args.format == "md":
        return portfolio.to_markdown(kb, results), EXIT_OK
    buffer = io.StringIO()
    portfolio.to_table(kb, results, _console(buffer))
    return buffer.getvalue(), EXIT_OK


def cmd_why(args) -> tuple[str, int]:
    from engine.diagnostics import Collector, did_you_mean
    from engine.facts_loader import load_entities
    from engine.inference import Engine
    from explain.render_json import trail_data
    from explain.render_md import render_markdown
    from explain.render_tree import render_tree

    kb = _load_kb(_kb_dir(args.kb))
    [entity] = load_entities([args.facts], kb) if Path(args.facts).is_file() else _not_a_file(args.facts)
    conclusion = kb.find_conclusion(args.conclusion)
    known = {cid for p in kb.packs_for(entity.kind) for cid in p.conclusions}
    if conclusion is None or conclusion.id not in known:
        hint = did_you_mean(args.conclusion, known)
        raise UsageError(f"'{args.conclusion}' is not a badge or conclusion for a {entity.kind}"
                         + (f" (did you mean '{hint}'?)" if hint else "")
                         + f"; choose from: {', '.join(sorted(known))}")
    with Engine(kb) as engine:
        result = engine.evaluate(entity)
    trail = result.trails[conclusion.id]
    if args.format == "json":
        data = {"entity": {"id": entity.id, "name": entity.name, "kind": entity.kind, "source": entity.source},
                "knowledge_base": {"name": kb.name, "version": kb.version, "sha256": kb.sha256},
                "trail": trail_data(trail)}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n", EXIT_OK
    if args.format == "md":
        return render_markdown(trail, entity.name, full=args.full), EXIT_OK
    buffer = io.StringIO()
    console = _console(buffer)
    from rich.text import Text

    console.print(Text(f"{entity.name} ({entity.id}) · {entity.source}", style="bold"))
    console.print(render_tree(trail, full=args.full))
    return buffer.getvalue(), EXIT_OK


def _not_a_file(path: str):
    from engine.diagnostics import Diagnostic, InvalidInput, Location

    raise InvalidInput([Diagnostic(Location(path), "BD008", "expected one facts file")])


def cmd_check(args) -> tuple[str, int]:
    from engine.kb_loader import load_with_diagnostics

    kb, collector = load_with_diagnostics(_kb_dir(args.kb_dir))
    items = sorted(collector.items, key=lambda d: d.sort_key())
    status = EXIT_INVALID if collector.errors else EXIT_OK
    if args.format == "json":
        return json.dumps({"ok": status == EXIT_OK, "diagnostics": [d.to_dict() for d in items]},
                          indent=2, ensure_ascii=False) + "\n", status
    if status != EXIT_OK:
        from engine.diagnostics import InvalidInput

        raise InvalidInput(items)
    for d in items:
        sys.stderr.write(d.format() + "\n")
    conclusions = sum(len(p.conclusions) for p in kb.packs.values())
    facts = sum(len(p.facts) for p in kb.packs.values())
    return (f"{kb.root}: OK: {kb.name} v{kb.version}, {len(kb.packs)} pack(s), {conclusions} conclusions, "
            f"{facts} facts, {len(items)} warning(s)\n"), EXIT_OK


def cmd_test(args) -> tuple[str, int]:
    from engine.inference import Engine
    from engine.rule_tests import load_rule_tests, run_rule_test

    kb = _load_kb(_kb_dir(args.kb_dir))
    tests, collector = load_rule_tests(kb)
    collector.raise_if_errors()
    lines, failed = [], 0
    with Engine(kb) as engine:
        for test in tests:
            result = run_rule_test(engine, test)
            if result.passed:
                continue
            failed += 1
            lines.append(f"{test.location}: FAIL {test.id}: {test.conclusion} expected {test.expect}, "
                         f"got {result.outcome}")
            if result.missing_deciding:
                lines.append(f"    not among the deciding conditions: {', '.join(result.missing_deciding)}")
            from explain.words import summary

            lines.append(f"    {summary(result.trail)}")
    lines.append(f"{len(tests) - failed} passed, {failed} failed")
    return "\n".join(lines) + "\n", EXIT_INVALID if failed else EXIT_OK


COMMANDS = {"evaluate": cmd_evaluate, "why": cmd_why, "check": cmd_check, "test": cmd_test}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    from engine.diagnostics import InvalidInput

    try:
        output, status = COMMANDS[args.command](args)
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
    except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback for users
        if args.debug:
            raise
        sys.stderr.write(f"badges: internal error: {type(error).__name__}: {error}\n"
                         "This is a defect in badges, not in your input. Run again with --debug for details.\n")
        return EXIT_INTERNAL
    sys.stdout.write(output)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
