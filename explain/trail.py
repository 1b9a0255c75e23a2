"""The explanation trail: one immutable tree per decision, mirroring the condition tree.

The trail is built by evaluating the rule's condition tree in three-valued logic,
recording at each leaf the fact values read, the operator and the threshold, and at
each inner node which children decided its value. The engine checks that this
evaluation agrees with the decision durable_rules made.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from enum import Enum
from collections import abc
from typing import TYPE_CHECKING, Any, Mapping

from engine import model as m
from engine.model import fast_constructor

if TYPE_CHECKING:  # node_values builds on this module
    from explain.node_values import Evaluation


class Truth(str, Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


def outcome_of(kind: str, value: Truth) -> str:
    """The outcome word of a two-valued conclusion of ``kind`` whose condition has ``value``."""
    spec = m.KINDS[kind]
    return {Truth.TRUE: spec.when_true, Truth.FALSE: spec.when_false, Truth.UNKNOWN: m.UNDETERMINED}[value]


@dataclass(frozen=True)
class FactRead:
    """A fact as a condition read it: its value (None when unknown) and evidence."""

    name: str
    type: str
    known: bool
    value: Any = None
    unit: str | None = None
    evidence: m.Evidence | None = None


@dataclass(frozen=True)
class RuleRef:
    id: str
    version: str
    file: str
    line: int
    effective: str
    owner: str
    sha256: str


@dataclass(frozen=True)
class TrailNode:
    """One evaluated condition node."""

    id: str
    kind: str  # all | any | not | at_least | conclusion | compare | levels
    description: str
    cite: m.Citation | None
    value: Truth
    deciding: bool  # among the conditions that decided its parent's value
    children: tuple["TrailNode", ...] = ()
    count: int | None = None  # at_least
    fact: FactRead | None = None  # compare
    op: str | None = None
    threshold: Any = None
    other: FactRead | None = None  # compare with another fact
    conclusion: "ConclusionTrail | None" = None  # a derived conclusion's own trail
    outcomes: tuple[str, ...] | None = None  # conclusion: the graded outcomes that make it hold
    level: str | None = None  # a graded conclusion's level tree: the outcome it reaches


@dataclass(frozen=True)
class ConclusionTrail:
    """Why one conclusion came out as it did, for one entity.

    ``value`` is the truth of a two-valued conclusion's condition; a graded conclusion
    is true once its outcome is determined, unknown while it is undetermined. Its
    ``root`` is a ``levels`` node whose children are the level trees, in order.
    """

    conclusion: str
    name: str
    kind: str
    value: Truth
    outcome: str
    description: str
    rule: RuleRef
    cite: m.Citation | None
    root: TrailNode
    scale: tuple[str, ...] = ()  # every outcome the conclusion can reach, best first, undetermined last


_node = fast_constructor(TrailNode)
_read = fast_constructor(FactRead)
_conclusion_trail = fast_constructor(ConclusionTrail)
_rule = fast_constructor(RuleRef)
_NODE_DEFAULTS = {f.name: f.default for f in fields(TrailNode) if f.default is not MISSING}


class TrailShapes:
    """What a trail holds whatever the entity: each node's fields but its value, how it decided
    and what it read; each rule's reference; each unknown fact's read. Built up once per
    compiled program (``NodeEvaluator.shapes``) and shared by every entity's ``TrailBuilder``,
    so that building a trail sets only what the entity decides."""

    def __init__(self, facts: Mapping[str, m.FactSpec]):
        self._facts = facts
        self._nodes: dict[int, tuple[m.Condition, dict]] = {}  # id(node) -> (the node, kept alive; its fields)
        self._rules: dict[str, RuleRef] = {}
        self._unknown: dict[str, FactRead] = {}

    def node(self, node: m.Condition) -> dict:
        found = self._nodes.get(id(node))
        if found is None:
            fields_ = dict(_NODE_DEFAULTS, id=node.id, description=node.description, cite=node.cite)
            if isinstance(node, m.Comparison):
                fields_.update(kind="compare", op=node.op, threshold=None if node.other_fact else node.value)
            elif isinstance(node, m.ConclusionRef):
                fields_.update(kind="conclusion", outcomes=node.outcomes)
            else:
                fields_.update(kind=_KINDS[type(node)], count=getattr(node, "count", None))
            found = self._nodes[id(node)] = (node, fields_)
        return found[1]

    def rule(self, c: m.Conclusion) -> RuleRef:
        found = self._rules.get(c.id)
        if found is None:
            found = self._rules[c.id] = _rule(id=c.id, version=c.version, file=c.file, line=c.line,
                                              effective=c.effective, owner=c.owner, sha256=c.sha256)
        return found

    def unknown(self, name: str) -> FactRead:
        found = self._unknown.get(name)
        if found is None:
            spec = self._facts[name]
            found = self._unknown[name] = _read(name=name, type=spec.type, known=False, unit=spec.unit)
        return found


def deciding_children(kind: str, value: Truth, values: list[Truth]) -> set[int]:
    """Indexes of the children (given by their values) that decided a node's ``value``."""
    if kind == "not":
        return {0}
    # all / any / at_least: the children that share the node's value decided it
    # (a false `all` by its false children, an unknown one by its unknown children).
    return {i for i, v in enumerate(values) if v is value}


