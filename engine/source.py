"""Read YAML or JSON documents safely, keeping the line and column of every node.

Only plain data is accepted: no tags beyond YAML's standard scalars, no duplicate
keys, no anchors or aliases, one document per file. Plain scalars are read as YAML 1.2's
core schema reads them (PyYAML follows YAML 1.1): only ``true``/``false`` are booleans,
so ``no`` or ``on`` stay words; ``1e-7`` is a number; ``012`` is twelve, and ``1:30`` or
``1_000`` are words, not numbers. Dates are plain strings (the schema and the facts loader check them).
JSON files are checked by the JSON parser first, so their errors read as JSON errors.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .diagnostics import Collector, Location

Path_ = tuple  # a path into a document: keys and list indexes

_TAG = "tag:yaml.org,2002:"
_STANDARD_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}

# YAML 1.2 core schema: what a plain (unquoted) scalar means.
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_MERGE = re.compile(r"^<<$")


class _RecordAliases:
    """Aliases are recorded, never expanded.

    Expanding aliases would let a small file grow without bound (or loop forever when
    an alias refers to its own parent), so each one becomes an empty placeholder and
    is reported.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            self.aliases.append((event.anchor, event.start_mark))
            return yaml.ScalarNode(_TAG + "null", "", event.start_mark, event.end_mark)
        return super().compose_node(parent, index)


