"""Read YAML or JSON documents safely, keeping the line and column of every node.

Only plain data is accepted: no tags beyond YAML's standard scalars, no duplicate
keys, one document per file. Dates stay ISO strings (the schema checks them) and
only ``true``/``false`` are booleans, so ``no`` or ``on`` stay words, as in YAML 1.2.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Collector, Location

Path_ = tuple  # a path into a document: keys and list indexes

_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


@dataclass(frozen=True)
class Document:
    """A parsed document and where each of its nodes came from."""

    path: str
    data: Any
    value_positions: dict  # path tuple -> (line, col) of the value
    key_positions: dict  # path tuple -> (line, col) of the key naming it

    def at(self, path: Path_, key: bool = False) -> Location:
        """Location of the value at ``path`` (or of its key), falling back to the parent."""
        table = self.key_positions if key else self.value_positions
        probe = tuple(path)
        while True:
            if probe in table:
                line, col = table[probe]
                return Location(self.path, line, col)
            if not probe:
                return Location(self.path, 1, 1)
            probe = probe[:-1]


class _Reader:
    def __init__(self, path: str, collector: Collector):
        self.path = path
        self.collector = collector
        self.values: dict = {}
        self.keys: dict = {}
        self.scalars = yaml.SafeLoader("")

    def where(self, node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node, path: tuple) -> Any:
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _STANDARD_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.collector.add(self.where(node), "BD004", f"tag '{tag}' is not allowed; write plain data")
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(child, path + (i,)) for i, child in enumerate(node.value)]
        return self.scalar(node)

    def mapping(self, node, path: tuple) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.collector.add(self.where(key_node), "BD004", "merge keys ('<<') are not allowed")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.collector.add(self.where(key_node), "BD007", "keys must be plain strings")
                continue
            key = key_node.value
            if key in result:
                first = self.keys[path + (key,)]
                self.collector.add(
                    self.where(key_node), "BD003",
                    f"duplicate key '{key}' (first defined at line {first[0]})",
                )
                continue
            self.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.convert(value_node, path + (key,))
        return result

    def scalar(self, node) -> Any:
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            return node.value
        try:
            return self.scalars.construct_object(node)
        except yaml.YAMLError as error:
            self.collector.add(self.where(node), "BD002", f"bad value: {error}")
            return None


def read_document(path: Path | str, collector: Collector, display: str | None = None) -> Document | None:
    """Parse one file; report problems to ``collector`` and return None if unusable."""
    shown = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        collector.add(Location(shown, 0, 0), "BD001", f"cannot read file: {getattr(error, 'strerror', None) or error}")
        return None
    return parse_text(text, shown, collector)


def parse_text(text: str, shown: str, collector: Collector) -> Document | None:
    """Parse YAML (or JSON, which is read as YAML) text named ``shown``."""
    before = len(collector.errors)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or "syntax error"
        collector.add(Location(shown, line, col), "BD002", f"{problem}".strip())
        return None
    except yaml.YAMLError as error:
        collector.add(Location(shown, 1, 1), "BD002", str(error))
        return None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        collector.add(Location(shown, 1, 1), "BD005", "file is empty; expected a mapping")
        return None
    if len(nodes) > 1:
        second = nodes[1]
        collector.add(
            Location(shown, second.start_mark.line + 1, second.start_mark.column + 1),
            "BD006", "only one document per file is allowed",
        )
        return None
    reader = _Reader(shown, collector)
    data = reader.convert(nodes[0], ())
    if len(collector.errors) > before:
        return None
    return Document(shown, data, reader.values, reader.keys)
