"""Compile condition trees into durable_rules rulesets, as data.

Three-valued logic on a two-valued engine: every conclusion becomes two rules, one
whose condition holds exactly when the tree is *true* and one exactly when it is
*false*. When neither fires, the conclusion is unknown. A missing field makes every
durable_rules comparison fail, so a fact that is absent leaves both rules silent,
which is what unknown needs.

Facts are encoded into one flat "stage" fact per entity and stage (see
``engine.stage_facts``). Derived conclusions are stratified: a conclusion in stratum k
reads the values of conclusions in strata < k, which the engine asserts into the
stage-k fact.

Rules are compiled with readable field names (``f_<fact>``, ``d_<conclusion>``) and then
renamed to the shortest names available (``a``, ``b``, ... ``aa``): durable_rules hashes
every field name of every fact it is given and copies the whole fact into the message of
every action that fires, so long names cost time on every entity. ``Program.field_names``
keeps the readable name of each.
"""
from __future__ import annotations

import functools
import itertools
import json
import string
from dataclasses import dataclass
from datetime import date
from itertools import combinations
from typing import Any, Iterator, Mapping

from . import model as m
from .rule_limits import MAX_FIELDS, ExpressionBudget, LimitError, group_tests

# A rule fires once per true branch of each $or it holds; with a cap, the core hands all of one
# fact's results for a rule to a single action (one call from Python) instead of one action each.
RESULTS_PER_ACTION = 1000
STAGE_FIELD = "s"  # every stage fact's stage number, the first test of every rule
RESERVED_FIELDS = frozenset({STAGE_FIELD, "sid", "id"})  # durable_rules reads sid and id itself


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


def _join(op: str, parts: list) -> dict:
    """``{op: parts}``, flattening nested ``op``s: each operator costs durable_rules budget."""
    flat: list = []
    for part in parts:
        flat.extend(part[op] if set(part) == {op} else [part])
    return flat[0] if len(flat) == 1 else {op: flat}


def _and(parts: list) -> dict:
    return _absorbed(_join("$and", parts))


def _tests(expression: dict) -> frozenset[str] | None:
    """The tests of an expression that is one test or a conjunction of tests (as text); None
    for one that holds a disjunction."""
    if "$or" in expression:
        return None
    if "$and" not in expression:
        return frozenset([json.dumps(expression, sort_keys=True)])
    found: set[str] = set()
    for part in expression["$and"]:
        tests = _tests(part)
        if tests is None:
            return None
        found |= tests
    return frozenset(found)


def _absorbed(expression: dict) -> dict:
    """A conjunction without the disjunctions its own tests imply: A and (B or C) is A when
    every test of B is one of A's. The same rule, but durable_rules fires a rule once per
    true branch of each disjunction: a graded conclusion's "none of the levels" (every
    level's false side) otherwise fired nine times for one partner."""
    if "$and" not in expression:
        return expression
    parts = expression["$and"]
    tests = frozenset().union(*filter(None, map(_tests, parts)))
    kept = [part for part in parts
            if "$or" not in part or not any((branch_tests := _tests(branch)) is not None and branch_tests <= tests
                                             for branch in part["$or"])]
    return expression if len(kept) == len(parts) else _join("$and", kept)


def _or(parts: list) -> dict:
    return _join("$or", parts)


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
            if node.outcomes is None:
                return _eq(field, 1), _eq(field, 0)
            # a graded conclusion's field holds its outcome; it is absent while undetermined,
            # and an absent field fails every comparison ($neq too), so neither side holds then
            return (_or([_eq(field, o) for o in node.outcomes]),
                    _and([_cmp("$neq", field, o) for o in node.outcomes]))
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
            return _first_of(has, lacks), _and(lacks)
        if op == "includes_all":
            return _and(has), _first_of(lacks, has)
        return _and(lacks), _first_of(has, lacks)  # includes_none


def _first_of(tests: list[dict], opposites: list[dict]) -> dict:
    """Any of ``tests``, as branches only one of which can hold: branch i is test i with the
    opposite of every test before it. durable_rules fires a rule once per true branch; these
    branches are exclusive because a list's member fields are present all together or not at
    all (``opposites[i]`` holds exactly when ``tests[i]`` does not)."""
    return _or([_and([*opposites[:i], test]) for i, test in enumerate(tests)])


@dataclass(frozen=True)
class RuleName:
    """What a durable_rules rule stands for: one outcome of one conclusion, or a part of a
    condition too large for one rule (it sets ``sets_field`` for later stages)."""

    conclusion: str | None = None
    outcome: str | None = None
    sets_field: str | None = None


