"""``badges test``: run the rule tests stored as data beside the packs."""
from __future__ import annotations

from .common import EXIT_INVALID, EXIT_OK, KB_HELP, load_kb

HELP = "run the rule tests stored beside the packs"


def add_arguments(parser) -> None:
    parser.add_argument("kb_dir", nargs="?", metavar="KB_DIR", help=KB_HELP)


def run(args) -> tuple[str, int]:
    from engine.inference import Engine
    from engine.rule_tests import load_rule_tests, run_rule_test
    from explain.words import summary

    kb = load_kb(args.kb_dir)
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
            lines.append(f"    {summary(result.trail)}")
    lines.append(f"{len(tests) - failed} passed, {failed} failed")
    return "\n".join(lines) + "\n", EXIT_INVALID if failed else EXIT_OK