def combine(kind: str, values: list[Truth], count: int | None = None) -> Truth:
    trues, falses = values.count(Truth.TRUE), values.count(Truth.FALSE)
    if kind == "all":
        return Truth.FALSE if falses else Truth.TRUE if trues == len(values) else Truth.UNKNOWN
    if kind == "any":
        return Truth.TRUE if trues else Truth.FALSE if falses == len(values) else Truth.UNKNOWN
    if kind == "at_least":
        if trues >= count:
            return Truth.TRUE
        return Truth.FALSE if falses > len(values) - count else Truth.UNKNOWN
    if kind == "not":
        return {Truth.TRUE: Truth.FALSE, Truth.FALSE: Truth.TRUE, Truth.UNKNOWN: Truth.UNKNOWN}[values[0]]
    raise ValueError(kind)


def compare(op: str, value: Any, threshold: Any) -> bool:
    """Apply a (validated, normalised) comparison to a known value."""
    if op == "at_least":
        return value >= threshold
    if op == "more_than":
        return value > threshold
    if op == "at_most":
        return value <= threshold
    if op == "less_than":
        return value < threshold
    if op in ("equals", "is"):
        return value == threshold
    if op in ("not_equals", "is_not"):
        return value != threshold
    if op == "one_of":
        return value in threshold
    if op == "not_one_of":
        return value not in threshold
    if op == "includes":
        return threshold in value
    if op == "excludes":
        return threshold not in value
    if op == "includes_any":
        return any(v in value for v in threshold)
    if op == "includes_all":
        return all(v in value for v in threshold)
    if op == "includes_none":
        return not any(v in value for v in threshold)
    raise ValueError(op)


class TrailBuilder:
    """Evaluates conclusions for one entity, memoising node values and trails.

    ``outcome`` answers from node values alone; ``trail`` builds the explanation, which
    only outputs that show it need (see ``LazyTrails``). Given an ``evaluation`` (from an
    ``explain.node_values.NodeEvaluator`` compiled from these conclusions), node values
    and outcomes come from it instead of a recursive evaluation.
    """

    def __init__(self, entity: m.Entity, conclusions: Mapping[str, m.Conclusion],
                 facts: Mapping[str, m.FactSpec], evaluation: Evaluation | None = None):
        self.entity = entity
        self.conclusions = conclusions
        self.facts = facts
        self._evaluation = evaluation
        self._shapes = evaluation.evaluator.shapes if evaluation is not None else TrailShapes(facts)
        self._done: dict[str, ConclusionTrail] = {}
        self._values: dict[int, Truth] = {}  # id(condition node) -> its value for this entity
        self._outcomes: dict[str, tuple[Truth, str]] = {}
        self._reads: dict[str, FactRead] = {}

    def __getstate__(self) -> dict:
        """Pickled (a batch worker sends whole results for tables) without what only this process
        can read: the compiled evaluation, and node values keyed by ``id()``, which name other
        objects once unpickled. Outcomes are kept; node values are found again if a trail needs them."""
        state = dict(self.__dict__, _evaluation=None, _values={}, _shapes=TrailShapes(self.facts))
        if self._evaluation is not None:
            state["_outcomes"] = {cid: self._evaluation.outcome(cid) for cid in self.conclusions}
        return state

    def outcome(self, conclusion_id: str) -> tuple[Truth, str]:
        """(value, outcome) of a conclusion, without building its trail: what decisions need."""
        if self._evaluation is not None:
            return self._evaluation.outcome(conclusion_id)
        found = self._outcomes.get(conclusion_id)
        if found is None:
            c = self.conclusions[conclusion_id]
            if c.levels:
                outcome, _ = _level_reached(c, [self.value(level.condition) for level in c.levels])
                found = (Truth.UNKNOWN if outcome == m.UNDETERMINED else Truth.TRUE, outcome)
            else:
                value = self.value(c.condition)
                found = (value, outcome_of(c.kind, value))
            self._outcomes[conclusion_id] = found
        return found

    def trail(self, conclusion_id: str) -> ConclusionTrail:
        if conclusion_id not in self._done:
            c = self.conclusions[conclusion_id]
            value, outcome = self.outcome(conclusion_id)
            root = self.levels(c) if c.levels else self.node(c.condition, deciding=True)
            self._done[conclusion_id] = _conclusion_trail(
                conclusion=c.id, name=c.name, kind=c.kind, value=value, outcome=outcome,
                description=c.description, rule=self._shapes.rule(c), cite=c.cite, root=root, scale=c.outcomes,
            )
        return self._done[conclusion_id]

    def levels(self, c: m.Conclusion) -> "TrailNode":
        """A graded conclusion's root: its level trees, those that decided it marked."""
        outcome, deciding = _level_reached(c, [self.value(level.condition) for level in c.levels])
        children = tuple(self.node(level.condition, i < deciding, level=level.outcome)
                         for i, level in enumerate(c.levels))
        value = Truth.UNKNOWN if outcome == m.UNDETERMINED else Truth.TRUE
        return _node(id=c.id, kind="levels", description=c.description, cite=c.cite, value=value,
                     deciding=True, children=children, level=outcome)

    def value(self, node: m.Condition) -> Truth:
        """A node's value, computed once per entity: nodes are built knowing their children's."""
        if self._evaluation is not None:
            return self._evaluation.value(node)
        key = id(node)
        found = self._values.get(key)
        if found is None:
            if isinstance(node, m.Comparison):
                found = self._compare(node)
            elif isinstance(node, m.ConclusionRef):
                found = self._reference(node, *self.outcome(node.conclusion))
            else:
                found = combine(_KINDS[type(node)], [self.value(c) for c in m.children_of(node)],
                                getattr(node, "count", None))
            self._values[key] = found
        return found

    def _compare(self, node: m.Comparison) -> Truth:
        fact = self.entity.facts.get(node.fact)
        if fact is None:
            return Truth.UNKNOWN
        if node.other_fact is None:
            threshold = node.value
        else:
            other = self.entity.facts.get(node.other_fact)
            if other is None:
                return Truth.UNKNOWN
            threshold = other.value
        return Truth.TRUE if compare(node.op, fact.value, threshold) else Truth.FALSE

    @staticmethod
    def _reference(node: m.ConclusionRef, value: Truth, outcome: str) -> Truth:
        if node.outcomes is None:
            return value
        if outcome == m.UNDETERMINED:
            return Truth.UNKNOWN
        return Truth.TRUE if outcome in node.outcomes else Truth.FALSE

    def read(self, name: str) -> FactRead:
        found = self._reads.get(name)
        if found is None:
            if name in self.entity.values:
                spec = self.facts[name]
                found = _read(name=name, type=spec.type, known=True, value=self.entity.values[name], unit=spec.unit,
                              evidence=self.entity.evidence(name))
            else:
                found = self._shapes.unknown(name)
            self._reads[name] = found
        return found

    def node(self, node: m.Condition, deciding: bool, level: str | None = None) -> TrailNode:
        built = _new(TrailNode)
        state = built.__dict__
        state.update(self._shapes.node(node))
        value = state["value"] = self.value(node)
        state["deciding"] = deciding
        state["level"] = level
        kind = state["kind"]
        if kind == "compare":
            state["fact"] = self.read(node.fact)
            if node.other_fact:
                state["other"] = self.read(node.other_fact)
        elif kind == "conclusion":
            state["conclusion"] = self.trail(node.conclusion)
        else:
            children = m.children_of(node)
            chosen = deciding_children(kind, value, [self.value(child) for child in children])
            state["children"] = tuple([self.node(child, i in chosen) for i, child in enumerate(children)])
        return built


