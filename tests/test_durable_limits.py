"""durable_rules' C core has fixed limits; the compiler keeps every knowledge base within them.

Each test builds a knowledge base that breaks one limit when compiled naively, and
checks that the engine decides it correctly (the trail agreement check runs too).
"""
from __future__ import annotations

import pytest

from engine import model as m
from engine.compiler import compile_program
from engine.diagnostics import Location
from engine.inference import Engine
from engine.rule_limits import GROUP_WIDTH, cost, need, width
from tests.conftest import make_entity

HERE = Location("<generated>")


def _kb(facts: dict, rules: list[m.Conclusion]) -> m.KnowledgeBase:
    pack = m.Pack("p", "p", "partner", "1.0.0", "", m.frozen_map(facts), m.frozen_map({c.id: c for c in rules}), "")
    return m.KnowledgeBase("generated", "1.0.0", "", "", m.frozen_map({"p": pack}), m.frozen_map({}), "", ())


def _answer(name: str) -> m.FactSpec:
    return m.FactSpec(name, "enum", "d", "q", None, ("yes", "partial", "no"), None, HERE)


def _is(node_id: str, fact: str, value: str) -> m.Comparison:
    return m.Comparison(node_id, "d", None, HERE, fact=fact, op="is", value=value)


def _rule(cid: str, kind: str, condition) -> m.Conclusion:
    return m.Conclusion(cid, kind, cid, "d", "1.0.0", "2026-01-01", "tests", None, condition, "p", f"{cid}.yaml",
                        1, "0" * 64)


def _assert_within_limits(program) -> None:
    for definition in program.definition.values():
        expression = definition["all"][0]["m"]
        assert cost(expression) <= 31 and need(expression) <= 52 and width(expression) <= 18


@pytest.mark.parametrize("count", [64, 65, 230])
def test_one_fact_matching_many_rules_at_once(count):
    """Error 303: the alpha network is walked with a stack of 64; every matching sibling test is pushed."""
    facts = {f"f{i}": _answer(f"f{i}") for i in range(count)}
    rules = [_rule(f"finding-{i}", m.DIAGNOSTIC, _is(f"n{i}", f"f{i}", "no")) for i in range(count)]
    kb = _kb(facts, rules)
    program = compile_program(kb, "partner")
    if count > GROUP_WIDTH:
        assert program.group_fields  # the stage's rules sit under group tests
    with Engine(kb) as engine:
        all_no = engine.evaluate(make_entity({f"f{i}": "no" for i in range(count)}))
        assert set(all_no.outcomes.values()) == {"found"}
        mixed = engine.evaluate(make_entity({f"f{i}": "no" if i % 2 else "yes" for i in range(count)}))
        assert [mixed.outcomes[f"finding-{i}"] for i in range(4)] == ["not_found", "found", "not_found", "found"]


def test_a_wide_or_is_split():
    """A set test over many values becomes one wide $or: its branches are all pushed at once."""
    values = tuple(f"v{i}" for i in range(80))
    facts = {"tool": m.FactSpec("tool", "enum", "d", "q", None, values, None, HERE)}
    rule = _rule("uses-tool", m.BADGE, m.Comparison("n0", "d", None, HERE, fact="tool", op="one_of", value=values[:70]))
    kb = _kb(facts, [rule])
    _assert_within_limits(compile_program(kb, "partner"))
    with Engine(kb) as engine:
        assert engine.evaluate(make_entity({"tool": "v69"})).outcomes["uses-tool"] == "granted"
        assert engine.evaluate(make_entity({"tool": "v70"})).outcomes["uses-tool"] == "not_granted"
        assert engine.evaluate(make_entity({})).outcomes["uses-tool"] == "undetermined"


def test_too_many_fields_for_one_fact_is_a_clear_error():
    """A fact holds at most 255 properties: a knowledge base needing more is refused before durable_rules."""
    from engine.diagnostics import InvalidInput

    facts = {f"f{i}": _answer(f"f{i}") for i in range(300)}
    rules = [_rule(f"finding-{i}", m.DIAGNOSTIC, _is(f"n{i}", f"f{i}", "no")) for i in range(300)]
    with Engine(_kb(facts, rules)) as engine, pytest.raises(InvalidInput) as raised:
        engine.evaluate(make_entity({}))
    assert "BD218" in str(raised.value) and "durable_rules allows at most 250" in str(raised.value)


def test_a_wide_includes_any_is_split_and_still_decides_once():
    """includes_any over a long list compiles to exclusive branches (one action however many
    members are present), which grow with the list: they are split within the limits too."""
    values = tuple(f"v{i}" for i in range(40))
    facts = {"groups": m.FactSpec("groups", "enum_list", "d", "q", None, values, None, HERE)}
    rule = _rule("reaches", m.BADGE, m.Comparison("n0", "d", None, HERE, fact="groups", op="includes_any",
                                                  value=values[:35]))
    kb = _kb(facts, [rule])
    _assert_within_limits(compile_program(kb, "partner"))
    with Engine(kb) as engine:
        for groups, outcome in [(values[:35], "granted"), (("v34",), "granted"), (("v0", "v20", "v39"), "granted"),
                                (values[35:], "not_granted"), ((), "not_granted")]:
            assert engine.evaluate(make_entity({"groups": groups})).outcomes["reaches"] == outcome, groups
        assert engine.evaluate(make_entity({})).outcomes["reaches"] == "undetermined"


def test_a_conjunction_drops_the_disjunctions_its_own_tests_imply():
    """A and (B or C) is A when A's tests include B's: the same rule, with no branches to fire on."""
    from engine.compiler import _and

    implied = {"$or": [{"a": 0}, {"$and": [{"b": 0}, {"c": 0}]}]}
    assert _and([implied, {"a": 0}, {"b": 0}]) == {"$and": [{"a": 0}, {"b": 0}]}
    assert _and([implied, {"b": 0}, {"c": 0}]) == {"$and": [{"b": 0}, {"c": 0}]}
    not_implied = {"$or": [{"a": 1}, {"$and": [{"b": 0}, {"d": 0}]}]}
    assert _and([not_implied, {"a": 0}, {"b": 0}]) == {"$and": [not_implied, {"a": 0}, {"b": 0}]}
    assert _and([implied, {"$or": [{"a": 0}, {"b": 0}]}]) == {"$and": [implied, {"$or": [{"a": 0}, {"b": 0}]}]}
