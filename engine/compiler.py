"""Compile condition trees into durable_rules rulesets, as data.

Three-valued logic on a two-valued engine: every conclusion becomes two rules, one
whose condition holds exactly when the tree is *true* and one exactly when it is
*false*. When neither fires, the conclusion is unknown. A missing field makes every
durable_rules comparison fail, so a fact that is absent leaves both rules silent,
which is what unknown needs.

Facts are encoded into one flat "stage" fact per entity (see ``encode_entity``).
Derived conclusions are stratified: a conclusion in stratum k reads the values of
conclusions in strata < k, which the engine asserts into the stage-k fact.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import combinations
from typing import Any, Mapping

from . import model as m

STAGE = "stage"


def fact_field(name: str) -> str:
    return "f_" + name


def member_field(name: str, value: str) -> str:
    return f"f_{name}__{value}"


def conclusion_field(conclusion_id: str) -> str:
    return "d_" + conclusion_id.replace("-", "_")


def encode_scalar(spec_type: str, value: Any):
    """A fact or threshold value as durable_rules compares it (validated beforehand)."""
    if spec_type == "boolean":
        return 1 if value else 0
    if spec_type == "date":
        return date.fromisoformat(value).toordinal()
    if spec_type in ("number", "percentage"):
        return float(value)
    return value  # integer, enum


def encode_entity(entity: m.Entity, facts: Mapping[str, m.FactSpec]) -> dict:
    """Flat field -> value mapping for one entity; unknown facts are simply left out."""
    fields: dict[str, Any] = {}
    for name, fact in entity.facts.items():
        spec = facts[name]
        if spec.type == "text":
            continue
        if spec.type == "enum_list":
            present = set(fact.value)
            for value in spec.values:
                fields[member_field(name, value)] = 1 if value in present else 0
        else:
            fields[fact_field(name)] = encode_scalar(spec.type, fact.value)
    return fields


def _and(parts: list) -> dict:
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _or(parts: list) -> dict:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _eq(field: str, value) -> dict:
    return {field: value}


def _cmp(op: str, field: str, value) -> dict:
    return {op: {field: value}}


_NUMERIC = {  # op -> (durable op when true, durable op when false)
    "at_least": ("$gte", "$lt"),
    "more_than": ("$gt", "$lte"),
    "at_most": ("$lte", "$gt"),
    "less_than": ("$lt", "$gte"),
    "equals": ("$eq", "$neq"),
    "not_equals": ("$neq", "$eq"),
}


class TreeCompiler:
    """Builds the true-expression and false-expression of a condition tree."""

    def __init__(self, facts: Mapping[str, m.FactSpec]):
        self.facts = facts

    def expressions(self, node: m.Condition) -> tuple[dict, dict]:
        """(holds when true, holds when false) for ``node``."""
        if isinstance(node, m.AllOf):
            parts = [self.expressions(c) for c in node.children]
            return _and([t for t, _ in parts]), _or([f for _, f in parts])
        if isinstance(node, m.AnyOf):
            parts = [self.expressions(c) for c in node.children]
            return _or([t for t, _ in parts]), _and([f for _, f in parts])
        if isinstance(node, m.Not):
            true, false = self.expressions(node.child)
            return false, true
        if isinstance(node, m.AtLeast):
            parts = [self.expressions(c) for c in node.children]
            needed_false = len(parts) - node.count + 1
            true = _or([_and([parts[i][0] for i in group]) for group in combinations(range(len(parts)), node.count)])
            false = _or([_and([parts[i][1] for i in group])
                         for group in combinations(range(len(parts)), needed_false)])
            return true, false
        if isinstance(node, m.ConclusionRef):
            field = conclusion_field(node.conclusion)
            return _eq(field, 1), _eq(field, 0)
        return self.comparison(node)

    def comparison(self, node: m.Comparison) -> tuple[dict, dict]:
        spec = self.facts[node.fact]
        field = fact_field(node.fact)
        op = node.op
        if node.other_fact is not None:
            # durable_rules treats a missing referenced field as matching any comparison,
            # so both fields must be required explicitly.
            other = fact_field(node.other_fact)
            present = [{"$ex": {field: 1}}, {"$ex": {other: 1}}]
            on_true, on_false = _NUMERIC[op]
            return (_and(present + [_cmp(on_true, field, {"$m": other})]),
                    _and(present + [_cmp(on_false, field, {"$m": other})]))
        if op in _NUMERIC:
            threshold = encode_scalar(spec.type, node.value)
            on_true, on_false = _NUMERIC[op]
            true = _eq(field, threshold) if on_true == "$eq" else _cmp(on_true, field, threshold)
            false = _eq(field, threshold) if on_false == "$eq" else _cmp(on_false, field, threshold)
            return true, false
        if spec.type == "boolean":
            wanted = encode_scalar("boolean", node.value)
            return _eq(field, wanted), _eq(field, 1 - wanted)
        if op in ("is", "is_not"):
            same, differs = _eq(field, node.value), _cmp("$neq", field, node.value)
            return (same, differs) if op == "is" else (differs, same)
        if op in ("one_of", "not_one_of"):
            inside = _or([_eq(field, v) for v in node.value])
            outside = _and([_cmp("$neq", field, v) for v in node.value])
            return (inside, outside) if op == "one_of" else (outside, inside)
        name = node.fact
        if op in ("includes", "excludes"):
            has, lacks = _eq(member_field(name, node.value), 1), _eq(member_field(name, node.value), 0)
            return (has, lacks) if op == "includes" else (lacks, has)
        has = [_eq(member_field(name, v), 1) for v in node.value]
        lacks = [_eq(member_field(name, v), 0) for v in node.value]
        if op == "includes_any":
            return _or(has), _and(lacks)
        if op == "includes_all":
            return _and(has), _or(lacks)
        return _and(lacks), _or(has)  # includes_none


@dataclass(frozen=True)
class RuleName:
    """What a durable_rules rule name stands for."""

    conclusion: str
    holds: bool | None  # None for a stratum's sentinel


@dataclass(frozen=True)
class Program:
    """Everything needed to run one entity kind's conclusions on durable_rules."""

    entity: str
    facts: Mapping[str, m.FactSpec]
    conclusions: tuple[m.Conclusion, ...]  # dependencies first
    strata: tuple[tuple[str, ...], ...]  # conclusion ids, per stratum
    definition: Mapping[str, dict]  # the durable_rules ruleset, never handed out to mutate
    rule_names: Mapping[str, RuleName]

    def fresh_definition(self) -> dict:
        """A deep copy: durable_rules' Python layer mutates what it is given."""
        import copy

        return copy.deepcopy(dict(self.definition))