def outcome_expressions(compiler: "TreeCompiler", conclusion: m.Conclusion) -> list[tuple[str, dict]]:
    """(outcome, expression that holds exactly when the conclusion reaches it), in order.

    When no expression holds, the conclusion is undetermined. For a graded conclusion,
    level k is reached when its condition holds and every earlier level's does not.
    """
    spec = m.KINDS[conclusion.kind]
    if not conclusion.levels:
        true, false = compiler.expressions(conclusion.condition)
        return [(spec.when_true, true), (spec.when_false, false)]
    found: list[tuple[str, dict]] = []
    earlier_false: list[dict] = []
    for level in conclusion.levels:
        true, false = compiler.expressions(level.condition)
        found.append((level.outcome, _and(earlier_false + [true])))
        earlier_false.append(false)
    found.append((conclusion.otherwise, _and(earlier_false)))
    return found


def decided_value(conclusion: m.Conclusion, outcome: str):
    """How a decided conclusion is written into the next strata's fact (what ConclusionRef reads)."""
    if conclusion.levels:
        return outcome
    return 1 if outcome == m.KINDS[conclusion.kind].when_true else 0


@dataclass(frozen=True)
class Program:
    """Everything needed to run one entity kind's conclusions on durable_rules."""

    entity: str
    facts: Mapping[str, m.FactSpec]
    conclusions: tuple[m.Conclusion, ...]  # dependencies first
    strata: tuple[tuple[str, ...], ...]  # per stage: the conclusions decided once it has run
    definition: Mapping[str, dict]  # the durable_rules ruleset (durable_backend only reads it)
    rule_names: Mapping[str, RuleName]
    read_facts: frozenset[str]  # facts some rule reads: only these are sent to durable_rules
    read_members: Mapping[str, tuple[str, ...]]  # enum_list fact -> the values some rule tests
    group_fields: Mapping[str, int]  # constant fields of every stage fact that rules' group tests read
    stage_reads: tuple[frozenset[str], ...]  # per stage: the fields its rules read (only these are sent)
    field_names: Mapping[str, str]  # readable field name -> the short one rules use

    @functools.cached_property
    def by_id(self) -> Mapping[str, m.Conclusion]:
        """The conclusions by id, in the same order (built once, not per entity)."""
        return m.frozen_map({c.id: c for c in self.conclusions})

    @functools.cached_property
    def reported(self) -> tuple[m.Conclusion, ...]:
        """The conclusions shown to users as decisions, in evaluation order."""
        return tuple(c for c in self.conclusions if c.is_reported)

    @functools.cached_property
    def node_evaluator(self):
        """Every condition node's value for an entity, in one call (``explain.node_values``)."""
        from explain.node_values import NodeEvaluator

        return NodeEvaluator(self.conclusions, self.facts)

    @functools.cached_property
    def rule_actions(self) -> Mapping[str, tuple[str | None, str | None, str | None]]:
        """Rule name -> (conclusion, outcome, field it sets): ``rule_names`` as plain tuples, read per action."""
        return {name: (meaning.conclusion, meaning.outcome, meaning.sets_field)
                for name, meaning in self.rule_names.items()}

    @functools.cached_property
    def stage_facts(self):
        """How an entity becomes each stage's fact (built once, not per entity)."""
        from .stage_facts import StageFacts

        return StageFacts(self)


def short_names() -> Iterator[str]:
    """a, b, ..., z, aa, ab, ...: the shortest field names, less those reserved."""
    for length in itertools.count(1):
        for letters in itertools.product(string.ascii_lowercase, repeat=length):
            name = "".join(letters)
            if name not in RESERVED_FIELDS:
                yield name


def renamed(expression, names: Mapping[str, str]):
    """``expression`` with every field it reads renamed by ``names``."""
    if isinstance(expression, list):
        return [renamed(item, names) for item in expression]
    out = {}
    for key, value in expression.items():
        if key.startswith("$"):  # {"$and": [...]}, {"$or": [...]} or {op: {field: value}}
            out[key] = renamed(value, names)
        elif isinstance(value, dict):  # {field: {"$m": other field}}
            out[names[key]] = {"$m": names[value["$m"]]}
        else:
            out[names[key]] = value
    return out


