"""The immutable objects rule files and facts files become.

Everything here is frozen: the loader builds it once, and the compiler, the
inference and the explanation only read it.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Union

from .diagnostics import Location

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


def frozen_map(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


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
    conclusion: str


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
class Conclusion:
    """A rule: a badge (reported) or a derived conclusion (used by other rules)."""

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

    @property
    def is_badge(self) -> bool:
        return self.kind == BADGE


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


@dataclass(frozen=True)
class Entity:
    kind: str
    id: str
    name: str
    description: str | None
    source: str  # the file it was read from
    facts: Mapping[str, FactValue]
