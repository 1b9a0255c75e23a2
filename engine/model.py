"""The immutable objects rule files and facts files become.

Everything here is frozen: the loader builds it once, and the compiler, the
inference and the explanation only read it.
"""
from __future__ import annotations

import copyreg
import functools
from collections import abc
from dataclasses import MISSING, dataclass, fields
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, Union

from .diagnostics import Location


def fast_constructor(cls):
    """A constructor for the frozen dataclass ``cls`` that fills the instance's fields in one
    step. The generated ``__init__`` sets every field through ``object.__setattr__`` (about
    2 µs for a TrailNode); an entity's trails hold some 150 nodes and reads, so building them
    that way was most of the cost of a trail. Keyword arguments only; same objects, same
    equality (tests/test_speed_paths.py checks them against the generated ``__init__``)."""
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    new = object.__new__

    def build(**values):
        built = new(cls)
        state = built.__dict__
        state.update(defaults)
        state.update(values)
        return built
    return build


FACT_TYPES = ("number", "integer", "percentage", "boolean", "enum", "enum_list", "date", "text")
NUMERIC_TYPES = ("number", "integer", "percentage", "date")

# operator -> fact types it applies to
OPERATORS: dict[str, tuple[str, ...]] = {
    "at_least": NUMERIC_TYPES,
    "more_than": NUMERIC_TYPES,
    "at_most": NUMERIC_TYPES,
    "less_than": NUMERIC_TYPES,
    "equals": NUMERIC_TYPES,
    "not_equals": NUMERIC_TYPES,
    "is": ("boolean", "enum"),
    "is_not": ("enum",),
    "one_of": ("enum",),
    "not_one_of": ("enum",),
    "includes": ("enum_list",),
    "excludes": ("enum_list",),
    "includes_any": ("enum_list",),
    "includes_all": ("enum_list",),
    "includes_none": ("enum_list",),
}
SET_OPERATORS = ("one_of", "not_one_of", "includes_any", "includes_all", "includes_none")

# How operators read in explanations.
OPERATOR_WORDS = {
    "at_least": "≥", "more_than": ">", "at_most": "≤", "less_than": "<",
    "equals": "=", "not_equals": "≠", "is": "is", "is_not": "is not",
    "one_of": "is one of", "not_one_of": "is none of", "includes": "includes",
    "excludes": "excludes", "includes_any": "includes any of",
    "includes_all": "includes all of", "includes_none": "includes none of",
}

BADGE = "badge"
DERIVED = "derived"
DIAGNOSTIC = "diagnostic"
RECOMMENDATION = "recommendation"
LEVEL = "level"
UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class KindSpec:
    """A kind of conclusion: the folder its rule files live in and the words for its outcomes.

    Two-valued kinds name their outcomes when the condition holds and when it does not;
    a graded kind (``level``) takes its outcomes from each rule file's ``levels``.
    Every kind's third outcome is ``undetermined``.
    """

    name: str
    folder: str
    reported: bool  # shown to users as a decision (derived conclusions only feed other rules)
    when_true: str | None = None
    when_false: str | None = None

    @property
    def graded(self) -> bool:
        return self.when_true is None


KINDS: dict[str, KindSpec] = {
    k.name: k for k in (
        KindSpec(DERIVED, "derived", False, "holds", "does_not_hold"),
        KindSpec(BADGE, "badges", True, "granted", "not_granted"),
        KindSpec(DIAGNOSTIC, "diagnostics", True, "found", "not_found"),
        KindSpec(RECOMMENDATION, "recommendations", True, "recommended", "not_recommended"),
        KindSpec(LEVEL, "levels", True),
    )
}


