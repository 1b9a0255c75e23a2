"""Read facts files (one entity each, YAML or JSON) and check them against the fact schema."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from . import model as m
from .diagnostics import Collector, InvalidInput, Location, did_you_mean
from .rule_limits import largest_comparable

if TYPE_CHECKING:  # the YAML reader and the schema checks are loaded when a facts file is read
    from .source import Document

FACTS_SUFFIXES = (".yaml", ".yml", ".json")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def facts_paths(paths: Iterable[str | Path], collector: Collector) -> list[Path]:
    """Expand files and folders (their facts files, sorted) into a list of files."""
    found: list[tuple[Path, Path]] = []  # (as named, where it really is)
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(_facts_in(path))
            if not inside:
                collector.add(Location(str(path)), "BD008",
                              f"folder holds no facts files ({', '.join(FACTS_SUFFIXES)})")
            found.extend(inside)
        elif path.is_file():
            found.append((path, path.resolve()))
        else:
            collector.add(Location(str(path)), "BD008", "no such file or folder")
    # a file named twice (or also inside a folder named) is one entity, read once
    unique = {real: path for path, real in reversed(found)}
    return [path for path, real in found if unique[real] is path]


def _facts_in(folder: Path) -> Iterator[tuple[Path, Path]]:
    """The facts files in ``folder``, each with where it really is: the folder resolved once
    and the file's name, but for a link (resolving each file cost 25 us)."""
    import os

    real_folder = folder.resolve()
    with os.scandir(folder) as entries:
        for entry in entries:
            path = folder / entry.name
            if path.suffix in FACTS_SUFFIXES and entry.is_file():  # is_file follows a link, as Path.is_file
                yield path, (path.resolve() if entry.is_symlink() else real_folder / entry.name)


def load_entities(paths: Iterable[str | Path], kb: m.KnowledgeBase) -> list[m.Entity]:
    """Load every facts file (and every row of a CSV or JSON Lines table) under ``paths``;
    raise InvalidInput with all problems found."""
    from .tabular_input import is_table, read_table

    collector = Collector()
    located: list[tuple[m.Entity, Location]] = []
    for path in facts_paths(paths, collector):
        if is_table(path):
            located.extend(read_table(path, kb, collector))
            continue
        entity = load_entity(path, kb, collector)
        if entity is not None:
            located.append((entity, Location(entity.source, 1, 1)))
    seen: dict[tuple, str] = {}
    for entity, where in located:
        key = (entity.kind, entity.id)
        if key in seen:
            collector.add(where, "BD307", f"entity id '{entity.id}' is also used by {seen[key]}")
        seen.setdefault(key, entity.source)
    collector.raise_if_errors()
    return [entity for entity, _ in located]


def load_entity(path: Path, kb: m.KnowledgeBase, collector: Collector) -> m.Entity | None:
    """The entity of one facts file, or None after reporting its problems.

    A plainly valid file is read without positions (engine/document_reader.py), and read
    positionally only when an output asks where a value is; any other file is read
    positionally at once, so that its problems are reported exactly."""
    from .document_reader import read

    shown, is_json = str(path), path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8-sig")  # as engine/source.py reads it: a byte-order mark is not content
    except (OSError, UnicodeDecodeError):
        from .source import read_document

        document = read_document(path, collector)  # reports why the file cannot be read
    else:
        from .source import read_plain, read_positional

        data, locate = read_plain(text, shown, is_json)
        entity = read(data, kb, shown, locate)
        if entity is not None:
            return entity
        document = read_positional(text, shown, is_json, collector)
    return None if document is None else entity_from_document(document, kb, collector, source=shown)


def entity_from_document(document: Document, kb: m.KnowledgeBase, collector: Collector,
                         source: str) -> m.Entity | None:
    """The entity a parsed facts document describes, or None after reporting its problems."""
    from .validation import check_schema

    if not check_schema(document, "facts", collector):
        return None
    data = document.data
    schema = kb.facts_for(data["kind"])
    if not schema:
        kinds = sorted({p.entity for p in kb.packs.values()})
        collector.add(document.at(("kind",)), "BD306", f"no pack evaluates entities of kind '{data['kind']}'",
                      suggestion=did_you_mean(data["kind"], kinds))
        return None
    facts = read_facts(document, ("facts",), schema, collector)
    if facts is None:
        return None
    return m.Entity(kind=data["kind"], id=str(data["id"]), name=data["name"],
                    description=data.get("description"), source=source, facts=m.frozen_map(facts))