class _Loader(_RecordAliases, yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core resolution; aliases are recorded, never expanded."""

    yaml_implicit_resolvers: dict = {}

    def __init__(self, text: str):
        super().__init__(text)
        self.aliases: list = []  # (anchor, mark) of every alias met


for _tag, _regexp, _first in (
    ("bool", _BOOL, "tTfF"), ("int", _INT, "-+0123456789"), ("float", _FLOAT, "-+0123456789."),
    ("null", _NULL, ["~", "n", "N", ""]), ("merge", _MERGE, "<"),
):
    _Loader.add_implicit_resolver(_TAG + _tag, _regexp, list(_first))

try:
    from yaml import _yaml as _libyaml  # PyYAML built with libyaml
except ImportError:  # pragma: no cover - PyYAML without its C extension
    _libyaml = None

if _libyaml is not None:
    class _FastLoader(_RecordAliases, yaml.composer.Composer, _libyaml.CParser, yaml.constructor.SafeConstructor,
                      yaml.resolver.Resolver):
        """The same loader on libyaml's scanner and parser (ten times faster); nodes, tags and
        marks come out identical. PyYAML's composer still builds the nodes, so aliases are
        recorded the same way."""

        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

        def __init__(self, text: str):
            _libyaml.CParser.__init__(self, text)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.aliases: list = []


def _compose_fast(text: str) -> tuple[list, list] | None:
    """(nodes, aliases) read by libyaml, or None: then PyYAML's own reader reads the text, so
    that every problem is reported exactly as it always was (libyaml's messages differ)."""
    if _libyaml is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    loader = _FastLoader(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return nodes, loader.aliases


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unicode(text: str) -> str:
    """Join the UTF-16 surrogate pairs JSON escapes (``\\ud83d\\ude00``) into one character, as JSON does."""
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise ValueError("text holds an unpaired UTF-16 surrogate escape (\\ud800 to \\udfff)") from None


def _number(tag: str, text: str):
    """The int or float a YAML 1.2 scalar names; ValueError when it names none."""
    if tag == _TAG + "int":
        if not _INT.match(text):
            raise ValueError(f"'{text}' is not a whole number")
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text)
    if not (_FLOAT.match(text) or _INT.match(text)):
        raise ValueError(f"'{text}' is not a number")
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    return float("nan") if lowered == ".nan" else float(text)


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
            try:
                key = _unicode(key_node.value)
            except ValueError as error:
                self.collector.add(self.where(key_node), "BD002", f"bad key: {error}")
                continue
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
        if node.tag == _TAG + "timestamp":
            return node.value
        if node.tag == _TAG + "bool" and node.value.lower() not in ("true", "false"):
            return node.value
        try:
            if node.tag in (_TAG + "int", _TAG + "float"):
                return _number(node.tag, node.value)
            value = self.scalars.construct_object(node)
            return _unicode(value) if isinstance(value, str) else value
        except (yaml.YAMLError, ValueError) as error:
            self.collector.add(self.where(node), "BD002", f"bad value: {error}")
            return None


def read_document(path: Path | str, collector: Collector, display: str | None = None) -> Document | None:
    """Parse one file; report problems to ``collector`` and return None if unusable."""
    shown = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark is not content
    except (OSError, UnicodeDecodeError) as error:
        collector.add(Location(shown, 0, 0), "BD001", f"cannot read file: {getattr(error, 'strerror', None) or error}")
        return None
    if Path(path).suffix.lower() == ".json":
        return parse_json_text(text, shown, collector)
    return parse_text(text, shown, collector)


def parse_json_text(text: str, shown: str, collector: Collector) -> Document | None:
    """Parse JSON text: JSON's own parser judges the syntax, the YAML reader adds positions."""
    try:
        json.loads(text, parse_constant=lambda name: name)  # NaN and Infinity then fail the schema
    except json.JSONDecodeError as error:
        collector.add(Location(shown, error.lineno, error.colno), "BD002", f"JSON syntax error: {error.msg}")
        return None
    except RecursionError:
        collector.add(Location(shown, 1, 1), "BD002", "JSON nested too deeply")
        return None
    # Valid JSON has no raw tab inside a string, so every tab is white space; YAML refuses
    # tabs there, and one space keeps every column where it was.
    return parse_text(text.replace("\t", " "), shown, collector)


def parse_text(text: str, shown: str, collector: Collector) -> Document | None:
    """Parse YAML text named ``shown``."""
    before = len(collector.errors)
    fast = _compose_fast(text)
    if fast is not None:
        nodes, aliases = fast
    else:
        composed = _compose(text, shown, collector)
        if composed is None:
            return None
        nodes, aliases = composed
    for anchor, mark in aliases:
        collector.add(Location(shown, mark.line + 1, mark.column + 1), "BD009",
                      f"alias '*{anchor}' is not allowed; write the value out in full")
    if aliases:
        return None
    return _document(nodes, shown, collector, before)


def _compose(text: str, shown: str, collector: Collector) -> tuple[list, list] | None:
    """(nodes, aliases) read by PyYAML, or None after reporting what is wrong."""
    try:
        loader = _Loader(text)  # its reader already refuses control characters
    except yaml.reader.ReaderError as error:
        at = error.position
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        character = f"#x{error.character:04x}" if isinstance(error.character, int) else repr(error.character)
        collector.add(Location(shown, line, col), "BD002", f"unacceptable character {character}: {error.reason}")
        return None
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or "syntax error"
        collector.add(Location(shown, line, col), "BD002", f"{problem}".strip())
        return None
    except yaml.YAMLError as error:
        collector.add(Location(shown, 1, 1), "BD002", str(error))
        return None
    except RecursionError:
        collector.add(Location(shown, 1, 1), "BD002", "nested too deeply")
        return None
    finally:
        loader.dispose()
    return nodes, loader.aliases


def _document(nodes: list, shown: str, collector: Collector, before: int) -> Document | None:
    """The one document among ``nodes``, converted, or None after reporting why not."""
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
    try:
        data = reader.convert(nodes[0], ())
    except RecursionError:
        collector.add(Location(shown, 1, 1), "BD002", "nested too deeply")
        return None
    if len(collector.errors) > before:
        return None
    return Document(shown, data, reader.values, reader.keys)


# -- reading a facts file fast: no positions unless asked ----------------------------------

def read_positional(text: str, shown: str, is_json: bool, collector: Collector) -> Document | None:
    """A facts file's text read with positions (as ``read_document`` reads a file)."""
    return (parse_json_text if is_json else parse_text)(text, shown, collector)


def read_plain(text: str, shown: str, is_json: bool) -> tuple[Any, Callable[[tuple], Location]]:
    """A facts file's data read without positions, and where its values are, found when first
    asked: a JSON file is read again positionally; a YAML file is composed again by libyaml
    for the marks that the positional reader takes from libyaml too."""
    if is_json:
        document = functools.cache(lambda: read_positional(text, shown, True, Collector()))
        return _plain_json(text), lambda path: document().at(path)
    data, positions = _plain_yaml()
    found = functools.cache(lambda: positions(text))
    return data(text), lambda path: Location(shown, *found()[path])


# ``read_document`` reads a JSON file as YAML (for positions). JSON reads it alike except
# where this finds something: a character YAML refuses, or reads as a line break (\x85,
# \u2028, \u2029), or a byte-order mark; a UTF-16 surrogate escape; a key whose colon is
# on a later line or far along its line (YAML then does not read it as a key).
_YAML_CHARACTERS = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_YAML_OTHERWISE = re.compile(r'\\u[dD][89a-fA-F]|"(?:[ \t]*+[\r\n]\s*+:|[ \t]{200})')
# YAML reads no key whose colon is over 1024 characters from its start: with a gap under 200
# and escapes (6 characters each), a key of up to 128 characters is always read as a key.
_LONGEST_KEY = 128


def _plain_json(text: str) -> Any:
    """A JSON facts file's data as ``read_document`` reads it, without positions; None for a file
    that reader refuses or might read otherwise."""
    from .document_reader import parse_json

    # in ASCII text JSON itself refuses every character YAML refuses but DEL
    if ((not text.isascii() or "\x7f" in text) and _YAML_CHARACTERS.search(text)) or _YAML_OTHERWISE.search(text):
        return None
    data = parse_json(text)
    facts = data.get("facts") if type(data) is dict else None
    # only the facts mapping can hold a key the document reader takes and YAML might not
    if type(facts) is dict and max(map(len, facts), default=0) > _LONGEST_KEY:
        return None
    return data


@functools.cache
def _plain_yaml() -> tuple[Callable[[str], Any], Callable[[str], dict]]:
    """Two readers of a YAML facts file, made on first use: its data as ``read_document`` reads
    it, without positions (None for a file that reader refuses or might read otherwise); and,
    for a file the first took, the (line, col) of each fact's value, by its path.

    libyaml composes the nodes (``read_document`` composes them in Python, to record aliases)
    and types no scalar: ``resolve`` tags a plain scalar None, a quoted one ``str`` and a
    collection its node class, none of which an explicit tag can be. Plain scalars are then
    typed as ``read_document`` types them (YAML 1.2 core); anything that reader refuses or
    reads otherwise (an explicit tag, a merge key, an alias, a key that is not text or is
    repeated) declines the file.
    """
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if _libyaml is None:  # pragma: no cover - PyYAML without its C extension
        return (lambda text: None), (lambda text: {})
    words = {"": None, "~": None, "null": None, "Null": None, "NULL": None, "true": True, "True": True,
             "TRUE": True, "false": False, "False": False, "FALSE": False}

    class Composer(_libyaml.CParser):
        def resolve(self, kind, value, implicit):
            return (None if implicit[0] else str) if kind is ScalarNode else kind

        def descend_resolver(self, parent, index):  # no path-dependent tags
            pass

        def ascend_resolver(self):
            pass

    def value(node, seen: set | None):
        if seen is not None:  # the text has a '*': an alias is a node met again
            if id(node) in seen:
                raise ValueError("alias")
            seen.add(id(node))
        tag = node.tag
        if tag is None:  # plain
            text = node.value
            if text in words:
                return words[text]
            if text[0] in "-+.0123456789":  # where the YAML 1.2 core schema has numbers
                if _INT.match(text):
                    return _number(_TAG + "int", text)
                if _FLOAT.match(text):
                    return _number(_TAG + "float", text)
            elif text == "<<":  # a merge key
                raise ValueError(text)
            return text
        if tag is str:  # quoted; libyaml refuses a surrogate escape, which PyYAML would join
            return node.value
        if tag is MappingNode:
            data = {}
            for key_node, value_node in node.value:
                key = value(key_node, seen)
                if type(key) is not str or key in data:
                    raise ValueError(key)
                data[key] = value(value_node, seen)
            return data
        if tag is SequenceNode:
            return [value(child, seen) for child in node.value]
        raise ValueError(tag)  # an explicit tag

    def compose(text: str):
        parser = Composer(text)  # libyaml refuses every character the positional reader refuses
        try:
            return parser.get_single_node()  # ComposerError for a second document or an unknown alias
        finally:
            parser.dispose()

    def data(text: str):
        try:
            node = compose(text)
            return None if node is None else value(node, set() if "*" in text else None)
        except (yaml.YAMLError, ValueError, RecursionError):
            return None

    def positions(text: str) -> dict[tuple, tuple[int, int]]:
        found = {}
        for key, facts in compose(text).value:
            if key.value == "facts":
                for fact, given in facts.value:
                    path = ("facts", fact.value)
                    if given.tag is MappingNode:
                        path += ("value",)
                        given = next(node for name, node in given.value if name.value == "value")
                    found[path] = (given.start_mark.line + 1, given.start_mark.column + 1)
        return found

    return data, positions
