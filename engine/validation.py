"""Check a parsed document against its JSON Schema, reporting located, readable problems."""
from __future__ import annotations

from functools import lru_cache

from .diagnostics import Collector, did_you_mean
from .source import Document

_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "text", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "nothing",
}


@lru_cache(maxsize=None)
def _validator(schema_name: str):
    from jsonschema import Draft202012Validator  # imported only when a document needs its diagnostics

    from .schemas import ALL

    return Draft202012Validator(ALL[schema_name])


def _found(value) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing"


def _expected(types) -> str:
    types = [types] if isinstance(types, str) else list(types)
    return " or ".join(_TYPE_WORDS.get(t, t) for t in types)


def check_schema(document: Document, schema_name: str, collector: Collector) -> bool:
    """Report every schema violation in ``document``; True when there were none."""
    from .fast_schema import conforms

    if conforms(schema_name, document.data):  # generated validators: microseconds (engine/fast_schema.py)
        return True
    errors = sorted(_validator(schema_name).iter_errors(document.data), key=lambda e: list(map(str, e.path)))
    # jsonschema reports each missing key of a mapping as an error of its own, and ``_report``
    # names every missing key of that mapping: one error per mapping is enough
    errors = [e for i, e in enumerate(errors) if e.validator != "required" or not any(
        o.validator == "required" and o.absolute_path == e.absolute_path for o in errors[:i])]
    for error in errors:
        before = len(collector.items)
        _report(document, error, collector)
        if len(collector.items) == before:  # never refuse a document without saying why
            collector.add(document.at(tuple(error.absolute_path)), "BD101", error.message)
    return not errors


def _mapping_branches(error) -> set[int]:
    """Indexes of the anyOf/oneOf branches that accept a mapping."""
    return {i for i, branch in enumerate(error.validator_value) if "object" in str(branch.get("type", ""))}


def _report(document: Document, error, collector: Collector) -> None:
    path = tuple(error.absolute_path)
    where = document.at(path)
    kind = error.validator
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        for key in missing:
            collector.add(where, "BD101", f"missing required key '{key}'")
    elif kind == "additionalProperties":
        allowed = error.schema.get("properties", {})
        for key in sorted(set(error.instance) - set(allowed)):
            collector.add(
                document.at(path + (key,), key=True), "BD101", f"unknown key '{key}'",
                suggestion=did_you_mean(key, allowed),
            )
    elif kind == "enum":
        options = ", ".join(str(v) for v in error.validator_value)
        suggestion = did_you_mean(error.instance, [str(v) for v in error.validator_value]) \
            if isinstance(error.instance, str) else None
        collector.add(where, "BD101", f"{_found(error.instance)} is not allowed here; use one of: {options}",
                      suggestion=suggestion)
    elif kind == "type":
        collector.add(where, "BD101", f"expected {_expected(error.validator_value)}, found {_found(error.instance)}")
    elif kind == "pattern":
        hint = error.schema.get("description", f"pattern {error.validator_value}")
        collector.add(where, "BD101", f"{_found(error.instance)} is not valid here: expected {hint}")
    elif kind in ("anyOf", "oneOf") and isinstance(error.instance, dict) and _mapping_branches(error):
        # a mapping given where a mapping branch exists: report that branch's problems
        branches = _mapping_branches(error)
        for sub in error.context:
            if sub.relative_schema_path[0] in branches:
                _report(document, sub, collector)
    elif kind in ("anyOf", "oneOf") and error.instance is None:
        collector.add(where, "BD101", "no value given (null); leave the key out when it is unknown")
    elif kind in ("anyOf", "oneOf"):
        collector.add(where, "BD101", f"{_found(error.instance)} is not a valid value here")
    elif kind == "minItems":
        collector.add(where, "BD101", f"needs at least {error.validator_value} item(s)")
    elif kind == "uniqueItems":
        collector.add(where, "BD101", "items must not repeat")
    else:
        collector.add(where, "BD101", error.message)