def compile_program(kb: m.KnowledgeBase, entity: str) -> Program:
    """Compile every conclusion of the packs that evaluate ``entity`` into one ruleset.

    Each rule is placed at the first stage where every field it reads is known: facts
    from stage 0, a conclusion's value from the stage after it is decided, and a split
    part's field from the stage after the part's own rule.
    """
    facts = kb.facts_for(entity)
    conclusions = [c for pack in kb.packs_for(entity) for c in pack.conclusions.values()]
    order = _dependency_order(conclusions)
    compiler = TreeCompiler(facts)
    budget = ExpressionBudget()
    ready: dict[str, int] = {}  # field -> first stage at which it can be read
    staged: list[tuple[int, str, dict, RuleName]] = []
    decided_at: dict[str, int] = {}
    for index, conclusion in enumerate(order):
        rules = []
        for number, (outcome, expression) in enumerate(outcome_expressions(compiler, conclusion)):
            fitted = budget.fit(expression)
            rules.append((f"c{index}o{number}", fitted, RuleName(conclusion.id, outcome)))
        for name, part, field in budget.take_parts():
            stage = _stage_of(part, ready)
            staged.append((stage, name, part, RuleName(sets_field=field)))
            ready[field] = stage + 1
        stage = max(_stage_of(expression, ready) for _, expression, _ in rules)
        staged.extend((stage, name, expression, meaning) for name, expression, meaning in rules)
        decided_at[conclusion.id] = stage
        ready[conclusion_field(conclusion.id)] = stage + 1
    depth = 1 + max((stage for stage, *_ in staged), default=-1)
    readable: dict[str, dict] = {}
    meanings: dict[str, RuleName] = {}
    group_fields: dict[str, int] = {}
    stage_reads: list[set[str]] = []
    staged.sort(key=lambda item: (item[0], item[1]))
    for k in range(depth):
        here = [item for item in staged if item[0] == k]
        prefixes, fields = group_tests([expression for _, _, expression, _ in here])
        group_fields.update(fields)
        for (_, name, expression, meaning), prefix in zip(here, prefixes):
            readable[name] = _and([{STAGE_FIELD: k}, *prefix, expression])
            meanings[name] = meaning
        # A stage's fact carries only what its rules read: durable_rules parses every field
        # of every fact and echoes the whole fact with each action, so the rest is pure cost.
        stage_reads.append(set().union(*(fields_read(readable[name]) for _, name, _, _ in here)))
    read = set().union(*stage_reads)  # every field some rule reads (the stage number among them)
    fields = len(read | {STAGE_FIELD}) + 1  # and sid
    if fields > MAX_FIELDS:
        raise LimitError(f"the '{entity}' packs need {fields} fields in one durable_rules fact; "
                         f"durable_rules allows at most {MAX_FIELDS}")
    names = dict(zip(sorted(read - {STAGE_FIELD}), short_names()))
    names[STAGE_FIELD] = STAGE_FIELD
    definition = {name: {"all": [{"m": renamed(expression, names)}], "cap": RESULTS_PER_ACTION}
                  for name, expression in readable.items()}
    rule_names = {name: RuleName(meaning.conclusion, meaning.outcome,
                                 names.get(meaning.sets_field) if meaning.sets_field else None)
                  for name, meaning in meanings.items()}
    strata = tuple(tuple(c.id for c in order if decided_at[c.id] == k) for k in range(depth))
    read_facts, read_members = _reads(order)
    return Program(entity, m.frozen_map(facts), tuple(order), strata, m.frozen_map(definition),
                   m.frozen_map(rule_names), read_facts, m.frozen_map(read_members),
                   m.frozen_map({names[f]: 1 for f in group_fields}),
                   tuple(frozenset(names[f] for f in reads) for reads in stage_reads), m.frozen_map(names))


def _stage_of(expression: dict, ready: Mapping[str, int]) -> int:
    """The first stage at which every field ``expression`` reads is available."""
    return max((ready.get(field, 0) for field in fields_read(expression)), default=0)


def fields_read(expression) -> set[str]:
    """Every field name an expression reads."""
    found: set[str] = set()
    if isinstance(expression, list):
        for item in expression:
            found |= fields_read(item)
    elif isinstance(expression, dict):
        for key, value in expression.items():
            if key in ("$and", "$or") or key.startswith("$"):
                found |= fields_read(value)
            else:
                found.add(key)
                if isinstance(value, dict) and "$m" in value:
                    found.add(value["$m"])
    return found


def _reads(order: list[m.Conclusion]) -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    facts: set[str] = set()
    members: dict[str, set[str]] = {}
    for conclusion in order:
        for node in conclusion.nodes():
            if isinstance(node, m.Comparison):
                facts.update(f for f in (node.fact, node.other_fact) if f)
                if node.op in ("includes", "excludes", "includes_any", "includes_all", "includes_none"):
                    wanted = node.value if isinstance(node.value, tuple) else (node.value,)
                    members.setdefault(node.fact, set()).update(wanted)
    return frozenset(facts), {name: tuple(sorted(values)) for name, values in sorted(members.items())}


def _dependency_order(conclusions: list[m.Conclusion]) -> list[m.Conclusion]:
    by_id = {c.id: c for c in conclusions}
    done: dict[str, m.Conclusion] = {}

    def visit(c: m.Conclusion) -> None:
        if c.id in done:
            return
        for ref in c.references():
            if ref in by_id:
                visit(by_id[ref])
        done[c.id] = c

    for c in conclusions:
        visit(c)
    return list(done.values())