def sentinel_name(stratum: int) -> str:
    return f"z{stratum}"


def compile_program(kb: m.KnowledgeBase, entity: str) -> Program:
    """Compile every conclusion of the packs that evaluate ``entity`` into one ruleset."""
    facts: dict[str, m.FactSpec] = {}
    conclusions: list[m.Conclusion] = []
    for pack in kb.packs_for(entity):
        facts.update(pack.facts)
        conclusions.extend(pack.conclusions.values())
    order = _dependency_order(conclusions)
    stratum_of: dict[str, int] = {}
    for conclusion in order:
        refs = [n.conclusion for n in m.walk(conclusion.condition) if isinstance(n, m.ConclusionRef)]
        stratum_of[conclusion.id] = 1 + max((stratum_of[r] for r in refs), default=-1)
    depth = 1 + max(stratum_of.values(), default=-1)
    strata = tuple(tuple(c.id for c in order if stratum_of[c.id] == k) for k in range(depth))
    compiler = TreeCompiler(facts)
    definition: dict[str, dict] = {}
    names: dict[str, RuleName] = {}
    for index, conclusion in enumerate(order):
        true, false = compiler.expressions(conclusion.condition)
        stage = [{"t": STAGE}, {"s": stratum_of[conclusion.id]}]
        for polarity, expression in ((True, true), (False, false)):
            name = f"c{index}{'t' if polarity else 'f'}"
            definition[name] = {"all": [{"m": {"$and": stage + [expression]}}]}
            names[name] = RuleName(conclusion.id, polarity)
    for k in range(depth):
        # Every stage fact matches its sentinel: durable_rules then never reports the
        # fact as unhandled, and the sentinel firing proves the stage was evaluated.
        definition[sentinel_name(k)] = {"pri": 1000, "all": [{"m": {"$and": [{"t": STAGE}, {"s": k}]}}]}
        names[sentinel_name(k)] = RuleName("", None)
    return Program(entity, m.frozen_map(facts), tuple(order), strata, m.frozen_map(definition), m.frozen_map(names))


def _dependency_order(conclusions: list[m.Conclusion]) -> list[m.Conclusion]:
    by_id = {c.id: c for c in conclusions}
    done: dict[str, m.Conclusion] = {}

    def visit(c: m.Conclusion) -> None:
        if c.id in done:
            return
        for node in m.walk(c.condition):
            if isinstance(node, m.ConclusionRef) and node.conclusion in by_id:
                visit(by_id[node.conclusion])
        done[c.id] = c

    for c in conclusions:
        visit(c)
    return list(done.values())
