"""Run every rule test stored as data beside the bundled packs, each as its own pytest case.

Policy staff add cases to ``knowledge_base/<pack>/tests/*.yaml``; they show up here by id
without touching Python.
"""
from __future__ import annotations

import pytest

from engine import load_knowledge_base
from engine.inference import Engine
from engine.rule_tests import load_rule_tests, run_rule_test
from explain.words import summary
from tests.conftest import BUNDLED_KB

_KB = load_knowledge_base(BUNDLED_KB)
_TESTS, _COLLECTOR = load_rule_tests(_KB)


@pytest.fixture(scope="module")
def engine():
    with Engine(_KB) as engine:
        yield engine


def test_rule_tests_load_without_diagnostics():
    assert [d.format() for d in _COLLECTOR.items] == []
    assert _TESTS, "the bundled knowledge base has no rule tests"


def test_every_badge_has_rule_tests_for_each_outcome():
    """Each badge is pinned down by at least one granted and one not_granted case."""
    badges = [c.id for p in _KB.packs.values() for c in p.conclusions.values() if c.is_badge]
    covered = {(t.conclusion, t.expect) for t in _TESTS}
    missing = [(b, o) for b in badges for o in ("granted", "not_granted") if (b, o) not in covered]
    assert missing == []


@pytest.mark.parametrize("test", _TESTS, ids=[t.id for t in _TESTS])
def test_rule(engine, test):
    result = run_rule_test(engine, test)
    assert result.passed, (
        f"{test.location}: {test.conclusion} expected {test.expect}, got {result.outcome}"
        + (f"; not among the deciding conditions: {', '.join(result.missing_deciding)}"
           if result.missing_deciding else "")
        + f"\n{summary(result.trail)}"
    )