_new = object.__new__
_KINDS = {m.AllOf: "all", m.AnyOf: "any", m.Not: "not", m.AtLeast: "at_least"}


def _level_reached(c: m.Conclusion, values: list[Truth]) -> tuple[str, int]:
    """A graded conclusion's outcome from its levels' values, and how many levels decided it:
    the first level that holds, if every level before it does not."""
    first = next((i for i, v in enumerate(values) if v is not Truth.FALSE), None)
    if first is None:
        return c.otherwise, len(values)
    if values[first] is Truth.TRUE:
        return c.levels[first].outcome, first + 1
    # an earlier level might still hold: the levels up to the first that holds decide it
    reached = next((i for i, v in enumerate(values) if v is Truth.TRUE), len(values) - 1)
    return m.UNDETERMINED, reached + 1


def deciding_nodes(node: TrailNode):
    """``node`` and every node on its deciding paths, through derived conclusions, in tree order."""
    yield node
    if node.conclusion is not None:
        yield from deciding_nodes(node.conclusion.root)
    for child in node.children:
        if child.deciding:
            yield from deciding_nodes(child)


def deciding_ids(trail: ConclusionTrail) -> set[str]:
    """Ids of every node on a deciding path, through derived conclusions too."""
    return {node.id for node in deciding_nodes(trail.root)}


def unknown_facts(trail: ConclusionTrail) -> list[str]:
    """Unknown facts on the deciding paths, in tree order: what would decide it."""
    reads = (read for node in deciding_nodes(trail.root) for read in (node.fact, node.other))
    return list(dict.fromkeys(read.name for read in reads if read is not None and not read.known))


class LazyTrails(abc.Mapping):
    """Conclusion id -> trail, each built on first use: a table or CSV row needs none."""

    def __init__(self, builder: TrailBuilder, ids: tuple[str, ...]):
        self._builder = builder
        self._ids = ids

    def __getitem__(self, conclusion_id: str) -> ConclusionTrail:
        if conclusion_id not in self._builder.conclusions:
            raise KeyError(conclusion_id)
        return self._builder.trail(conclusion_id)

    def __iter__(self):
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def outcome(self, conclusion_id: str) -> tuple[Truth, str]:
        """(value, outcome) without building the trail."""
        return self._builder.outcome(conclusion_id)
