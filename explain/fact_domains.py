"""The values a fact may take to satisfy some comparisons: one domain class per kind of fact type.

A domain answers four questions: does a value fit (``contains``), what fits both this and
another domain (``intersect``, None when nothing does), is every value that fits this one
also fitting another (``within``, conservative: False when unsure), and which value to
propose (``witness``, the one nearest the current value). ``describe`` words it for people.

Numeric and date facts are intervals (dates as day ordinals), booleans and enums are
finite sets, and enum lists are constraints on the members a list must and must not have.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine import model as m

from .words import value_text

# How a comparison reads when it must fail instead of hold.
NEGATED = {
    "at_least": "less_than", "less_than": "at_least", "more_than": "at_most", "at_most": "more_than",
    "equals": "not_equals", "not_equals": "equals", "is": "is_not", "is_not": "is", "one_of": "not_one_of",
    "not_one_of": "one_of", "includes": "excludes", "excludes": "includes",
    "includes_any": "includes_none", "includes_none": "includes_any",
}
# ``a op b`` is the same as ``b REVERSED[op] a``.
REVERSED = {
    "at_least": "at_most", "at_most": "at_least", "more_than": "less_than", "less_than": "more_than",
    "equals": "equals", "not_equals": "not_equals", "is": "is", "is_not": "is_not",
}


def to_number(spec: m.FactSpec, value: Any) -> float | int:
    """Dates become day ordinals so that every ordered type is an interval of numbers."""
    return date.fromisoformat(value).toordinal() if spec.type == "date" else value


def from_number(spec: m.FactSpec, number: float | int) -> Any:
    if spec.type == "date":
        return date.fromordinal(int(number)).isoformat()
    if spec.type == "integer":
        return int(number)
    return float(number)


def _text(spec: m.FactSpec, number: float | int) -> str:
    return value_text(spec.type, from_number(spec, number))


@dataclass(frozen=True)
class Interval:
    """Numbers between ``lo`` and ``hi`` (None: unbounded), minus ``excluded`` points."""

    spec: m.FactSpec
    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None
    hi_open: bool = False
    excluded: frozenset = frozenset()

    def _in_bounds(self, x) -> bool:
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            return False
        return not (self.hi is not None and (x > self.hi or (self.hi_open and x == self.hi)))

    def contains(self, value) -> bool:
        x = to_number(self.spec, value)
        return self._in_bounds(x) and x not in self.excluded

    def intersect(self, other: "Interval") -> "Interval | None":
        lo, lo_open = self.lo, self.lo_open
        if other.lo is not None and (lo is None or other.lo > lo or (other.lo == lo and other.lo_open)):
            lo, lo_open = other.lo, other.lo_open
        hi, hi_open = self.hi, self.hi_open
        if other.hi is not None and (hi is None or other.hi < hi or (other.hi == hi and other.hi_open)):
            hi, hi_open = other.hi, other.hi_open
        result = Interval(self.spec, lo, lo_open, hi, hi_open, self.excluded | other.excluded)
        result = Interval(self.spec, lo, lo_open, hi, hi_open,
                          frozenset(x for x in result.excluded if result._in_bounds(x)))
        return result if result.witness(None) is not None else None

    def within(self, other: "Interval") -> bool:
        lower_ok = other.lo is None or (self.lo is not None and (
            self.lo > other.lo or (self.lo == other.lo and (self.lo_open or not other.lo_open))))
        upper_ok = other.hi is None or (self.hi is not None and (
            self.hi < other.hi or (self.hi == other.hi and (self.hi_open or not other.hi_open))))
        return lower_ok and upper_ok and all(x in self.excluded or not self._in_bounds(x) for x in other.excluded)

    def _step(self) -> float:
        if self.spec.type in ("integer", "date"):
            return 1
        unit = 0.01 if self.spec.type == "percentage" else 1.0
        if self.lo is not None and self.hi is not None and self.hi > self.lo:
            return min(unit, (self.hi - self.lo) / 2)
        return unit

    def _origin(self) -> float | int:
        """Where to look in a domain unbounded both ways: beside a point it excludes, or at 0 (2000-01-01 for dates)."""
        if self.excluded:
            return min(self.excluded)
        return date(2000, 1, 1).toordinal() if self.spec.type == "date" else 0

    def witness(self, current) -> Any:
        """The value in the domain nearest ``current`` (or nearest its lower end when unknown)."""
        if current is not None and self.contains(current):
            return current
        whole, step = self.spec.type in ("integer", "date"), self._step()
        if current is not None:
            x = to_number(self.spec, current)
        else:
            x = self.lo if self.lo is not None else self.hi if self.hi is not None else self._origin()
        if self.lo is not None:
            x = max(x, self.lo + (step if self.lo_open else 0))
        if self.hi is not None:
            x = min(x, self.hi - (step if self.hi_open else 0))
        for start in ((math.ceil(x), math.floor(x)) if whole else (x,)):
            for k in (0, 1, -1, 2, -2, 3, -3):  # step around points the domain excludes
                candidate = int(start + k * step) if whole else round(start + k * step, 9)
                if self._in_bounds(candidate) and candidate not in self.excluded:
                    return from_number(self.spec, candidate)
        return None

    def anchors(self, current) -> list:
        """A few values to try when another fact must be placed against this one."""
        step, found = self._step(), [self.witness(current), self.witness(None)]
        low = self.witness(None)
        if low is not None:
            found += [Interval(self.spec, to_number(self.spec, low) + k * step, False, self.hi, self.hi_open,
                               self.excluded).witness(None) for k in (1, 2, 3)]
        if self.hi is not None:
            found.append(Interval(self.spec, self.hi, False, self.hi, False).witness(None) if not self.hi_open
                         and self.hi not in self.excluded else None)
        return [v for v in dict.fromkeys(found) if v is not None and self.contains(v)]

    def describe(self) -> str:
        """The bounds a rule sets, e.g. ``at least 50%`` (the schema's own range goes without saying)."""
        schema = base_domain(self.spec)
        parts = []
        if self.lo is not None and self.lo == self.hi:
            parts.append(f"exactly {_text(self.spec, self.lo)}")
        else:
            if self.lo is not None and (self.lo, self.lo_open) != (schema.lo, schema.lo_open):
                parts.append(f"{'more than' if self.lo_open else 'at least'} {_text(self.spec, self.lo)}")
            if self.hi is not None and (self.hi, self.hi_open) != (schema.hi, schema.hi_open):
                parts.append(f"{'less than' if self.hi_open else 'at most'} {_text(self.spec, self.hi)}")
        if self.excluded:
            parts.append("other than " + ", ".join(_text(self.spec, x) for x in sorted(self.excluded)))
        return " and ".join(parts) or "any value"


@dataclass(frozen=True)
class Choice:
    """One of a finite set of values (booleans and enums)."""

    spec: m.FactSpec
    allowed: frozenset

    def _all(self) -> tuple:
        return (True, False) if self.spec.type == "boolean" else tuple(self.spec.values)

    def contains(self, value) -> bool:
        return value in self.allowed

    def intersect(self, other: "Choice") -> "Choice | None":
        both = self.allowed & other.allowed
        return Choice(self.spec, both) if both else None

    def within(self, other: "Choice") -> bool:
        return self.allowed <= other.allowed

    def witness(self, current) -> Any:
        if current in self.allowed:
            return current
        return next((v for v in self._all() if v in self.allowed), None)

    def anchors(self, current) -> list:
        return list(dict.fromkeys([self.witness(current)] + [v for v in self._all() if v in self.allowed]))

    def describe(self) -> str:
        ordered = [v for v in self._all() if v in self.allowed]
        if len(ordered) == 1:
            return value_text(self.spec.type, ordered[0])
        if len(ordered) == len(self._all()):
            return "any value"
        left_out = [v for v in self._all() if v not in self.allowed]
        if len(ordered) > 3 and len(left_out) < len(ordered):
            return "anything but " + ", ".join(map(str, left_out))
        words = [value_text(self.spec.type, v) for v in ordered]
        return " or ".join(words) if len(words) == 2 else "one of " + ", ".join(words)


@dataclass(frozen=True)
class Members:
    """An enum list that includes every ``required`` value, none of ``excluded``, and one of each ``any_of`` set."""

    spec: m.FactSpec
    required: frozenset = frozenset()
    excluded: frozenset = frozenset()
    any_of: frozenset = frozenset()  # of frozensets

    def contains(self, value) -> bool:
        chosen = set(value)
        return (self.required <= chosen and not (self.excluded & chosen)
                and all(group & chosen for group in self.any_of))

    def intersect(self, other: "Members") -> "Members | None":
        required, excluded = self.required | other.required, self.excluded | other.excluded
        if required & excluded:
            return None
        groups = set()
        for group in self.any_of | other.any_of:
            if group & required:
                continue  # already met by a required member
            left = group - excluded
            if not left:
                return None
            groups.add(frozenset(left))
        return Members(self.spec, required, excluded, frozenset(groups))

    def within(self, other: "Members") -> bool:
        return (other.required <= self.required and other.excluded <= self.excluded
                and all(group & self.required or any(mine <= group for mine in self.any_of)
                        for group in other.any_of))

    def witness(self, current) -> Any:
        chosen = (set(current or ()) - self.excluded) | self.required
        for group in sorted(self.any_of, key=sorted):
            if not group & chosen:
                chosen.add(next(v for v in self.spec.values if v in group))
        return tuple(v for v in self.spec.values if v in chosen)

    def anchors(self, current) -> list:
        return [self.witness(current)]

    def describe(self) -> str:
        parts = []
        if self.required:
            parts.append("including " + ", ".join(v for v in self.spec.values if v in self.required))
        for group in sorted(self.any_of, key=sorted):
            parts.append("including one of " + ", ".join(v for v in self.spec.values if v in group))
        if self.excluded:
            parts.append("without " + ", ".join(v for v in self.spec.values if v in self.excluded))
        return " and ".join(parts) or "any list"


Domain = Interval | Choice | Members


def base_domain(spec: m.FactSpec) -> Domain:
    """Every value a fact may take at all, from its schema."""
    if spec.type in m.NUMERIC_TYPES:
        low, high = spec.range or (None, None)
        if spec.type == "percentage":
            low, high = (0.0 if low is None else low), (1.0 if high is None else high)
        return Interval(spec, low, False, high, False)
    if spec.type == "enum_list":
        return Members(spec)
    if spec.type in ("boolean", "enum"):
        return Choice(spec, frozenset((True, False) if spec.type == "boolean" else spec.values))
    raise ValueError(f"conditions cannot test {spec.type} facts")


def comparison_domains(spec: m.FactSpec, op: str, threshold: Any) -> list[Domain]:
    """The domains (alternatives) of values for which ``fact op threshold`` holds, within the schema."""
    base = base_domain(spec)
    if spec.type in m.NUMERIC_TYPES:
        x = to_number(spec, threshold)
        shapes = {
            "at_least": dict(lo=x), "more_than": dict(lo=x, lo_open=True),
            "at_most": dict(hi=x), "less_than": dict(hi=x, hi_open=True),
            "equals": dict(lo=x, hi=x), "not_equals": dict(excluded=frozenset({x})),
        }
        wanted = [Interval(spec, **shapes[op])]
    elif spec.type == "boolean":
        wanted = [Choice(spec, frozenset({threshold if op == "is" else not threshold}))]
    elif spec.type == "enum":
        values = frozenset(threshold) if isinstance(threshold, tuple) else frozenset({threshold})
        keep = op in ("is", "one_of")
        wanted = [Choice(spec, values if keep else frozenset(spec.values) - values)]
    else:
        values = frozenset(threshold) if isinstance(threshold, tuple) else frozenset({threshold})
        if op in ("includes", "includes_all"):
            wanted = [Members(spec, required=values)]
        elif op in ("excludes", "includes_none"):
            wanted = [Members(spec, excluded=values)]
        elif op == "includes_any":
            wanted = [Members(spec, any_of=frozenset({values}))]
        elif op == "not_includes_all":
            wanted = [Members(spec, excluded=frozenset({v})) for v in sorted(values)]
        else:
            raise ValueError(op)
    return [d for d in (base.intersect(w) for w in wanted) if d is not None]


def negated(op: str) -> str:
    """The operator that holds exactly when ``op`` fails, on a known value."""
    if op == "includes_all":
        return "not_includes_all"
    return NEGATED[op]


def failing_domains(spec: m.FactSpec, op: str, threshold: Any) -> list[Domain]:
    """The domains of known values for which ``fact op threshold`` fails."""
    return comparison_domains(spec, negated(op), threshold)


def point(spec: m.FactSpec, value: Any) -> Domain:
    """The domain holding only ``value``: keeps a fact as it is."""
    if spec.type in m.NUMERIC_TYPES:
        x = to_number(spec, value)
        return Interval(spec, x, False, x, False)
    if spec.type == "enum_list":
        return Members(spec, required=frozenset(value), excluded=frozenset(spec.values) - frozenset(value))
    return Choice(spec, frozenset({value}))
