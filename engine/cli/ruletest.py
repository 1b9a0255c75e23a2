"""``badges test``: run the rule tests stored as data beside the packs, optionally with coverage."""
from __future__ import annotations

from .common import EXIT_INVALID, EXIT_OK, KB_HELP, load_kb


def add_arguments(parser) -> None:
    parser.add_argument("kb_dir", nargs="?", metavar="KB_DIR", help=KB_HELP)
    parser.add_argument("--coverage", action="store_true",
                        help="report, per condition node, whether the tests drove it true, false and unknown")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args) -> tuple[str, int]:
    from engine.inference import Engine
    from engine.rule_test_report import coverage_text, failure_text, to_json
    from engine.rule_tests import coverage, load_rule_tests, run_rule_test

    kb = load_kb(args.kb_dir)
    tests, collector = load_rule_tests(kb)
    collector.raise_if_errors()
    with Engine(kb) as engine:
        results = [run_rule_test(engine, test) for test in tests]
    nodes = coverage(kb, results) if args.coverage else None
    failed = [r for r in results if not r.passed]
    status = EXIT_INVALID if failed else EXIT_OK
    if args.format == "json":
        return to_json(kb, results, nodes), status
    lines = [failure_text(r) + "\n" for r in failed]
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if nodes is not None:
        lines.append(coverage_text(kb, nodes))
    return "\n".join(lines) + "\n", status
