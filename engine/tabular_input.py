"""Entities from tables: CSV (one row per entity) and JSON Lines (one facts-file object per line).

Both produce the same ``Entity`` objects and the same diagnostics as facts files, located
at ``file.csv:ROW:COL`` (ROW is the file's line, COL the 1-based column of the cell) or
``file.jsonl:LINE:COL``. Reading is split in three so that a batch can stream and the
main process stays light: ``table_blocks`` cuts a file into ``RowBlock``s of consecutive
rows, as text (the main process: it checks a CSV header and finds where rows end, but
reads no cell), ``block_rows`` reads a block's rows, and ``row_entity`` turns one row
into an entity (the work a batch worker does).

CSV columns: ``kind``, ``id``, ``name`` (required), ``description``, one column per fact
(the header names the fact), and optional evidence columns ``<fact>.source``,
``<fact>.as_of``, ``<fact>.reference``, ``<fact>.note``. An empty cell is unknown. Cells
are typed by the fact schema: numbers as written (``0.45``, never ``45%``), booleans
``true``/``false`` (any case), lists separated by ``;`` (``[]`` is the empty list),
dates ``YYYY-MM-DD``.
"""
from __future__ import annotations

import csv
import io
import itertools
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from . import document_reader
from . import model as m
from .diagnostics import Collector, Diagnostic, Location, did_you_mean
from .row_reader import reader_for

if TYPE_CHECKING:  # the YAML and JSON reader, loaded only for rows the fast path declines
    from .source import Document

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TABLE_SUFFIXES = CSV_SUFFIXES + JSONL_SUFFIXES
ENTITY_COLUMNS = ("kind", "id", "name", "description")
EVIDENCE_KEYS = ("source", "as_of", "reference", "note")
EMPTY_LIST = "[]"
LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Header:
    """A CSV header, checked: what each column holds."""

    path: str
    columns: tuple[tuple[str, str | None, int], ...]  # (fact or entity key, evidence key or None, 1-based col)