def frozen_map(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


# Model objects travel between processes (batch results) and to disk (the knowledge-base
# cache); the read-only mappings they hold must pickle too, as read-only mappings.
copyreg.pickle(MappingProxyType, lambda proxy: (frozen_map, (dict(proxy),)))


@dataclass(frozen=True)
class Citation:
    source: str
    section: str
    quote: str | None = None

    def __str__(self) -> str:
        text = f"{self.source} § {self.section}"
        return f"{text}: “{self.quote}”" if self.quote else text


@dataclass(frozen=True)
class FactSpec:
    name: str
    type: str
    description: str
    question: str
    unit: str | None
    values: tuple[str, ...] | None
    range: tuple[float | None, float | None] | None
    location: Location
    context: bool = False  # recorded for context and reports; no rule is expected to read it


@dataclass(frozen=True)
class Node:
    id: str
    description: str
    cite: Citation | None
    location: Location


@dataclass(frozen=True)
class AllOf(Node):
    children: tuple["Condition", ...]


@dataclass(frozen=True)
class AnyOf(Node):
    children: tuple["Condition", ...]


@dataclass(frozen=True)
class Not(Node):
    child: "Condition"


@dataclass(frozen=True)
class AtLeast(Node):
    count: int
    children: tuple["Condition", ...]


@dataclass(frozen=True)
class ConclusionRef(Node):
    """Holds when another conclusion does; for a graded one, when its outcome is one of ``outcomes``."""

    conclusion: str
    outcomes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Comparison(Node):
    fact: str
    op: str
    value: Any = None  # normalised: float, int, bool, str, or a tuple of str
    other_fact: str | None = None


Condition = Union[AllOf, AnyOf, Not, AtLeast, ConclusionRef, Comparison]


def children_of(node: Condition) -> tuple:
    if isinstance(node, (AllOf, AnyOf, AtLeast)):
        return node.children
    if isinstance(node, Not):
        return (node.child,)
    return ()


def walk(node: Condition):
    """Every node of a condition tree, parents before children."""
    yield node
    for child in children_of(node):
        yield from walk(child)


@dataclass(frozen=True)
class Level:
    """One outcome of a graded conclusion and the condition that reaches it."""

    outcome: str
    description: str
    cite: Citation | None
    condition: Condition
    location: Location


@dataclass(frozen=True)
class Conclusion:
    """A rule: a badge, diagnostic, recommendation or level (reported) or a derived conclusion.

    Two-valued kinds have one ``condition``. A graded kind (``level``) has ``levels``
    instead, tried in order: the first whose condition holds is the outcome, provided
    every level before it does not hold; when none holds the outcome is ``otherwise``.
    """

    id: str
    kind: str
    name: str
    description: str
    version: str
    effective: str
    owner: str
    cite: Citation | None
    condition: Condition
    pack: str
    file: str  # path relative to the knowledge base root
    line: int
    sha256: str
    levels: tuple[Level, ...] = ()
    otherwise: str | None = None

    def trees(self) -> tuple[Condition, ...]:
        """The root condition of each tree the conclusion evaluates (one, or one per level)."""
        return tuple(level.condition for level in self.levels) if self.levels else (self.condition,)

    def nodes(self):
        """Every condition node of the conclusion, parents before children."""
        for tree in self.trees():
            yield from walk(tree)

    def references(self) -> list[str]:
        """Ids of the conclusions this one reads, in tree order."""
        return [n.conclusion for n in self.nodes() if isinstance(n, ConclusionRef)]

    @property
    def is_badge(self) -> bool:
        return self.kind == BADGE

    @property
    def is_reported(self) -> bool:
        """Shown to users as a decision (badges, levels, recommendations, diagnostics)."""
        return KINDS[self.kind].reported

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Every outcome this conclusion can reach, ``undetermined`` last."""
        spec = KINDS[self.kind]
        if spec.graded:
            return tuple(level.outcome for level in self.levels) + (self.otherwise, UNDETERMINED)
        return (spec.when_true, spec.when_false, UNDETERMINED)


@dataclass(frozen=True)
class Pack:
    id: str
    name: str
    entity: str
    version: str
    description: str
    facts: Mapping[str, FactSpec]
    conclusions: Mapping[str, Conclusion]  # in evaluation order: dependencies first
    tests_dir: str
    order: tuple[str, ...] = ()  # conclusions to show first, in this order (pack.yaml `order`)

    def display_order(self) -> list[Conclusion]:
        """Conclusions as users expect to see them: ``order`` first, then by kind and id."""
        kinds = [LEVEL, BADGE, DIAGNOSTIC, RECOMMENDATION, DERIVED]
        listed = [self.conclusions[cid] for cid in self.order if cid in self.conclusions]
        rest = sorted((c for c in self.conclusions.values() if c.id not in self.order),
                      key=lambda c: (kinds.index(c.kind), c.id))
        return listed + rest


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    file: str


@dataclass(frozen=True)
class KnowledgeBase:
    name: str
    version: str
    description: str
    root: str
    packs: Mapping[str, Pack]
    sources: Mapping[str, Source]
    sha256: str  # of every rule file, in a fixed order
    files: tuple[tuple[str, str], ...]  # (relative path, sha256)

    def packs_for(self, entity_kind: str) -> tuple[Pack, ...]:
        return tuple(p for p in self.packs.values() if p.entity == entity_kind)

    def facts_for(self, entity_kind: str) -> dict[str, FactSpec]:
        """Every fact an entity of this kind can have: those of the packs that evaluate it."""
        facts: dict[str, FactSpec] = {}
        for pack in self.packs_for(entity_kind):
            facts.update(pack.facts)
        return facts

    def find_conclusion(self, conclusion_id: str) -> Conclusion | None:
        for pack in self.packs.values():
            if conclusion_id in pack.conclusions:
                return pack.conclusions[conclusion_id]
        return None


@dataclass(frozen=True)
class Evidence:
    source: str | None = None
    as_of: str | None = None
    reference: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class FactValue:
    name: str
    value: Any  # normalised to the fact's type: float, int, bool, str, tuple of str
    evidence: Evidence
    location: Location


NO_EVIDENCE = Evidence()  # immutable: one object serves every bare value


class LazyFacts(abc.Mapping):
    """Fact name -> FactValue, built on first access from plain values.

    A table row is read into plain values (what evaluation needs); the FactValue records,
    with their evidence and the cell each was read from, are made only when an output asks
    for them. ``where(name)`` gives a fact's location; ``evidence`` holds only the facts
    that have some.
    """

    def __init__(self, values: dict[str, Any], evidence: Mapping[str, Evidence],
                 where: Callable[[str], Location]):
        self.values = values
        self._evidence = evidence
        self._where = where
        self._built: dict[str, FactValue] = {}

    def __getitem__(self, name: str) -> FactValue:
        found = self._built.get(name)
        if found is None:
            value = self.values[name]  # KeyError for an unknown fact, as a dict would
            found = self._built[name] = FactValue(name, value, self._evidence.get(name, NO_EVIDENCE),
                                                  self._where(name))
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, name) -> bool:
        return name in self.values

    def evidence(self, name: str) -> Evidence:
        """The evidence of a known fact, without building its FactValue."""
        return self._evidence.get(name, NO_EVIDENCE)

    @property
    def given_evidence(self) -> Mapping[str, Evidence]:
        """Fact name -> evidence, for the known facts that have some."""
        return self._evidence

    def get(self, name, default=None):
        # Mapping.get would raise and catch a KeyError for every unknown fact: trails ask for many
        return self[name] if name in self.values else default

    def __reduce__(self):  # pickled as the plain mapping it stands for
        return frozen_map, (dict(self),)


@dataclass(frozen=True)
class Entity:
    kind: str
    id: str
    name: str
    description: str | None
    source: str  # the file it was read from
    facts: Mapping[str, FactValue]

    def evidence(self, name: str) -> Evidence:
        """The evidence given for a known fact."""
        if isinstance(self.facts, LazyFacts):
            return self.facts.evidence(name)
        return self.facts[name].evidence

    def given_evidence(self) -> Mapping[str, Evidence]:
        """Fact name -> evidence, for the known facts that have some."""
        if isinstance(self.facts, LazyFacts):
            return self.facts.given_evidence
        return {name: fact.evidence for name, fact in self.facts.items() if fact.evidence != NO_EVIDENCE}

    @functools.cached_property
    def values(self) -> Mapping[str, Any]:
        """Fact name -> normalised value, for the facts that are known: what evaluation reads."""
        if isinstance(self.facts, LazyFacts):
            return self.facts.values
        return {name: fact.value for name, fact in self.facts.items()}
