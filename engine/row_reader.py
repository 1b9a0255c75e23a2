"""A fast path from a plainly valid CSV row to its entity.

``tabular_input`` reads a CSV row the way it reads a facts file: it builds the document
the row stands for, checks it against the facts schema and normalises each fact, which
takes about 200 µs a row. A ``RowReader`` does the same checks compiled once per header
and knowledge base: each column knows what it holds, and each fact column has a
converter for its fact's type. It accepts only a row that the slow path would read
without any diagnostic, into an equal entity; it declines (None) every other row, which
the slow path then reads to report its problems exactly.
"""
from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Callable, NamedTuple

from . import model as m
from .diagnostics import Location
from .rule_limits import largest_comparable
from .schemas import EVIDENCE_SOURCES, FACTS_FILE

if TYPE_CHECKING:
    from .tabular_input import Header, Row

# The facts schema's own patterns, used with .search as jsonschema does (so '$' also
# matches before a final newline); engine/document_reader.py checks documents with them too.
KIND = re.compile(FACTS_FILE["properties"]["kind"]["pattern"])
ID = re.compile(FACTS_FILE["properties"]["id"]["pattern"])
FACT_NAME = re.compile(FACTS_FILE["properties"]["facts"]["propertyNames"]["pattern"])
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # date.fromisoformat reads ASCII digits only
_BOOLEANS = {"true": True, "false": False}
_CACHE_SIZE = 8

Convert = Callable[[str], object]  # a stripped, non-empty cell -> its value; ValueError to decline


def _refuse(text: str):
    raise ValueError(text)


def _boolean(text: str) -> bool:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise ValueError(text)
    return value


def iso_date(text: str) -> str:
    """``text`` when it is a real date written YYYY-MM-DD; else ValueError."""
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(text)
    date.fromisoformat(text)  # ValueError for a day that does not exist (2021-02-30)
    return text


def _member(allowed: frozenset[str]) -> Convert:
    def convert(text: str) -> str:
        if text not in allowed:
            raise ValueError(text)
        return text
    return convert


def _members(allowed: frozenset[str], empty: str, separator: str) -> Convert:
    def convert(text: str) -> tuple[str, ...]:
        if text == empty:
            return ()
        parts = [part.strip() for part in text.split(separator)]
        parts = [part for part in parts if part]
        if not allowed.issuperset(parts) or len(set(parts)) != len(parts):
            raise ValueError(text)
        return tuple(parts)
    return convert


def number_bounds(spec: m.FactSpec) -> tuple[float, float]:
    """The interval a number fact's value must lie in: the fact's range, within the magnitudes
    durable_rules compares. Being finite, it also refuses nan and ±inf."""
    largest = largest_comparable(spec.type == "integer")
    low, high = spec.range or (None, None)
    return (-largest if low is None else max(low, -largest), largest if high is None else min(high, largest))


def _number(spec: m.FactSpec) -> Convert:
    integer = spec.type == "integer"
    low, high = number_bounds(spec)

    def convert_float(text: str) -> float:
        if "_" in text:  # float() reads '1_000'; a facts file does not
            raise ValueError(text)
        value = float(text)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    def convert_integer(text: str) -> int:
        if "_" in text:
            raise ValueError(text)
        # as tabular_input.typed_cell reads it: digits as an int, anything else as a float
        # that must then be whole ('3.0' is 3)
        value = int(text) if text.lstrip("+-").isdigit() else float(text)
        if not low <= value <= high or value != int(value):
            raise ValueError(text)
        return int(value)

    return convert_integer if integer else convert_float


def exact_values(spec: m.FactSpec) -> dict[str, object] | None:
    """The cells of a boolean or enum fact that need no converting, mapped to their values
    (most cells of a spreadsheet are written exactly so; one dict lookup spares a call)."""
    if spec.type == "boolean":
        return {form: value for word, value in _BOOLEANS.items() for form in (word, word.upper(), word.title())}
    if spec.type == "enum":
        return {value: value for value in spec.values}
    return None


def _converter(spec: m.FactSpec, empty: str, separator: str) -> Convert:
    kind = spec.type
    if kind in ("number", "percentage", "integer"):
        return _number(spec)
    if kind == "boolean":
        return _boolean
    if kind == "enum":
        return _member(frozenset(spec.values))
    if kind == "enum_list":
        return _members(frozenset(spec.values), empty, separator)
    if kind == "date":
        return iso_date
    if kind == "text":
        return str  # str() of a str is that str
    return _refuse


_EVIDENCE_CHECKS: dict[str, Convert] = {
    "source": _member(frozenset(EVIDENCE_SOURCES)), "as_of": iso_date, "reference": str, "note": str,
}


def _well_formed(pairs: list[tuple[str, str | None]], entity: dict[str, int]) -> bool:
    """Whether a header is one tabular_input._header accepts (a Header may be built by hand)."""
    return (len(set(pairs)) == len(pairs) and not any(pairs[index][1] for index in entity.values())
            and all(key is None or key in _EVIDENCE_CHECKS for _, key in pairs)
            and {"kind", "id", "name"} <= entity.keys())


class _Plan(NamedTuple):
    """What to do with each column for one kind of entity."""

    values: tuple[tuple[int, str, dict | None, Convert], ...]  # (cell index, fact, exact_values, converter)
    evidence: tuple[tuple[int, str, str, Convert], ...]  # (cell index, fact, evidence key, check)
    early: tuple[tuple[int, str], ...]  # (cell index, fact) of evidence left of its fact's value


