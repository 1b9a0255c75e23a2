"""What would it take: the smallest sets of fact changes that would make a conclusion hold.

The search works on the rule model, not on the trail. Each condition node, asked to
come out true (or false), yields its *ways*: alternative sets of constraints, each
naming for some facts the values they would need (``explain.fact_domains``). ``all``
combines its children's ways, ``any`` offers each child's, ``not`` asks its child for
the opposite, ``at_least`` combines every big-enough group of children, and a reference
to another conclusion is expanded into that conclusion's own tree (for a graded one:
one way per named outcome, each also needing every earlier level not to hold). Ways
that need a fact at incompatible values are dropped; a way no weaker than another one
is dropped too, so the search stays small and exact.

A way *changes* the facts it constrains whose present value does not fit (unknown facts
are supplied, known ones overturned). The change sets no other change set is a proper
subset of are the minimal ones. Each one shown is proved by evaluating the entity, with
the proposed values put in, on the real engine.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from engine import model as m
from engine.diagnostics import Location

from .fact_domains import NEGATED, REVERSED, Domain, base_domain, comparison_domains, failing_domains, point
from .trail import compare

SHOWN = 5  # change sets shown by default; the rest are counted
MAX_WAYS = 20_000  # a search this wide means a rule base far beyond anything reviewed by hand
# Two-valued kinds whose "true" outcome a partner wants to reach, and so for which "what would it
# take" is asked (diagnostics and recommendations are findings about a partner, not goals). Graded
# conclusions are asked what would take them one level up.
QUALIFYING_KINDS = (m.BADGE, m.DERIVED)
RELATION_WORDS = {"at_least": "at least", "more_than": "more than", "at_most": "at most", "less_than": "less than",
                  "equals": "equal to", "not_equals": "other than", "is": "the same as", "is_not": "other than"}
HYPOTHETICAL = Location("<what would it take>")

__all__ = ["Change", "ChangeSet", "Counterfactuals", "SearchTooWide", "WhatItTakes", "target_outcome"]


class SearchTooWide(RuntimeError):
    """The condition trees combine into more ways than the search is allowed to hold."""


@dataclass(frozen=True)
class Way:
    """One way to make a node come out as asked: a domain per fact, plus fact-to-fact relations."""

    domains: tuple[tuple[str, Domain], ...]  # sorted by fact name
    relations: frozenset = frozenset()  # (fact, op, other_fact): both to be set, related so

    def merge(self, other: "Way") -> "Way | str":
        """Both ways at once, or the name of a fact they need at incompatible values."""
        mine = dict(self.domains)
        for fact, domain in other.domains:
            if fact in mine:
                both = mine[fact].intersect(domain)
                if both is None:
                    return fact
                mine[fact] = both
            else:
                mine[fact] = domain
        return Way(tuple(sorted(mine.items())), self.relations | other.relations)

    def at_least_as_weak(self, other: "Way") -> bool:
        """Everything that satisfies ``other`` satisfies this way too."""
        theirs = dict(other.domains)
        return self.relations <= other.relations and all(
            fact in theirs and theirs[fact].within(domain) for fact, domain in self.domains)


def prune(ways: list[Way]) -> list[Way]:
    """Drop duplicates and every way some other way is weaker than (it can never do better)."""
    unique = list(dict.fromkeys(ways))
    if len(unique) > MAX_WAYS:
        raise SearchTooWide(f"more than {MAX_WAYS} ways to combine")
    unique.sort(key=lambda w: len(w.domains))
    kept: list[tuple[frozenset, Way]] = []
    for way in unique:
        facts = frozenset(fact for fact, _ in way.domains)
        # a weaker way constrains no fact this one leaves free: test that cheaply first
        if not any(mine <= facts and k.at_least_as_weak(way) for mine, k in kept):
            kept.append((facts, way))
    return [way for _, way in kept]


class WaySearch:
    """Finds the ways to make conditions true or false for one pack of conclusions."""

    def __init__(self, conclusions: Mapping[str, m.Conclusion], facts: Mapping[str, m.FactSpec],
                 entity: m.Entity):
        self.conclusions = conclusions
        self.facts = facts
        self.entity = entity
        self.conflicts: list[str] = []  # facts found needed at incompatible values
        self._memo: dict[tuple[str, bool], list[Way]] = {}

    def combine(self, groups: list[list[Way]]) -> list[Way]:
        """Ways that satisfy one way of every group."""
        result = [Way(())]
        for group in groups:
            if len(result) * len(group) > 10 * MAX_WAYS:
                raise SearchTooWide(f"more than {MAX_WAYS} ways to combine")
            merged: list[Way] = []
            for a, b in itertools.product(result, group):
                both = a.merge(b)
                if isinstance(both, Way):
                    merged.append(both)
                elif both not in self.conflicts:
                    self.conflicts.append(both)
            result = prune(merged)
            if not result:
                break
        return result

    def node(self, node: m.Condition, want: bool) -> list[Way]:
        key = (node.id, want)
        if key not in self._memo:
            self._memo[key] = prune(self._node(node, want))
        return self._memo[key]

    def _node(self, node: m.Condition, want: bool) -> list[Way]:
        if isinstance(node, m.Comparison):
            return self.comparison(node, want)
        if isinstance(node, m.ConclusionRef):
            return self.reference(node, want)
        if isinstance(node, m.Not):
            return self.node(node.child, not want)
        children = m.children_of(node)
        if isinstance(node, m.AtLeast):
            # true: some `count` children true; false: more than len - count children false
            size = node.count if want else len(children) - node.count + 1
            return [w for group in itertools.combinations(children, size)
                    for w in self.combine([self.node(c, want) for c in group])]
        every = isinstance(node, m.AllOf) == want  # all true / any false: every child must agree
        if every:
            return self.combine([self.node(c, want) for c in children])
        return [w for c in children for w in self.node(c, want)]

    def comparison(self, node: m.Comparison, want: bool) -> list[Way]:
        spec = self.facts[node.fact]
        shape = comparison_domains if want else failing_domains
        if node.other_fact is None:
            return [Way(((node.fact, d),)) for d in shape(spec, node.op, node.value)]
        # fact against fact: move one side against the other's present value, or set both
        # (the only way when neither is known, or when neither can move alone).
        other = self.facts[node.other_fact]
        op = node.op if want else NEGATED[node.op]  # ordered types: a known pair fails exactly so
        mine, theirs = self.entity.facts.get(node.fact), self.entity.facts.get(node.other_fact)
        ways: list[Way] = []
        if theirs is not None:
            ways += [Way(tuple(sorted([(node.fact, d), (node.other_fact, point(other, theirs.value))])))
                     for d in comparison_domains(spec, op, theirs.value)]
        if mine is not None:
            ways += [Way(tuple(sorted([(node.other_fact, d), (node.fact, point(spec, mine.value))])))
                     for d in comparison_domains(other, REVERSED[op], mine.value)]
        ways.append(Way(tuple(sorted([(node.fact, base_domain(spec)), (node.other_fact, base_domain(other))])),
                        frozenset({(node.fact, op, node.other_fact)})))
        return ways

    def reference(self, node: m.ConclusionRef, want: bool) -> list[Way]:
        target = self.conclusions[node.conclusion]
        if not target.levels:
            return self.node(target.condition, want)
        # a graded conclusion holds once it reaches any outcome, unless the reference names some
        wanted = set(node.outcomes or [level.outcome for level in target.levels] + [target.otherwise])
        reachable = [level.outcome for level in target.levels] + [target.otherwise]
        return [w for outcome in reachable if (outcome in wanted) == want
                for w in self.reach(target, outcome)]

    def reach(self, graded: m.Conclusion, outcome: str) -> list[Way]:
        """Ways for a graded conclusion to reach ``outcome``: that level holds, every earlier one does not."""
        groups: list[list[Way]] = []
        for level in graded.levels:
            if level.outcome == outcome:
                groups.append(self.node(level.condition, True))
                break
            groups.append(self.node(level.condition, False))
        return self.combine(groups)


@dataclass(frozen=True)
class Change:
    """One fact to supply (it is unknown) or to change (it overturns a known value)."""

    fact: str
    type: str
    unit: str | None
    known: bool
    current: Any  # None when unknown
    evidence: m.Evidence | None  # behind the current value
    requirement: str  # the values that would do, e.g. "at least 50%"
    value: Any  # the value the engine was given to prove it
    # the values that would do, as a domain (None when they depend on another fact)
    domain: Domain | None = field(default=None, compare=False, repr=False)

    @property
    def action(self) -> str:
        return "change" if self.known else "supply"


@dataclass(frozen=True)
class ChangeSet:
    changes: tuple[Change, ...]  # by fact name

    @property
    def facts(self) -> tuple[str, ...]:
        return tuple(c.fact for c in self.changes)

    @property
    def overturns(self) -> int:
        """How many known facts the set overturns."""
        return sum(c.known for c in self.changes)


@dataclass(frozen=True)
class WhatItTakes:
    """The minimal change sets that would bring a conclusion to its ``target`` outcome."""

    conclusion: str
    name: str
    kind: str
    outcome: str  # where it stands now
    target: str
    change_sets: tuple[ChangeSet, ...]  # shown: each proved on the engine
    more: int  # minimal change sets found but not shown
    conflicts: tuple[str, ...]  # facts needed at incompatible values (why nothing may work)
    unproved: int = 0  # candidates the engine did not confirm (not shown; a defect if ever > 0)
    too_wide: bool = False  # the rules combine in more ways than the search may hold: nothing is known

    @property
    def possible(self) -> bool | None:
        """Whether some change would do; None when the search was too wide to tell."""
        return None if self.too_wide else bool(self.change_sets)

    @property
    def total(self) -> int:
        return len(self.change_sets) + self.more


def target_outcome(conclusion: m.Conclusion, outcome: str) -> str | None:
    """The outcome worth reaching from ``outcome``, or None when there is none (or the question does not apply).

    Two-valued kinds aim at their "true" outcome; a graded conclusion at the next level up
    (its top level when undetermined).
    """
    if m.KINDS[conclusion.kind].graded:
        ladder = [level.outcome for level in conclusion.levels] + [conclusion.otherwise]
        if outcome == m.UNDETERMINED:
            return ladder[0]
        return ladder[ladder.index(outcome) - 1] if ladder.index(outcome) > 0 else None
    if conclusion.kind not in QUALIFYING_KINDS or outcome == m.KINDS[conclusion.kind].when_true:
        return None
    return m.KINDS[conclusion.kind].when_true


class Counterfactuals:
    """Answers "what would it take" for the entities of one engine (reusing its compiled rules)."""

    def __init__(self, engine, shown: int = SHOWN):
        self.engine = engine
        self.shown = shown

    def for_result(self, result) -> dict[str, WhatItTakes]:
        """Every reported decision of ``result`` not at its target, by conclusion id."""
        found = {}
        for decision in result.decisions:
            answer = self.conclusion(result.entity, decision.conclusion.id, result.trails[decision.conclusion.id].outcome)
            if answer is not None:
                found[decision.conclusion.id] = answer
        return found

    def conclusion(self, entity: m.Entity, conclusion_id: str, outcome: str) -> WhatItTakes | None:
        """What would bring ``conclusion_id`` (now at ``outcome``) to its target, or None if it is there or has none."""
        conclusions, facts = pack_model(self.engine.kb, entity.kind)
        conclusion = conclusions[conclusion_id]
        target = target_outcome(conclusion, outcome)
        if target is None:
            return None
        search = WaySearch(conclusions, facts, entity)
        try:
            ways = search.reach(conclusion, target) if conclusion.levels else search.node(conclusion.condition, True)
        except SearchTooWide:
            return WhatItTakes(conclusion.id, conclusion.name, conclusion.kind, outcome, target, (), 0, (),
                               too_wide=True)
        candidates = minimal(c for c in (change_set(way, entity, facts) for way in ways) if c is not None)
        shown, unproved = [], 0
        for candidate in candidates:
            if len(shown) == self.shown:
                break
            if self.proves(entity, conclusion_id, target, candidate):
                shown.append(candidate)
            else:
                unproved += 1
        more = len(candidates) - len(shown) - unproved
        return WhatItTakes(conclusion.id, conclusion.name, conclusion.kind, outcome, target, tuple(shown),
                           more, tuple(sorted(search.conflicts)) if not shown else (), unproved)

    def proves(self, entity: m.Entity, conclusion_id: str, target: str, candidate: ChangeSet) -> bool:
        """Evaluate the entity with the proposed values on the real engine."""
        result = self.engine.evaluate(apply(entity, candidate))
        return result.trails[conclusion_id].outcome == target


def pack_model(kb: m.KnowledgeBase, entity_kind: str) -> tuple[dict[str, m.Conclusion], dict[str, m.FactSpec]]:
    conclusions: dict[str, m.Conclusion] = {}
    facts: dict[str, m.FactSpec] = {}
    for pack in kb.packs_for(entity_kind):
        conclusions.update(pack.conclusions)
        facts.update(pack.facts)
    return conclusions, facts


def change_set(way: Way, entity: m.Entity, facts: Mapping[str, m.FactSpec]) -> ChangeSet | None:
    """The facts whose present value does not fit ``way``, each with a value that does (None if none does)."""
    domains = dict(way.domains)
    related = {f for relation in way.relations for f in (relation[0], relation[2])}
    values: dict[str, Any] = {}
    for fact, domain in domains.items():
        present = entity.facts.get(fact)
        if fact in related or (present is not None and domain.contains(present.value)):
            continue
        values[fact] = domain.witness(None if present is None else present.value)
        if values[fact] is None:
            return None
    pairs: dict[tuple[str, str], list[str]] = {}
    for fact, op, other in sorted(way.relations):
        pairs.setdefault((fact, other), []).append(op)
    for (fact, other), ops in pairs.items():
        # both sides are set: anchor one side, then place the other against it
        paired = (relate(facts, domains, entity, fact, ops, other)
                  or relate(facts, domains, entity, other, [REVERSED[op] for op in ops], fact))
        if paired is None:
            return None
        values.update(paired)
    if not all(compare(op, values[fact], values[other]) for fact, op, other in way.relations):
        return None  # two relations pulled one fact different ways
    if any(f in entity.facts and entity.facts[f].value == values[f] for f in related):
        return None  # one side keeps its value: the way that moves only the other covers it
    changes = []
    for fact in sorted(values):
        spec, present = facts[fact], entity.facts.get(fact)
        requirement = domains[fact].describe()
        related = [f"{RELATION_WORDS[o]} {b}" for f, o, b in
                   sorted(way.relations | {(b, REVERSED[o], f) for f, o, b in way.relations}) if f == fact]
        if related:
            requirement = " and ".join(related + ([requirement] if requirement != "any value" else []))
        changes.append(Change(fact, spec.type, spec.unit, present is not None,
                              None if present is None else present.value,
                              None if present is None else present.evidence, requirement, values[fact],
                              None if fact in related else domains[fact]))
    return ChangeSet(tuple(changes))


def relate(facts, domains, entity: m.Entity, fact: str, ops: list[str], other: str) -> dict[str, Any] | None:
    """Values for ``fact op other`` for every op: ``other`` at one of a few anchors, then ``fact`` against it."""
    present, mine = entity.facts.get(other), entity.facts.get(fact)
    for anchor in domains[other].anchors(None if present is None else present.value):
        allowed = domains[fact]
        for op in ops:
            # ordered types only: one domain per comparison
            [shape] = comparison_domains(facts[fact], op, anchor) or [None]
            allowed = None if shape is None else allowed.intersect(shape)
            if allowed is None:
                break
        if allowed is not None:
            return {other: anchor, fact: allowed.witness(None if mine is None else mine.value)}
    return None


def minimal(candidates) -> list[ChangeSet]:
    """The change sets whose facts no other's are a proper subset of, by size then fact names.

    Among sets changing the same facts, one whose every change asks no more than another's
    (its values all fit the other's) is left out: the other says the same, more broadly.
    """
    by_facts: dict[frozenset, list[ChangeSet]] = {}
    for candidate in candidates:
        by_facts.setdefault(frozenset(candidate.facts), []).append(candidate)
    keep = []
    for key, group in by_facts.items():
        if any(other < key for other in by_facts):
            continue
        for i, candidate in enumerate(group):
            if not any(_broader(other, candidate) and (not _broader(candidate, other) or j < i)
                       for j, other in enumerate(group) if j != i):
                keep.append(candidate)
    return sorted(keep, key=lambda c: (len(c.changes), c.facts, [ch.requirement for ch in c.changes]))


def _broader(wide: ChangeSet, narrow: ChangeSet) -> bool:
    """Every value ``narrow`` allows for each fact, ``wide`` allows too (same facts, domains known)."""
    return all(a.domain is not None and b.domain is not None and b.domain.within(a.domain)
               for a, b in zip(wide.changes, narrow.changes))


def apply(entity: m.Entity, candidate: ChangeSet) -> m.Entity:
    """The entity with the change set's values in place (marked as hypothetical)."""
    facts = dict(entity.facts)
    for change in candidate.changes:
        facts[change.fact] = m.FactValue(change.fact, change.value, m.Evidence(note="hypothetical"), HYPOTHETICAL)
    return replace(entity, facts=m.frozen_map(facts))
