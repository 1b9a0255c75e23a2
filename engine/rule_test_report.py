"""How ``badges test`` shows its results: failures side by side, coverage per node, or JSON."""
from __future__ import annotations

import json
from pathlib import Path

from explain.trail import TrailNode
from explain.words import MARKS, condition_text

from . import model as m
from .rule_tests import NodeCoverage, TestResult

_SAME, _DIFFERENT = "│", "≠"


def failure_text(result: TestResult) -> str:
    """The failing test's header, then the expected and the actual trail in two aligned columns.

    Rows follow the actual trail (derived conclusions included). The left column says what
    the test expects of a row (the outcome, or that a node must decide it); the right column
    what happened; ``≠`` marks the rows where they disagree.
    """
    test = result.test
    lines = [f"{test.location}: FAIL {test.id}: {test.conclusion} expected {test.expect}, got {result.outcome}"]
    if result.missing_deciding:
        lines.append(f"    not among the deciding conditions: {', '.join(result.missing_deciding)}")
    rows = [("expected", "actual", _SAME),
            (f"{test.conclusion}: {test.expect}", f"{test.conclusion}: {result.outcome}",
             _SAME if test.expect == result.outcome else _DIFFERENT)]
    _rows(result.trail.root, 0, True, set(test.deciding), rows)
    width = max(len(left) for left, _, _ in rows)
    lines += [f"    {left.ljust(width)} {mark} {right}".rstrip() for left, right, mark in rows]
    return "\n".join(lines)


def _rows(node: TrailNode, depth: int, on_path: bool, must: set[str], rows: list) -> None:
    pad = "  " * depth
    label = f"level {node.level}: {node.id}" if node.level and node.kind != "levels" else node.id
    expected = f"{pad}{label}" + ("  (must decide)" if node.id in must else "")
    deciding = on_path and node.deciding
    actual = f"{pad}{MARKS[node.value]} {node.id}  {condition_text(node)}" if node.kind != "levels" else \
        f"{pad}{MARKS[node.value]} {node.id}: levels, tried in order"
    if deciding and depth:
        actual += "  ◂ decides"
    rows.append((expected, actual, _DIFFERENT if node.id in must and not deciding else _SAME))
    if node.conclusion is not None:
        _rows(node.conclusion.root, depth + 1, deciding, must, rows)
    for child in node.children:
        _rows(child, depth + 1, deciding, must, rows)


def coverage_text(kb: m.KnowledgeBase, nodes: list[NodeCoverage]) -> str:
    """Per conclusion, each node's true/false/unknown counts; then the nodes no test reaches."""
    lines = ["", "Coverage: how many tests drove each condition node true, false and unknown"]
    width = max(len(n.node.id) + 2 * n.depth for n in nodes) if nodes else 10
    current = None
    for n in nodes:
        if n.conclusion != current:
            current = n.conclusion
            c = kb.find_conclusion(current)
            lines += ["", f"{c.id} ({c.file})", f"  {'node'.ljust(width)}  true false unknown"]
        gap = "  not reached by any test" if not n.reached else (
            f"  never {', '.join(n.missing)}" if n.missing else "")
        lines.append(f"  {('  ' * n.depth + n.node.id).ljust(width)}  {n.true:>4} {n.false:>5} {n.unknown:>7}{gap}")
    lines += ["", coverage_summary(nodes)]
    unreached = [n for n in nodes if not n.reached]
    if unreached:
        lines.append("Not reached by any test:")
        lines += [f"  {n.node.location}: {n.node.id} ({n.conclusion})" for n in unreached]
    return "\n".join(lines)


def coverage_summary(nodes: list[NodeCoverage]) -> str:
    full = sum(not n.missing for n in nodes)
    reached = sum(n.reached for n in nodes)
    return (f"{len(nodes)} condition nodes: {full} driven true, false and unknown; "
            f"{reached - full} missing a value; {len(nodes) - reached} reached by no test")


def to_json(kb: m.KnowledgeBase, results: list[TestResult], nodes: list[NodeCoverage] | None) -> str:
    failed = sum(not r.passed for r in results)
    data: dict = {
        "knowledge_base": {"name": kb.name, "version": kb.version, "sha256": kb.sha256},
        "passed": len(results) - failed, "failed": failed,
        "tests": [_test_data(kb, r) for r in results],
    }
    if nodes is not None:
        data["coverage"] = {
            "summary": {"nodes": len(nodes), "complete": sum(not n.missing for n in nodes),
                        "reached": sum(n.reached for n in nodes)},
            "nodes": [{"id": n.node.id, "conclusion": n.conclusion, "path": _relative(kb, n.node.location.path),
                       "line": n.node.location.line, "true": n.true, "false": n.false, "unknown": n.unknown,
                       "reached": n.reached} for n in nodes],
        }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _test_data(kb: m.KnowledgeBase, result: TestResult) -> dict:
    """One test's result; a failed one carries its whole trail, to compare with what was expected."""
    from explain.render_json import trail_data

    data = {"id": result.test.id, "conclusion": result.test.conclusion, "expect": result.test.expect,
            "outcome": result.outcome, "passed": result.passed, "missing_deciding": list(result.missing_deciding),
            "path": _relative(kb, result.test.location.path), "line": result.test.location.line}
    if not result.passed:
        data["trail"] = trail_data(result.trail)
    return data


def _relative(kb: m.KnowledgeBase, path: str) -> str:
    """Paths relative to the knowledge base, so the JSON does not depend on where it was run."""
    try:
        return Path(path).resolve().relative_to(Path(kb.root).resolve()).as_posix()
    except ValueError:
        return path