@dataclass(frozen=True)
class Row:
    """One entity's raw input: a CSV row (``cells``) or a JSON Lines line (``text``)."""

    path: str
    line: int
    header: Header | None = None
    cells: tuple[str, ...] = ()
    text: str | None = None

    @property
    def source(self) -> str:
        """What the entity's ``source`` says: the file and the line it was read from."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class RowBlock:
    """Consecutive rows of one table as the file holds them: what a batch sends a worker."""

    path: str
    line: int  # the file's line the block starts at
    text: str
    header: Header | None = None  # a CSV's checked header; None for JSON Lines
    plain: bool = False  # a CSV block whose every line is a row with no quote: its cells are what commas part


_row = m.fast_constructor(Row)  # a Row per table row: the dataclass's own __init__ took 2 µs
BLOCK_ROWS = 64  # rows per block when the caller does not say


class _BlockSizes:
    """How many rows the next block of a table gets: ``rows``, and a quarter of that once what is
    left of the file would fill fewer than ``TAIL_BLOCKS`` blocks, so that the workers of a batch
    run out of work at about the same time (with 256 rows a block, one worker otherwise idled
    for half a block's evaluation at the end, some 20 ms)."""

    TAIL_BLOCKS = 4

    def __init__(self, rows: int, size: int):
        self.rows = rows
        self.size = size  # the file's size in bytes; text read so far is counted in characters
        self.read_rows = 0
        self.read_chars = 0

    def after(self, block: "RowBlock", rows: int) -> int:
        """The rows of the block after ``block``, which holds ``rows`` rows."""
        self.read_rows += rows
        self.read_chars += len(block.text)
        rows_left = (self.size - self.read_chars) * self.read_rows / self.read_chars
        return self.rows if rows_left > self.TAIL_BLOCKS * self.rows else max(1, self.rows // 4)


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


def table_blocks(path: Path, kb: m.KnowledgeBase, collector: Collector, rows: int = BLOCK_ROWS) -> Iterator[RowBlock]:
    """A CSV or JSON Lines file in blocks of up to ``rows`` rows, streamed. File-level problems
    (cannot read it, a bad header, a CSV syntax error, bytes that are not UTF-8) go to
    ``collector``, and the file is read no further than where they are."""
    if path.suffix.lower() in CSV_SUFFIXES:
        return _csv_blocks(path, kb, collector, rows)
    return _jsonl_blocks(path, collector, rows)


def block_rows(block: RowBlock, collector: Collector) -> Iterator[Row | None]:
    """The rows of a block, in order. A CSV row with the wrong number of cells is reported to
    ``collector`` and stands as None; blank rows are skipped."""
    if block.header is None:
        for number, text in enumerate(io.StringIO(block.text), start=block.line):
            if text.strip():
                yield _row(path=block.path, line=number, text=text.rstrip("\n"))
        return
    width = len(block.header.columns)
    for line, cells in (_plain_cells(block) if block.plain else _csv_cells(block)):
        if any(cell.strip() for cell in cells):
            if len(cells) != width:
                collector.add(Location(block.path, line, min(len(cells), width) + 1), "BD311",
                              f"row has {len(cells)} cell(s), the header has {width}")
                yield None
            else:
                yield _row(path=block.path, line=line, header=block.header, cells=tuple(cells))


def _csv_cells(block: RowBlock) -> Iterator[tuple[int, list[str]]]:
    """(the line it starts on, its cells) for each row of a CSV block, as the csv module reads them."""
    # newline="": lines split and kept as the file was read (see _csv_blocks)
    reader = csv.reader(io.StringIO(block.text, newline=""), strict=True)
    start = block.line
    for cells in reader:
        yield start, cells
        start = block.line + reader.line_num


def _plain_cells(block: RowBlock) -> Iterator[tuple[int, list[str]]]:
    """``_csv_cells`` of a plain block: each line is a row, and its cells are what commas part
    (what the csv module reads there too, at twice the cost)."""
    for number, line in enumerate(block.text.split("\n"), start=block.line):
        yield number, line[:-1].split(",") if line.endswith("\r") else line.split(",")


def table_rows(path: Path, kb: m.KnowledgeBase, collector: Collector) -> Iterator[Row]:
    """The rows of a CSV or JSON Lines file, streamed; problems go to ``collector``."""
    for block in table_blocks(path, kb, collector):
        yield from (row for row in block_rows(block, collector) if row is not None)


def row_entity(row: Row, kb: m.KnowledgeBase, collector: Collector) -> m.Entity | None:
    """The entity a row describes, or None after reporting its problems."""
    if row.header is not None:
        entity = reader_for(row.header, kb).read(row)  # None unless the row is plainly valid
        if entity is not None:
            return entity
        return _entity(_csv_document(row), row, kb, collector)
    return _jsonl_entity(row, kb, collector)


def read_table(path: Path, kb: m.KnowledgeBase, collector: Collector) -> list[tuple[m.Entity, Location]]:
    """Every entity of a table with the place it starts at (for callers that want them all)."""
    found = []
    for row in table_rows(path, kb, collector):
        entity = row_entity(row, kb, collector)
        if entity is not None:
            found.append((entity, Location(row.path, row.line, 1)))
    return found


# -- CSV --------------------------------------------------------------------------------------

def _csv_blocks(path: Path, kb: m.KnowledgeBase, collector: Collector, rows: int) -> Iterator[RowBlock]:
    shown = str(path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # utf-8-sig: spreadsheets write a BOM
    except OSError as error:
        collector.add(Location(shown, 0, 0), "BD001", f"cannot read file: {error.strerror or error}")
        return
    with handle:
        lines = _CsvLines(handle)
        try:
            names = lines.header()
            if names is None:
                collector.add(Location(shown, 1, 1), "BD005", "file is empty; expected a header row")
                return
            header = _header(shown, names, kb, collector)
            if header is None:
                return
            lines.cut()
            first, count, wanted = lines.consumed + 1, 0, rows
            sizes = _BlockSizes(rows, os.fstat(handle.fileno()).st_size)
            while True:
                taken = lines.plain_rows(wanted - count) or lines.row()
                if not taken:
                    break
                count += taken
                if count == wanted:
                    text, plain = lines.cut()
                    block = RowBlock(shown, first, text, header, plain)
                    wanted = sizes.after(block, count)
                    yield block
                    first, count = lines.consumed + 1, 0
        except UnicodeDecodeError as error:
            collector.add(Location(shown, lines.consumed + 1, 1), "BD001", f"cannot read file: {error.reason}")
        except csv.Error as error:
            collector.add(Location(shown, lines.consumed, 1), "BD002", f"CSV syntax error: {error}")
        text, plain = lines.cut()  # the whole rows before the end, or before a problem
        if text:
            yield RowBlock(shown, first, text, header, plain)


class _CsvLines:
    """A CSV file's lines, taken a row at a time, as the csv module would split them into rows.

    A line with no quote (and nothing else the csv module treats specially) is a whole row
    by itself: ``plain_rows`` takes runs of such lines at once, by finding their line breaks.
    The csv module reads the others, only to find where their row ends (a quoted cell may
    hold a line break) and to catch syntax errors. Reading every row with it, or even
    looking at every line on its own, cost the main process of a batch more than everything
    else it does per entity.
    """

    _SPECIAL = re.compile('["\x00]')  # a quote; NUL, which Python 3.10's csv module refuses
    _LONE_CR = re.compile("\r(?!\n)")  # a line break of its own (with newline="")
    _LINE = re.compile("[^\r\n]*(?:\r\n|\r|\n)")  # a line as the file reads with newline=""
    READ = 1 << 13  # characters read at a time: a file that cannot be decoded fails at the same place

    def __init__(self, handle):
        self._handle = handle
        self._text = ""  # read ahead, not yet taken
        self._at = 0  # where in ``_text`` the next line starts
        self._ended = False
        self._failure: UnicodeDecodeError | None = None  # raised once the text read before it is taken
        self.taken: list[str] = []  # text since the last cut
        self.whole = 0  # how many of ``taken`` belong to whole rows
        self.consumed = 0  # lines read from the file
        self.plain = True  # every row taken since the last cut was taken by plain_rows

    def _read(self) -> bool:
        """Read more of the file into ``_text``; False at its end."""
        if self._ended:
            if self._failure is not None:
                raise self._failure
            return False
        try:
            more = self._handle.read(self.READ)
        except UnicodeDecodeError as error:
            more, self._failure = "", error
        self._text = self._text[self._at:] + more
        self._at = 0
        self._ended = not more
        return True

    def _line(self) -> str | None:
        """The next line, line break included; None at the end of the file."""
        while True:
            found = self._LINE.match(self._text, self._at)
            # a line ending in '\r' at the end of what was read may go on with '\n'
            if found is not None and (found.end() < len(self._text) or self._ended or found.group()[-1] == "\n"):
                self._at = found.end()
                return found.group()
            if not self._read():
                rest = self._text[self._at:]
                self._at = len(self._text)
                return rest or None

    def _pull(self) -> Iterator[str]:
        for text in iter(self._line, None):
            self.consumed += 1
            self.taken.append(text)
            yield text

    def header(self) -> list[str] | None:
        cells = next(csv.reader(self._pull(), strict=True), None)
        self.whole = len(self.taken)
        return cells

    def row(self) -> int:
        """Take the next row's lines: 1, or 0 at the end of the file."""
        text = self._line()
        if text is None:
            return 0
        self.consumed += 1
        self.taken.append(text)
        self.plain = False
        if self._SPECIAL.search(text) or len(text) > csv.field_size_limit():
            next(csv.reader(itertools.chain([text], self._pull()), strict=True))
        self.whole = len(self.taken)
        return 1

    def plain_rows(self, wanted: int) -> int:
        """Take up to ``wanted`` rows at once while the lines ahead are plain (no quote, no NUL,
        no '\r' of their own: one line, one row); how many were taken (0: the next line is not
        plain, or the file has ended: take a ``row``)."""
        limit = csv.field_size_limit()
        taken = 0
        while taken < wanted:
            text, start = self._text, self._at
            end, more = text.rfind("\n", start) + 1, True  # every whole line read ahead
            count = text.count("\n", start, end) if end else 0
            if count > wanted - taken or end - start >= limit:  # line by line: fewer, or some may be too long
                end, count = start, 0
                while count < wanted - taken:
                    at = text.find("\n", end)
                    if at < 0:
                        break
                    if at - end >= limit:  # a line the csv module may refuse: it decides
                        more = False
                        break
                    end, count = at + 1, count + 1
            special = self._first_not_plain(text, start, end)
            if special >= 0:  # the plain lines before it
                end = max(start, text.rfind("\n", start, special) + 1)
                count, more = text.count("\n", start, end), False
            if count:
                self._at = end
                self.consumed += count
                self.taken.append(text[start:end])
                self.whole = len(self.taken)
                taken += count
            if not more or (taken < wanted and not self._read()):
                break
        return taken

    def _first_not_plain(self, text: str, start: int, end: int) -> int:
        """Where the first quote, NUL or lone '\r' of ``text[start:end]`` is; -1 if none is
        (str methods, which scan as fast as memory: a regular expression took 5 ns a character)."""
        found = [at for at in (text.find('"', start, end), text.find("\x00", start, end)) if at >= 0]
        if text.find("\r", start, end) >= 0 and text.count("\r", start, end) != text.count("\r\n", start, end):
            found.append(self._LONE_CR.search(text, start, end).start())
        return min(found, default=-1)

    def cut(self) -> tuple[str, bool]:
        """The lines of the whole rows taken since the last cut (a row that could not be read to
        its end is left out), and whether every one of them was a plain line."""
        text, plain = "".join(self.taken[:self.whole]), self.plain
        self.taken.clear()
        self.whole = 0
        self.plain = True
        return text, plain


def _header(shown: str, names: list[str], kb: m.KnowledgeBase, collector: Collector) -> Header | None:
    """Check the header row: known facts, evidence beside its fact, no repeats, the entity columns."""
    facts = {name for pack in kb.packs.values() for name in pack.facts}
    before = len(collector.errors)
    columns = []
    seen: dict[str, int] = {}
    for col, raw in enumerate(names, start=1):
        name = raw.strip()
        where = Location(shown, 1, col)
        if name in seen:
            collector.add(where, "BD003", f"column '{name}' repeats column {seen[name]}")
            continue
        seen[name] = col
        fact, _, evidence = name.partition(".")
        if name in ENTITY_COLUMNS:
            columns.append((name, None, col))
        elif evidence and evidence not in EVIDENCE_KEYS:
            collector.add(where, "BD310", f"column '{name}': '{evidence}' is not an evidence field; "
                          f"use one of: {', '.join(EVIDENCE_KEYS)}", suggestion=did_you_mean(evidence, EVIDENCE_KEYS))
        elif fact not in facts:
            collector.add(where, "BD301", f"unknown fact '{fact}'", suggestion=did_you_mean(fact, facts))
        else:
            columns.append((fact, evidence or None, col))
    present = {name for name, evidence, _ in columns if evidence is None}
    for name, evidence, col in columns:
        if evidence and name not in present:
            collector.add(Location(shown, 1, col), "BD310",
                          f"evidence column '{name}.{evidence}' has no fact column '{name}'")
    for required in ("kind", "id", "name"):
        if required not in present:
            collector.add(Location(shown, 1, 1), "BD310", f"missing column '{required}'")
    return None if len(collector.errors) > before else Header(shown, tuple(columns))


def _csv_document(row: Row) -> Document:
    """The row as the facts-file document it stands for, each value at its cell."""
    from .source import Document

    data: dict = {}
    facts: dict = {}
    positions: dict = {}
    for (name, evidence, col), raw in zip(row.header.columns, row.cells):
        cell = raw.strip()
        if not cell:
            continue  # an empty cell is unknown
        if name in ENTITY_COLUMNS:
            data[name] = cell
            positions[(name,)] = (row.line, col)
        elif evidence is None:
            facts.setdefault(name, {})["value"] = cell
            positions[("facts", name)] = positions[("facts", name, "value")] = (row.line, col)
        else:
            facts.setdefault(name, {})[evidence] = cell
            positions[("facts", name, evidence)] = (row.line, col)
    # evidence for a fact left unknown says nothing: drop it; a fact without evidence is bare,
    # as in a facts file (the schema then checks it by its first branch)
    data["facts"] = {name: given if len(given) > 1 else given["value"]
                     for name, given in facts.items() if "value" in given}
    positions.setdefault((), (row.line, 1))
    return Document(row.path, data, positions, positions)


def typed_cell(text: str, spec: m.FactSpec):
    """A CSV cell as the fact's type reads it; text that does not fit is returned as is,
    so that the facts loader reports it exactly as it would in a facts file."""
    kind = spec.type
    if kind in ("number", "percentage", "integer"):
        if "_" in text:
            return text  # Python reads '1_000' as a number; a facts file does not
        try:
            number = float(text) if kind != "integer" or not text.lstrip("+-").isdigit() else int(text)
        except ValueError:
            return text
        return number if number == number and number not in (float("inf"), float("-inf")) else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if kind == "enum_list":
        if text == EMPTY_LIST:
            return []
        return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]
    return text


def _type_cells(document: Document, schema) -> None:
    facts = document.data["facts"]
    for name, given in facts.items():
        spec = schema.get(name)
        if spec is None:
            continue
        if isinstance(given, dict):
            given["value"] = typed_cell(given["value"], spec)
        else:
            facts[name] = typed_cell(given, spec)


# -- JSON Lines ---------------------------------------------------------------------------------

def _jsonl_blocks(path: Path, collector: Collector, rows: int) -> Iterator[RowBlock]:
    shown = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as error:
        collector.add(Location(shown, 0, 0), "BD001", f"cannot read file: {error.strerror or error}")
        return
    with handle:
        lines: list[str] = []
        number, wanted = 0, rows
        sizes = _BlockSizes(rows, os.fstat(handle.fileno()).st_size)
        try:
            for number, text in enumerate(handle, start=1):
                lines.append(text)
                if len(lines) == wanted:
                    block = RowBlock(shown, number - wanted + 1, "".join(lines))
                    wanted = sizes.after(block, len(lines))
                    yield block
                    lines.clear()
        except UnicodeDecodeError as error:
            collector.add(Location(shown, number + 1, 1), "BD001", f"cannot read file: {error.reason}")
        if lines:
            yield RowBlock(shown, number - len(lines) + 1, "".join(lines))


class _LineLocator:
    """Where a value of a JSON Lines row is: asked only when an output shows it, and then read by
    the positional reader once (a class rather than closures: one is made for every row)."""

    def __init__(self, row: Row, plain):
        self.row = row
        self.plain = plain
        self._document: Document | None | bool = False  # False: not read yet

    def document(self) -> Document | None:
        """The line read with positions, if that reader reads it as JSON does (the positional reader
        reads JSON as YAML, which refuses a few characters JSON allows and reads \x85 as a line break)."""
        if self._document is False:
            document = _located(self.row, Collector())
            self._document = document if document is not None and document.data == self.plain else None
        return self._document

    def __call__(self, path: tuple) -> Location:
        document = self.document()
        return document.at(path) if document is not None else Location(self.row.path, self.row.line, 1)


def _jsonl_entity(row: Row, kb: m.KnowledgeBase, collector: Collector) -> m.Entity | None:
    plain = document_reader.parse_json(row.text)
    locator = _LineLocator(row, plain)
    # A plainly valid line is read without positions; where a value is, is found when an output asks
    entity = document_reader.read(plain, kb, row.source, locator)
    if entity is not None:
        return entity
    from .source import Document

    # Then the full checks on what the JSON parser read: values are located where the positional
    # reader finds them, else at the start of the line. Only a line with a problem is read again
    # by the positional reader, so that its diagnostics point at the right column.
    if plain is not None:
        quick = Collector()
        document = locator.document() or Document(row.path, plain, {(): (row.line, 1)}, {(): (row.line, 1)})
        entity = _entity(document, row, kb, quick)
        if not quick.items:
            return entity
    problems = Collector()
    document = _located(row, problems)
    if document is not None:
        _entity(document, row, kb, problems)
    for diagnostic in problems.items:
        collector.items.append(_on_line(diagnostic, row.line))
    return None


def _located(row: Row, collector: Collector) -> Document | None:
    """A JSON Lines row read with positions, on the file's line (it is parsed on its own)."""
    from .source import Document, parse_json_text

    document = parse_json_text(row.text, row.path, collector)
    if document is None:
        return None
    moved = {path: (row.line, col) for path, (_, col) in document.value_positions.items()}
    keys = {path: (row.line, col) for path, (_, col) in document.key_positions.items()}
    return Document(document.path, document.data, moved, keys)


def _on_line(diagnostic: Diagnostic, line: int) -> Diagnostic:
    """A diagnostic found in one line read on its own, moved to that line of the file."""
    where = diagnostic.location
    return replace(diagnostic, location=Location(where.path, line, where.col if where.line else 0))


def _entity(document: Document, row: Row, kb: m.KnowledgeBase, collector: Collector) -> m.Entity | None:
    from .facts_loader import entity_from_document

    if row.header is not None and isinstance(document.data.get("kind"), str):
        _type_cells(document, kb.facts_for(document.data["kind"]))
    return entity_from_document(document, kb, collector, source=row.source)