def read_facts(document: Document, path: tuple, schema: Mapping[str, m.FactSpec],
               collector: Collector) -> dict[str, m.FactValue] | None:
    """Check and normalise the facts mapping at ``path`` of ``document``."""
    before = len(collector.errors)
    raw = document.data
    for key in path:
        raw = raw[key]
    facts: dict[str, m.FactValue] = {}
    for name, given in raw.items():
        spec = schema.get(name)
        if spec is None:
            collector.add(document.at(path + (name,), key=True), "BD301", f"unknown fact '{name}'",
                          suggestion=did_you_mean(name, schema))
            continue
        if isinstance(given, dict):
            value, value_path = given["value"], path + (name, "value")
            evidence = m.Evidence(given.get("source"), given.get("as_of"), given.get("reference"), given.get("note"))
            if evidence.as_of is not None:
                _check_date(evidence.as_of, document.at(path + (name, "as_of")), collector)
        else:
            value, value_path = given, path + (name,)
            evidence = m.NO_EVIDENCE
        where = document.at(value_path)
        normal = normalise(value, spec, where, collector)
        if normal is not None:
            facts[name] = m.FactValue(name, normal, evidence, where)
    return None if len(collector.errors) > before else facts




def _check_date(text: str, where: Location, collector: Collector) -> bool:
    # Only YYYY-MM-DD: Python 3.11 also reads '20201231' or '2020-W53-4', which would then
    # compare wrongly as text against ISO dates.
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
        return True
    except ValueError:
        collector.add(where, "BD305", f"'{text}' is not a real date (use YYYY-MM-DD)")
        return False


def _shown(value) -> str:
    """A value as the facts file wrote it (``true``, ``[a, b]``, ``'text'``), not as Python prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(v if isinstance(v, str) else _shown(v) for v in value) + "]"
    return repr(value)


def normalise(value, spec: m.FactSpec, where: Location, collector: Collector):
    """The value in the fact's type (float, int, bool, str or tuple), or None after a diagnostic."""
    kind = spec.type
    if kind in ("number", "integer", "percentage"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if kind == "percentage" and isinstance(value, str) and value.strip().endswith("%"):
                try:
                    hint = f"; write {float(value.strip()[:-1]) / 100:g} for {value.strip()}"
                except ValueError:
                    pass
            collector.add(where, "BD302", f"'{spec.name}' must be a number, found {_shown(value)}{hint}")
            return None
        if value != value or value in (float("inf"), float("-inf")):
            collector.add(where, "BD302", f"'{spec.name}' must be a finite number")
            return None
        if kind == "integer" and value != int(value):
            collector.add(where, "BD302", f"'{spec.name}' must be a whole number, found {value}")
            return None
        largest = largest_comparable(kind == "integer")
        if abs(value) > largest:
            collector.add(where, "BD303", f"'{spec.name}' is too large: it must lie within ±{largest:g}")
            return None
        if spec.range:
            low, high = spec.range
            if (low is not None and value < low) or (high is not None and value > high):
                hint = "; percentages are shares from 0 to 1 (write 0.45 for 45%)" if kind == "percentage" else ""
                collector.add(where, "BD303", f"'{spec.name}' is {value:g}, outside "
                              f"[{'-∞' if low is None else f'{low:g}'}, {'∞' if high is None else f'{high:g}'}]{hint}")
                return None
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            collector.add(where, "BD302", f"'{spec.name}' must be true or false, found {_shown(value)}")
            return None
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in spec.values:
            collector.add(where, "BD304", f"'{spec.name}' cannot be {_shown(value)}; allowed: {', '.join(spec.values)}",
                          suggestion=did_you_mean(str(value), spec.values))
            return None
        return value
    if kind == "enum_list":
        if not isinstance(value, list):
            collector.add(where, "BD302", f"'{spec.name}' must be a list of values, found {_shown(value)}")
            return None
        bad = [v for v in value if not isinstance(v, str) or v not in spec.values]
        for v in bad:
            collector.add(where, "BD304", f"'{spec.name}' cannot include {_shown(v)}; allowed: {', '.join(spec.values)}",
                          suggestion=did_you_mean(str(v), spec.values))
        if len(set(map(str, value))) != len(value):
            collector.add(where, "BD304", f"'{spec.name}' lists a value twice")
            return None
        return None if bad else tuple(value)
    if kind == "date":
        if not isinstance(value, str) or not _check_date(value, where, collector):
            if not isinstance(value, str):
                collector.add(where, "BD305", f"'{spec.name}' must be a date like 2024-06-30")
            return None
        return value
    if not isinstance(value, str):
        collector.add(where, "BD302", f"'{spec.name}' must be text, found {_shown(value)}")
        return None
    return value
