"""Rule tests stored as data beside each pack: given facts, expect an outcome (and why)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from explain.trail import deciding_ids

from . import model as m
from .diagnostics import Collector, Location, did_you_mean
from .facts_loader import read_facts
from .inference import Engine
from .source import read_document
from .validation import check_schema


@dataclass(frozen=True)
class RuleTest:
    id: str
    description: str
    pack: str
    conclusion: str
    entity: m.Entity
    expect: str
    deciding: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class TestResult:
    test: RuleTest
    outcome: str
    missing_deciding: tuple[str, ...]
    trail: object  # ConclusionTrail

    @property
    def passed(self) -> bool:
        return self.outcome == self.test.expect and not self.missing_deciding


def load_rule_tests(kb: m.KnowledgeBase) -> tuple[list[RuleTest], Collector]:
    """Every rule test of every pack, with diagnostics for the malformed ones."""
    collector = Collector()
    tests: list[RuleTest] = []
    for pack in kb.packs.values():
        for path in sorted(Path(pack.tests_dir).glob("*.yaml")):
            tests.extend(_load_file(path, pack, kb, collector))
    seen: dict[str, Location] = {}
    for test in tests:
        if test.id in seen:
            collector.add(test.location, "BD203", f"rule test id '{test.id}' is also used at {seen[test.id]}")
        seen.setdefault(test.id, test.location)
    return tests, collector


def _load_file(path: Path, pack: m.Pack, kb: m.KnowledgeBase, collector: Collector) -> list[RuleTest]:
    document = read_document(path, collector)
    if document is None or not check_schema(document, "tests", collector):
        return []
    schema = kb.facts_for(pack.entity)
    every_node = {n.id for c in pack.conclusions.values() for n in c.nodes()}
    # conclusions of other packs for the same entity kind can be tested from here too
    conclusions = {cid: c for p in kb.packs_for(pack.entity) for cid, c in p.conclusions.items()}
    every_node |= {n.id for c in conclusions.values() for n in c.nodes()}
    found = []
    for i, item in enumerate(document.data["tests"]):
        where = document.at(("tests", i))
        conclusion = conclusions.get(item["conclusion"])
        if conclusion is None:
            collector.add(document.at(("tests", i, "conclusion")), "BD401",
                          f"unknown conclusion '{item['conclusion']}'",
                          suggestion=did_you_mean(item["conclusion"], conclusions))
            continue
        allowed = conclusion.outcomes
        if item["expect"] not in allowed:
            collector.add(document.at(("tests", i, "expect")), "BD402",
                          f"a {conclusion.kind} conclusion's outcome is one of: {', '.join(allowed)}")
            continue
        for j, node_id in enumerate(item.get("deciding", [])):
            if node_id not in every_node:
                collector.add(document.at(("tests", i, "deciding", j)), "BD401", f"unknown node '{node_id}'",
                              suggestion=did_you_mean(node_id, every_node))
        facts = read_facts(document, ("tests", i, "facts"), schema, collector)
        if facts is None:
            continue
        entity = m.Entity(pack.entity, item["id"], item["id"], item.get("description"), str(path),
                          m.frozen_map(facts))
        found.append(RuleTest(item["id"], item.get("description", ""), pack.id, conclusion.id, entity,
                              item["expect"], tuple(item.get("deciding", [])), where))
    return found


def run_rule_test(engine: Engine, test: RuleTest) -> TestResult:
    result = engine.evaluate(test.entity)
    trail = result.trails[test.conclusion]
    reached = deciding_ids(trail)
    missing = tuple(node_id for node_id in test.deciding if node_id not in reached)
    return TestResult(test, trail.outcome, missing, trail)


@dataclass(frozen=True)
class NodeCoverage:
    """How the rule tests drove one condition node: how many tests made it true, false, unknown."""

    conclusion: str
    node: m.Condition
    depth: int
    true: int = 0
    false: int = 0
    unknown: int = 0

    @property
    def reached(self) -> bool:
        return bool(self.true or self.false or self.unknown)

    @property
    def missing(self) -> tuple[str, ...]:
        """The values no test drove the node to."""
        return tuple(name for name in ("true", "false", "unknown") if not getattr(self, name))


def coverage(kb: m.KnowledgeBase, results: list[TestResult]) -> list[NodeCoverage]:
    """Per condition node of every conclusion (in knowledge-base order), the values the tests drove it to.

    A test reaches every node of the conclusion it tests and of the derived conclusions
    that conclusion reads (trails evaluate every node, not only the deciding ones).
    """
    seen: dict[str, dict[str, int]] = {}
    for result in results:
        values: dict[str, str] = {}
        _values(result.trail.root, values)
        for node_id, value in values.items():
            counts = seen.setdefault(node_id, {"true": 0, "false": 0, "unknown": 0})
            counts[value] += 1
    found = []
    for pack in kb.packs.values():
        for c in pack.conclusions.values():
            for tree in c.trees():
                for node, depth in _with_depth(tree, 0):
                    found.append(NodeCoverage(c.id, node, depth, **seen.get(node.id, {})))
    return found


def _values(node, into: dict[str, str]) -> None:
    """Node id -> value for every node of a trail, through the derived conclusions it reads."""
    into.setdefault(node.id, node.value.value)
    if node.conclusion is not None:
        _values(node.conclusion.root, into)
    for child in node.children:
        _values(child, into)


def _with_depth(node: m.Condition, depth: int):
    yield node, depth
    for child in m.children_of(node):
        yield from _with_depth(child, depth + 1)