class RowReader:
    """Rows of one CSV header read for one knowledge base, compiled once."""

    def __init__(self, header: Header, kb: m.KnowledgeBase):
        from .tabular_input import EMPTY_LIST, ENTITY_COLUMNS, LIST_SEPARATOR  # tabular_input imports this module

        self.kb = kb  # held, so that reader_for's id(kb) names this knowledge base while cached
        pairs = [(name, evidence) for name, evidence, _ in header.columns]
        entity = {name: index for index, (name, evidence) in enumerate(pairs) if name in ENTITY_COLUMNS}
        self._plans: dict[str, _Plan] = {}
        if not _well_formed(pairs, entity):
            self._width = None  # no row has that many cells: every row goes the slow way
            return
        self._width = len(pairs)
        self._kind, self._id, self._name = entity["kind"], entity["id"], entity["name"]
        self._description = entity.get("description")
        self._value_index = {name: index for index, (name, evidence) in enumerate(pairs)
                             if evidence is None and name not in ENTITY_COLUMNS}
        self._cols = {name: header.columns[index][2] for name, index in self._value_index.items()}
        for kind in {pack.entity for pack in kb.packs.values()}:
            schema = kb.facts_for(kind)
            if schema and KIND.search(kind):  # else the slow path refuses the kind (BD306, BD101)
                self._plans[kind] = self._plan(pairs, schema, EMPTY_LIST, LIST_SEPARATOR)

    def _plan(self, pairs, schema: dict[str, m.FactSpec], empty: str, separator: str) -> _Plan:
        values, evidence, early = [], [], []
        for index, (name, key) in enumerate(pairs):
            if name not in self._value_index:
                continue
            spec = schema.get(name) if FACT_NAME.search(name) else None
            if key is None:
                # a fact this kind does not have is an error whenever its cell is filled
                values.append((index, name, None, _refuse) if spec is None else
                              (index, name, exact_values(spec), _converter(spec, empty, separator)))
            elif spec is not None:  # else its value cell, when filled, already declines the row
                evidence.append((index, name, key, _EVIDENCE_CHECKS[key]))
                if index < self._value_index[name]:
                    early.append((index, name))
        return _Plan(tuple(values), tuple(evidence), tuple(early))

    def read(self, row: Row) -> m.Entity | None:
        """The entity of a plainly valid row, equal to what the slow path reads; else None."""
        cells = row.cells
        if len(cells) != self._width:
            return None
        kind = cells[self._kind].strip()
        plan = self._plans.get(kind)
        if plan is None:
            return None
        entity_id, name = cells[self._id].strip(), cells[self._name].strip()
        if not name or not ID.search(entity_id):
            return None
        description = (cells[self._description].strip() or None) if self._description is not None else None
        values: dict[str, object] = {}
        try:
            for index, fact, exact, convert in plan.values:
                text = cells[index]
                if text:
                    if exact is not None:
                        value = exact.get(text)
                        if value is not None:
                            values[fact] = value
                            continue
                    text = text.strip()
                    if text:  # a blank cell is unknown
                        values[fact] = convert(text)
            evidence = self._evidence(cells, plan, values) if plan.evidence else {}
        except ValueError:
            return None
        if plan.early:
            values = self._in_document_order(cells, plan, values)
        path, line, cols = row.path, row.line, self._cols
        return m.Entity(kind, entity_id, name, description, row.source,
                        m.LazyFacts(values, evidence, lambda fact: Location(path, line, cols[fact])))

    @staticmethod
    def _evidence(cells, plan: _Plan, values: dict) -> dict[str, m.Evidence]:
        given: dict[str, dict[str, str]] = {}
        for index, fact, key, check in plan.evidence:
            text = cells[index].strip()
            if text and fact in values:  # evidence for an unknown fact says nothing: dropped
                given.setdefault(fact, {})[key] = check(text)
        return {fact: m.Evidence(**fields) for fact, fields in given.items()}

    def _in_document_order(self, cells, plan: _Plan, values: dict) -> dict:
        # the slow path orders facts by the first filled cell of each, evidence included
        first = {fact: self._value_index[fact] for fact in values}
        for index, fact in plan.early:
            if fact in first and index < first[fact] and cells[index].strip():
                first[fact] = index
        return {fact: values[fact] for fact in sorted(values, key=first.__getitem__)}


_readers: dict[tuple, RowReader] = {}
_last: tuple = (None, None, None)  # (header, kb, reader) of the last call: a batch reads one header


def reader_for(header: Header, kb: m.KnowledgeBase) -> RowReader:
    """The reader of ``header``'s rows for ``kb``, from a small cache.

    Rows reach batch workers pickled, each chunk with its own copy of the header, so the
    cache compares headers by value. A knowledge base is matched by identity: one built in
    memory has no meaningful sha256. Each entry holds its knowledge base, so its id is not
    reused while the entry lives.
    """
    global _last
    last_header, last_kb, reader = _last
    if header is last_header and kb is last_kb:  # spares hashing the header for every row
        return reader
    key = (header, id(kb))
    reader = _readers.get(key)
    if reader is None:
        if len(_readers) >= _CACHE_SIZE:
            del _readers[next(iter(_readers))]  # the oldest
        reader = _readers[key] = RowReader(header, kb)
    _last = (header, kb, reader)
    return reader
