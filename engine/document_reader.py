"""A fast path from a plainly valid facts document to its entity.

``facts_loader.entity_from_document`` reads a facts document (a facts file, a JSON Lines
row) from its positional form: it checks the schema, normalises every fact and makes a
``FactValue`` for each, located at its value, which takes hundreds of microseconds. ``read``
does the same checks on the plain data a parser gives, compiled once per knowledge base,
and defers each ``FactValue`` (and the location it needs) until an output asks for it. It
accepts only a document the slow path reads without any diagnostic, into an equal entity;
it declines (None) every other one, which the slow path then reads to report its problems
exactly. ``parse_json`` is its JSON parser.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from . import model as m
from .diagnostics import Location
from .row_reader import FACT_NAME, ID, KIND, iso_date, number_bounds
from .schemas import EVIDENCE_SOURCES

Check = Callable[[Any], Any]  # a parsed value -> its normalised value; ValueError (or TypeError) to decline
Locate = Callable[[tuple], Location]  # a path into the document -> where its value is

_ENTITY_KEYS = frozenset(("kind", "id", "name", "description", "facts"))


def _object(pairs: list) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a repeated key")
    return data


def parse_json(text: str) -> Any:
    """``text`` as JSON (NaN and Infinity are words to the slow path, so here too); None for
    text JSON refuses and for a repeated key."""
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=str)
    except (ValueError, RecursionError):
        return None


# -- checks: a parser has typed each value, so each fact's type takes only its own ---------------

def _text(value) -> str:
    if type(value) is not str:
        raise ValueError(value)
    return value


def _filled(value) -> str:
    if type(value) is not str or not value:  # the schema's minLength 1
        raise ValueError(value)
    return value


def _boolean(value) -> bool:
    if type(value) is not bool:  # 'true' is text, refused for a boolean fact
        raise ValueError(value)
    return value


def _date(value) -> str:
    return iso_date(_text(value))


def _member(allowed: frozenset[str]) -> Check:
    def check(value) -> str:
        if value not in allowed:  # TypeError for a list or a mapping
            raise ValueError(value)
        return value
    return check


def _members(allowed: frozenset[str]) -> Check:
    def check(value) -> tuple[str, ...]:
        if type(value) is not list:
            raise ValueError(value)
        distinct = set(value)  # TypeError for an item that is a list or a mapping
        if len(distinct) != len(value) or not allowed.issuperset(distinct):
            raise ValueError(value)
        return tuple(value)
    return check


def _number(spec: m.FactSpec) -> Check:
    low, high = number_bounds(spec)

    # type() rather than isinstance: a bool is not a number
    def check_float(value) -> float:
        if type(value) not in (int, float) or not low <= value <= high:
            raise ValueError(value)
        return float(value)

    def check_integer(value) -> int:
        if type(value) not in (int, float) or not low <= value <= high or value != int(value):
            raise ValueError(value)
        return int(value)  # 3.0 is 3

    return check_integer if spec.type == "integer" else check_float


def _check(spec: m.FactSpec) -> Check:
    kind = spec.type
    if kind in ("number", "percentage", "integer"):
        return _number(spec)
    if kind == "enum":
        return _member(frozenset(spec.values))
    if kind == "enum_list":
        return _members(frozenset(spec.values))
    return {"boolean": _boolean, "date": _date}.get(kind, _text)  # normalise reads any other type as text


_EVIDENCE_CHECKS: dict[str, Check] = {
    "source": _member(frozenset(EVIDENCE_SOURCES)), "as_of": _date, "reference": _filled, "note": _filled,
}


def _plans(kb: m.KnowledgeBase) -> dict[str, dict[str, Check]]:
    """Entity kind -> fact -> its check, for every kind the slow path reads: one a pack evaluates,
    that has facts and a name the schema allows. A fact missing here declines the document."""
    plans = {}
    for kind in {pack.entity for pack in kb.packs.values()}:
        schema = kb.facts_for(kind)
        if schema and KIND.search(kind):
            plans[kind] = {name: _check(spec) for name, spec in schema.items() if FACT_NAME.search(name)}
    return plans


_last: tuple = (None, {})  # (knowledge base, its plans): a program reads with one knowledge base


def read(data, kb: m.KnowledgeBase, source: str, locate: Locate) -> m.Entity | None:
    """The entity of a plainly valid facts document (plain data, as parsed), equal to what the
    slow path reads; else None. ``locate`` is asked where a fact's value is only when an
    output shows it."""
    global _last
    if _last[0] is not kb:
        _last = (kb, _plans(kb))
    if type(data) is not dict or not _ENTITY_KEYS.issuperset(data):
        return None
    kind, entity_id, name, facts = data.get("kind"), data.get("id"), data.get("name"), data.get("facts")
    checks = _last[1].get(kind) if type(kind) is str else None
    if (checks is None or type(entity_id) is not str or not ID.search(entity_id) or type(name) is not str
            or not name or type(facts) is not dict):
        return None
    description = data.get("description")
    if "description" in data and (type(description) is not str or not description):
        return None
    values: dict[str, Any] = {}
    evidence: dict[str, m.Evidence] = {}
    try:
        for fact, given in facts.items():
            check = checks[fact]  # KeyError for a fact this kind does not have
            if type(given) is dict:
                values[fact] = check(given["value"])
                if len(given) > 1:  # KeyError for a key that is not an evidence field
                    evidence[fact] = m.Evidence(**{key: _EVIDENCE_CHECKS[key](text)
                                                   for key, text in given.items() if key != "value"})
            else:
                values[fact] = check(given)
    except (KeyError, ValueError, TypeError):
        return None

    def where(fact: str) -> Location:
        return locate(("facts", fact, "value") if type(facts[fact]) is dict else ("facts", fact))

    return m.Entity(kind, entity_id, name, description, source, m.LazyFacts(values, evidence, where))
