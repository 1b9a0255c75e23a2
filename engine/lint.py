"""Static analysis of a loaded knowledge base: what the loader's checks cannot see.

The loader proves that every file is well-formed and every name resolves. This module
asks what the rules *mean*: conditions that can never hold or always hold (by reasoning
about the values each fact can take), rules that can therefore never fire, derived
conclusions and facts nobody uses, placeholder texts, and fact-to-fact comparisons
across different units. It returns diagnostics; it never raises.

The reasoning is three-valued like the engine: a condition "can hold" when some
assignment of *known* fact values makes it true (missing facts only ever make things
unknown). Only what is provably impossible is reported, so every finding is real.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from explain.trail import compare

from . import model as m
from .diagnostics import Diagnostic, Location

__all__ = ["lint"]

_NEGATED = {
    "at_least": "less_than", "less_than": "at_least", "more_than": "at_most", "at_most": "more_than",
    "equals": "not_equals", "not_equals": "equals", "is_not": "is", "one_of": "not_one_of",
    "not_one_of": "one_of", "includes": "excludes", "excludes": "includes",
    "includes_any": "includes_none", "includes_none": "includes_any",
}
# sign of (left - right) each operator accepts, for fact-to-fact comparisons
_SIGNS = {"at_least": {0, 1}, "more_than": {1}, "at_most": {-1, 0}, "less_than": {-1},
          "equals": {0}, "not_equals": {-1, 1}}
_PLACEHOLDERS = {"todo", "tbd", "fixme", "xxx", "...", "…", "?", "-", "n/a", "na", "none", "description",
                 "lorem ipsum"}
_MAX_SUBSETS_VALUES = 12  # enum_list reasoning enumerates subsets of the values a test mentions


@dataclass(frozen=True)
class Literal:
    """One comparison, or its negation, as a constraint on the facts it reads."""

    node: m.Comparison
    spec: m.FactSpec
    negated: bool = False

    def negate(self) -> "Literal":
        return Literal(self.node, self.spec, not self.negated)

    @property
    def key(self) -> tuple:
        """What the constraint is about: one fact, or an ordered pair of facts."""
        if self.node.other_fact is None:
            return (self.node.fact,)
        return tuple(sorted((self.node.fact, self.node.other_fact)))

    def text(self, here: str) -> str:
        """``'x at_least 0.6' at line 12`` (with the file when it is not ``here``)."""
        n = self.node
        target = n.other_fact if n.other_fact else _value_text(n.value)
        words = f"{n.fact} {n.op} {target}"
        if self.negated:
            words = f"not ({words})"
        where = f"line {n.location.line}"
        if n.location.path != here:
            where = f"{_short(n.location.path)} line {n.location.line}"
        return f"'{words}' at {where}"


@dataclass(frozen=True)
class Info:
    """What a node can evaluate to, and (when it has one) its meaning as a conjunction of literals."""

    can_true: bool
    can_false: bool
    when_true: tuple[Literal, ...] | None  # the node is true exactly when all of these are
    when_false: tuple[Literal, ...] | None  # the node is false exactly when all of these are


_OPAQUE = Info(True, True, None, None)


def lint(kb: m.KnowledgeBase) -> list[Diagnostic]:
    """Every semantic problem in ``kb``, sorted by location."""
    found: list[Diagnostic] = []
    for kind in sorted({p.entity for p in kb.packs.values()}):
        packs = kb.packs_for(kind)
        found += _duplicate_conclusions(kb, packs)
        conclusions = {cid: c for p in packs for cid, c in p.conclusions.items()}
        facts = {name: spec for p in packs for name, spec in p.facts.items()}
        found += _Reasoner(kb, conclusions, facts).run()
        found += _unused(kb, packs, conclusions)
        found += _units(conclusions, facts)
    found += _placeholders(kb)
    return sorted(set(found), key=Diagnostic.sort_key)


def conclusion_location(kb: m.KnowledgeBase, conclusion: m.Conclusion) -> Location:
    return Location(str(Path(kb.root) / conclusion.file), conclusion.line, 1)


# -- satisfiability of a set of literals ------------------------------------------------------------
def _conflict(literals: tuple[Literal, ...]) -> tuple[Literal, ...] | None:
    """A smallest subset of ``literals`` that no known fact values satisfy together, or None."""
    by_key: dict[tuple, list[Literal]] = {}
    for literal in literals:
        group = by_key.setdefault(literal.key, [])
        if literal not in group:
            group.append(literal)
    for group in by_key.values():
        if _satisfiable(group):
            continue
        for size in range(1, len(group) + 1):
            for subset in itertools.combinations(group, size):
                if not _satisfiable(list(subset)):
                    return subset
    return None


def _satisfiable(literals: list[Literal]) -> bool:
    first = literals[0]
    if first.node.other_fact is not None:
        return _signs_possible(literals)
    kind = first.spec.type
    if kind in m.NUMERIC_TYPES:
        return _interval_possible(literals)
    if kind == "boolean":
        return any(all(_holds(lit, v) for lit in literals) for v in (True, False))
    if kind == "enum":
        return any(all(_holds(lit, v) for lit in literals) for v in first.spec.values)
    return _sets_possible(literals)


def _holds(literal: Literal, value) -> bool:
    result = compare(literal.node.op, value, literal.node.value)
    return result != literal.negated


def _signs_possible(literals: list[Literal]) -> bool:
    first = literals[0].node
    signs = {0} if first.fact == first.other_fact else {-1, 0, 1}  # a fact against itself is equal to it
    for lit in literals:
        accepted = _SIGNS[lit.node.op]
        if lit.node.fact > lit.node.other_fact:  # the key orders the pair; mirror the relation
            accepted = {-s for s in accepted}
        signs &= ({-1, 0, 1} - accepted) if lit.negated else accepted
    return bool(signs)


def _number(spec: m.FactSpec, value) -> float:
    return float(date.fromisoformat(value).toordinal()) if spec.type == "date" else float(value)


def _interval_possible(literals: list[Literal]) -> bool:
    spec = literals[0].spec
    low, high = (spec.range or (None, None)) if spec.type != "date" else (None, None)
    lo = (-math.inf if low is None else float(low), False)  # (bound, open)
    hi = (math.inf if high is None else float(high), False)
    excluded: set[float] = set()
    for lit in literals:
        op = _NEGATED[lit.node.op] if lit.negated else lit.node.op
        v = _number(spec, lit.node.value)
        if op in ("at_least", "more_than", "equals"):
            lo = max(lo, (v, op == "more_than"), key=lambda b: (b[0], b[1]))
        if op in ("at_most", "less_than", "equals"):
            hi = min(hi, (v, op == "less_than"), key=lambda b: (b[0], not b[1]))
        if op == "not_equals":
            excluded.add(v)
    if spec.type in ("integer", "date") and math.isfinite(lo[0]) and math.isfinite(hi[0]):
        first = math.floor(lo[0]) + 1 if lo[1] else math.ceil(lo[0])
        last = math.ceil(hi[0]) - 1 if hi[1] else math.floor(hi[0])
        if first > last:
            return False
        if last - first + 1 <= len(excluded):
            return any(p not in excluded for p in range(int(first), int(last) + 1))
        return True
    if lo[0] > hi[0]:
        return False
    if lo[0] == hi[0]:
        return not (lo[1] or hi[1] or lo[0] in excluded)
    return True


def _sets_possible(literals: list[Literal]) -> bool:
    mentioned = sorted({v for lit in literals
                        for v in (lit.node.value if isinstance(lit.node.value, tuple) else (lit.node.value,))})
    if len(mentioned) > _MAX_SUBSETS_VALUES:
        return True  # too many to enumerate: claim nothing
    for size in range(len(mentioned) + 1):
        for subset in itertools.combinations(mentioned, size):
            if all(_holds(lit, subset) for lit in literals):
                return True
    return False


# -- reasoning over condition trees -----------------------------------------------------------------
class _Reasoner:
    """Works out, node by node, whether each condition can hold and can fail, and reports why not."""

    def __init__(self, kb: m.KnowledgeBase, conclusions: dict[str, m.Conclusion], facts: dict[str, m.FactSpec]):
        self.kb = kb
        self.conclusions = conclusions
        self.facts = facts
        self.infos: dict[str, Info] = {}  # node id -> info
        self.roots: dict[str, Info] = {}  # conclusion id -> info of its (single) tree
        self.visiting: set[str] = set()
        self.found: list[Diagnostic] = []
        self.never: dict[str, str] = {}  # node id -> why it can never hold (for the rule-level message)

    def run(self) -> list[Diagnostic]:
        for cid in sorted(self.conclusions):
            self.conclusion(cid)
        return self.found

    def conclusion(self, cid: str) -> Info:
        if cid in self.roots:
            return self.roots[cid]
        if cid in self.visiting:
            return _OPAQUE  # a cycle: the loader reports it
        c = self.conclusions[cid]
        self.visiting.add(cid)
        if c.levels:  # graded: read by outcome, so nothing to say about it as true or false
            self.levels(c)
            info = _OPAQUE
        else:
            info = self.node(c.condition)
            if not info.can_true:
                word = c.outcomes[0].replace("_", " ")
                why = self.never.get(c.condition.id, "its condition can never hold")
                self.report(conclusion_location(self.kb, c), "BD222",
                            f"{c.kind} '{c.id}' can never be {word} (its rule never fires): {why}; "
                            "fix that and the rule can fire", c.id)
        self.visiting.discard(cid)
        self.roots[cid] = info
        return info

    def levels(self, c: m.Conclusion) -> None:
        blocked_by = None
        for level in c.levels:
            info = self.node(level.condition)
            if blocked_by is not None:
                self.report(level.location, "BD222",
                            f"level '{level.outcome}' of '{c.id}' can never be reached: level '{blocked_by}' "
                            "before it always holds whenever its facts are known; reorder or narrow that level",
                            c.id)
            elif not info.can_true:
                self.report(level.location, "BD222",
                            f"level '{level.outcome}' of '{c.id}' can never be reached: "
                            f"{self.never.get(level.condition.id, 'its condition can never hold')}; fix that "
                            "condition", c.id)
            if not info.can_false and blocked_by is None:
                blocked_by = level.outcome

    def report(self, where: Location, code: str, message: str, subject: str | None = None) -> None:
        self.found.append(Diagnostic(where, code, message, subject=subject))

    def node(self, node: m.Condition) -> Info:
        if node.id not in self.infos:
            self.infos[node.id] = self.evaluate(node)
        return self.infos[node.id]

    def evaluate(self, node: m.Condition) -> Info:
        if isinstance(node, m.Comparison):
            return self.comparison(node)
        if isinstance(node, m.ConclusionRef):
            return self.reference(node)
        if isinstance(node, m.Not):
            return self.negation(node)
        children = [self.node(child) for child in m.children_of(node)]
        if isinstance(node, m.AllOf) or (isinstance(node, m.AtLeast) and node.count == len(children)):
            return self.conjunction(node, children)
        if isinstance(node, m.AnyOf) or (isinstance(node, m.AtLeast) and node.count == 1):
            return self.disjunction(node, children)
        return self.threshold(node, children)

    def comparison(self, node: m.Comparison) -> Info:
        literal = Literal(node, self.facts[node.fact])
        can_true = _conflict((literal,)) is None
        can_false = _conflict((literal.negate(),)) is None
        what = f"'{node.fact} {node.op} {_value_text(node.value) if node.other_fact is None else node.other_fact}'"
        if not can_true:
            reason = f"{what} is false for every value {node.fact} can take ({_domain(literal.spec)})"
            self.never[node.id] = f"condition '{node.id}' can never hold: {reason}"
            self.report(node.location, "BD220", f"condition '{node.id}' can never hold: {reason}; "
                        "check the operator and the value", node.id)
        elif not can_false:
            self.report(node.location, "BD221",
                        f"condition '{node.id}' always holds whenever {node.fact} is known: {what} is true for "
                        f"every value it can take ({_domain(literal.spec)}); it only tests that the fact is "
                        "given: tighten the value or remove the condition", node.id)
        return Info(can_true, can_false, (literal,), (literal.negate(),))

    def reference(self, node: m.ConclusionRef) -> Info:
        target = self.conclusions.get(node.conclusion)
        if target is None:
            return _OPAQUE
        info = self.conclusion(target.id)
        if target.levels:
            return _OPAQUE
        if not info.can_true:
            self.never[node.id] = f"it needs '{target.id}' (node '{node.id}'), which can never hold"
        return info

    def negation(self, node: m.Not) -> Info:
        child = self.node(node.child)
        if not child.can_false:
            reason = f"the condition under it ('{node.child.id}') always holds whenever its facts are known"
            self.never[node.id] = f"condition '{node.id}' can never hold: {reason}"
            self.report(node.location, "BD220", f"condition '{node.id}' can never hold: {reason}; "
                        "remove the 'not' or fix the condition under it", node.id)
        elif not child.can_true:
            self.never.setdefault(node.id, self.never.get(node.child.id, ""))
        return Info(child.can_false, child.can_true, child.when_false, child.when_true)

    def conjunction(self, node, children: list[Info]) -> Info:
        kids = m.children_of(node)
        blocked = [kid for kid, info in zip(kids, children) if not info.can_true]
        literals = tuple(lit for info in children if info.when_true for lit in info.when_true)
        can_true = not blocked
        if blocked:
            self.never[node.id] = self.never.get(blocked[0].id) or f"condition '{blocked[0].id}' can never hold"
        else:
            clash = _conflict(literals)
            if clash:
                can_true = False
                here = node.location.path
                joined = " and ".join(lit.text(here) for lit in clash)
                which = "'all'" if isinstance(node, m.AllOf) else f"'at_least {node.count}' of {len(kids)}"
                reason = f"{joined} cannot all be true under the same {which}"
                self.never[node.id] = f"condition '{node.id}' can never hold: {reason}"
                self.report(node.location, "BD220", f"condition '{node.id}' can never hold: {reason}; "
                            "loosen one of them or move one under an 'any'", node.id)
        exact = all(info.when_true is not None for info in children)
        when_false = children[0].when_false if len(children) == 1 else None
        return Info(can_true, any(info.can_false for info in children), literals if exact else None, when_false)

    def disjunction(self, node, children: list[Info]) -> Info:
        kids = m.children_of(node)
        negations = tuple(lit for info in children if info.when_false for lit in info.when_false)
        can_false = all(info.can_false for info in children)
        if can_false:
            clash = _conflict(negations)
            if clash:
                can_false = False
                here = node.location.path
                joined = " or ".join(lit.negate().text(here) for lit in clash)
                self.report(node.location, "BD221",
                            f"condition '{node.id}' always holds whenever its facts are known: {joined} "
                            "is true whatever the values; remove it or tighten one side", node.id)
        can_true = any(info.can_true for info in children)
        if not can_true:
            self.never[node.id] = self.never.get(kids[0].id) or f"none of the conditions under '{node.id}' can hold"
        exact = all(info.when_false is not None for info in children)
        when_true = children[0].when_true if len(children) == 1 else None
        return Info(can_true, can_false, when_true, negations if exact else None)

    def threshold(self, node: m.AtLeast, children: list[Info]) -> Info:
        possible = [kid.id for kid, info in zip(node.children, children) if info.can_true]
        can_true = len(possible) >= node.count
        if not can_true:
            reason = (f"it needs {node.count} of its {len(children)} conditions, but only {len(possible)} can "
                      f"ever hold ({', '.join(possible) or 'none'})")
            self.never[node.id] = f"condition '{node.id}' can never hold: {reason}"
            self.report(node.location, "BD220", f"condition '{node.id}' can never hold: {reason}; "
                        "lower the count or fix the conditions under it", node.id)
        failing = sum(info.can_false for info in children)
        return Info(can_true, failing > len(children) - node.count, None, None)


# -- usage, units, placeholders, duplicates -------------------------------------------------------------
def _unused(kb: m.KnowledgeBase, packs, conclusions: dict[str, m.Conclusion]) -> list[Diagnostic]:
    used_conclusions = {ref for c in conclusions.values() for ref in c.references()}
    read = {name for c in conclusions.values() for n in c.nodes() if isinstance(n, m.Comparison)
            for name in (n.fact, n.other_fact) if name}
    found = []
    for c in conclusions.values():
        if not c.is_reported and c.id not in used_conclusions:
            found.append(Diagnostic(conclusion_location(kb, c), "BD252",
                                    f"derived conclusion '{c.id}' is not used by any rule; reference it with "
                                    f"'conclusion: {c.id}' or delete the file", subject=c.id))
    for pack in packs:
        for spec in pack.facts.values():
            if spec.type != "text" and not spec.context and spec.name not in read:
                found.append(Diagnostic(spec.location, "BD253",
                                        f"fact '{spec.name}' is not read by any rule of a '{pack.entity}'; "
                                        "use it in a condition, mark it 'context: true' if it is recorded "
                                        "only for context and reports, or remove it", subject=spec.name))
    return found


def _units(conclusions: dict[str, m.Conclusion], facts: dict[str, m.FactSpec]) -> list[Diagnostic]:
    found = []
    for c in conclusions.values():
        for n in c.nodes():
            if not isinstance(n, m.Comparison):
                continue
            if n.other_fact is None:
                found += _share_for_percent(n, facts[n.fact])
                continue
            left, right = facts[n.fact], facts[n.other_fact]
            if left.unit and right.unit and left.unit.strip().lower() != right.unit.strip().lower():
                found.append(Diagnostic(n.location, "BD230",
                                        f"condition '{n.id}' compares {left.name} ({left.unit}) with "
                                        f"{right.name} ({right.unit}); convert one fact to the other's unit "
                                        "or give both the same unit", subject=n.id))
    return found


def _share_for_percent(n: m.Comparison, spec: m.FactSpec) -> list[Diagnostic]:
    """A number measured in percent compared with 0.45: the author probably meant 45 (the mirror of BD211)."""
    unit = (spec.unit or "").lower()
    if spec.type != "number" or not ("percent" in unit or "%" in unit) or not 0 < n.value < 1:
        return []
    return [Diagnostic(n.location, "BD231", f"condition '{n.id}' compares {spec.name} with {n.value:g}, but "
                       f"{spec.name} is in {spec.unit}: {n.value:g} means {n.value:g}%; write "
                       f"{n.value * 100:g} for {n.value * 100:g}%", subject=n.id)]


def _placeholder(text: str | None) -> bool:
    words = " ".join((text or "").split()).lower()
    return not words or words.strip(".!:") in _PLACEHOLDERS or words.split(" ")[0].strip(":.") in (
        "todo", "tbd", "fixme", "xxx")


def _placeholders(kb: m.KnowledgeBase) -> list[Diagnostic]:
    found = []

    def check(where: Location, what: str, field: str, text: str | None, subject: str) -> None:
        if _placeholder(text):
            found.append(Diagnostic(where, "BD254", f"{what} has no real {field} ({text!r}); write one in "
                                    "plain language: readers of every decision see it", subject=subject))

    for pack in kb.packs.values():
        for spec in pack.facts.values():
            check(spec.location, f"fact '{spec.name}'", "description", spec.description, spec.name)
            check(spec.location, f"fact '{spec.name}'", "question", spec.question, spec.name)
        for c in pack.conclusions.values():
            where = conclusion_location(kb, c)
            for field in ("name", "description", "owner"):
                check(where, f"{c.kind} '{c.id}'", field, getattr(c, field), c.id)
            for level in c.levels:
                check(level.location, f"level '{level.outcome}' of '{c.id}'", "description",
                      level.description, c.id)
            for n in c.nodes():
                check(n.location, f"node '{n.id}'", "description", n.description, n.id)
    return found


def _duplicate_conclusions(kb: m.KnowledgeBase, packs) -> list[Diagnostic]:
    seen: dict[str, m.Conclusion] = {}
    found = []
    for pack in packs:
        for c in pack.conclusions.values():
            if c.id in seen:
                first = seen[c.id]
                found.append(Diagnostic(conclusion_location(kb, c), "BD203",
                                        f"conclusion '{c.id}' is also defined by pack '{first.pack}' "
                                        f"({first.file}) for the same kind of entity; rename one of them",
                                        subject=c.id))
            seen.setdefault(c.id, c)
    return found


# -- words -----------------------------------------------------------------------------------------------
def _value_text(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _domain(spec: m.FactSpec) -> str:
    if spec.type in ("enum", "enum_list"):
        return f"{spec.type} of {', '.join(spec.values)}"
    if spec.range:
        low, high = spec.range
        return f"{spec.type} from {'-∞' if low is None else f'{low:g}'} to {'∞' if high is None else f'{high:g}'}"
    return spec.type


def _short(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:])
