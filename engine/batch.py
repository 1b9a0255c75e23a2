"""Evaluate many entities: parallel worker processes, results streamed in input order.

The main process cuts the input into chunks of items (a facts file, or one row of a
CSV or JSON Lines table) and keeps a bounded number of chunks in flight, so memory
stays flat however large the input. Each worker loads, validates, evaluates (on
durable_rules, through ``Engine``) and renders its chunk; the main process receives the
rendered pieces in input order. A bad entity yields its diagnostics and no result; the
others are still evaluated.

Worker processes are forked where the platform allows it (the knowledge base is
inherited, not re-read) and spawned elsewhere (each worker then loads the knowledge base
from its folder and checks it is the same one).
"""
from __future__ import annotations

import copyreg
import itertools
import multiprocessing
import os
from array import array
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from hashlib import blake2b
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator

from . import model as m
from .diagnostics import Collector, Diagnostic, Location

CHUNK = 64  # items per task: large enough to amortise inter-process traffic, small enough to stream
IN_FLIGHT_PER_JOB = 3  # chunks queued per worker: keeps workers busy while bounding memory



def _read_only(mapping: dict) -> MappingProxyType:
    return MappingProxyType(mapping)


# Results travel between processes; their read-only mappings must too.
copyreg.pickle(MappingProxyType, lambda proxy: (_read_only, (dict(proxy),)))

Item = Any  # a Path (a facts file) or a tabular_input.Row
Render = Callable[[m.KnowledgeBase, Any], Any]  # (kb, EntityResult) -> what the output writer needs (picklable)


@dataclass(frozen=True)
class Outcome:
    """What became of one input item: its rendered result, or the problems that stopped it."""

    key: tuple[str, str] | None  # (kind, id) of the entity, when it could be read
    where: Location  # where the entity starts (for a duplicate-id diagnostic)
    source: str
    diagnostics: tuple[Diagnostic, ...] = ()
    payload: Any = None  # the renderer's output; None when the entity was bad

    @property
    def ok(self) -> bool:
        return self.payload is not None


def input_items(paths: Iterable[str | Path], kb: m.KnowledgeBase, collector: Collector,
                expanded: bool = False) -> Iterator[Item]:
    """Every item under ``paths`` in order: facts files (folders sorted) and table rows, streamed.
    ``expanded``: ``paths`` already went through ``facts_paths`` (files only)."""
    from .facts_loader import facts_paths
    from .tabular_input import is_table, table_rows

    for path in (map(Path, paths) if expanded else facts_paths(paths, collector)):
        if is_table(path):
            yield from table_rows(path, kb, collector)
        else:
            yield path


def estimate_count(paths: Iterable[str | Path]) -> int | None:
    """A cheap count of the items under ``paths`` for a progress bar (lines for tables)."""
    from .facts_loader import FACTS_SUFFIXES
    from .tabular_input import is_table

    total = 0
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                total += sum(1 for p in path.iterdir() if p.suffix in FACTS_SUFFIXES)
            elif is_table(path):
                with open(path, "rb") as handle:
                    total += sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            else:
                total += 1
        except OSError:
            return None
    return total


class Evaluator:
    """Turns items into outcomes: load, validate, evaluate on durable_rules, render. One per process."""

    def __init__(self, kb: m.KnowledgeBase, render: Render, pack: str | None = None):
        from .inference import Engine

        self.kb = kb
        self.render = render
        self.pack = pack
        self.engine = Engine(kb)

    def close(self) -> None:
        self.engine.close()

    def process(self, items: list[Item]) -> list[Outcome]:
        return [self.one(item) for item in items]

    def one(self, item: Item) -> Outcome:
        from .tabular_input import Row, row_entity

        collector = Collector()
        if isinstance(item, Row):
            where, source = Location(item.path, item.line, 1), item.source
            entity = row_entity(item, self.kb, collector)
        else:
            where, source = Location(str(item), 1, 1), str(item)
            entity = self._file_entity(item, collector)
        if entity is None:
            return Outcome(None, where, source, tuple(collector.items))
        result = self.engine.evaluate(entity)
        if self.pack:
            result = replace(result, decisions=tuple(d for d in result.decisions if d.conclusion.pack == self.pack))
        return Outcome((entity.kind, entity.id), where, source, tuple(collector.items), self.render(self.kb, result))


    def _file_entity(self, path: Path, collector: Collector) -> m.Entity | None:
        from .fast_schema import conforms
        from .facts_loader import entity_from_document
        from .source import read_document

        document = read_document(path, collector)
        if document is None:
            return None
        return entity_from_document(document, self.kb, collector, source=str(path),
                                    schema_checked=conforms("facts", document.data))


# A worker process holds one Evaluator for its whole life (set by the pool's initializer).
_worker: Evaluator | None = None


def _start_worker(kb_or_root, sha256: str, render: Render, pack: str | None) -> None:
    global _worker
    if isinstance(kb_or_root, str):  # spawned: read the knowledge base again, and make sure it is the same
        from .kb_loader import load_knowledge_base

        kb_or_root = load_knowledge_base(kb_or_root)
        if kb_or_root.sha256 != sha256:
            raise RuntimeError("the knowledge base changed on disk while the batch was starting")
    _worker = Evaluator(kb_or_root, render, pack)


def _work(items: list[Item]) -> list[Outcome]:
    return _worker.process(items)


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk


def evaluate_stream(items: Iterable[Item], kb: m.KnowledgeBase, render: Render, *, jobs: int = 1,
                    pack: str | None = None, chunk: int | None = None) -> Iterator[Outcome]:
    """One outcome per item, in input order, evaluated by ``jobs`` worker processes.

    With one job, or input that fits in one chunk, everything runs in this process.
    Duplicate entity ids are not checked here (see ``UniqueIds``).
    """
    chunks = _chunks(iter(items), chunk or CHUNK)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None) if jobs > 1 else None
    if second is None:
        evaluator = Evaluator(kb, render, pack)
        try:
            for piece in itertools.chain([first], chunks):
                yield from evaluator.process(piece)
        finally:
            evaluator.close()
        return
    yield from _in_pool(itertools.chain([first, second], chunks), kb, render, jobs, pack)


def _in_pool(chunks: Iterator[list[Item]], kb: m.KnowledgeBase, render: Render, jobs: int,
             pack: str | None) -> Iterator[Outcome]:
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods else "spawn"
    inherited = kb if method == "fork" else kb.root
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method),
                               initializer=_start_worker, initargs=(inherited, kb.sha256, render, pack))
    pending: deque = deque()
    try:
        for piece in chunks:
            pending.append(pool.submit(_work, piece))
            if len(pending) >= jobs * IN_FLIGHT_PER_JOB:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class UniqueIds:
    """Remembers which (kind, id) pairs a batch has seen, in compact memory.

    Holding every id as a Python string would grow the main process by about 150 bytes
    per entity; this keeps a 64-bit fingerprint and where the id was first used (the
    file's number and the line) in two arrays with open addressing, about 32 bytes per
    entity, plus each input file's name once.
    """

    def __init__(self) -> None:
        self._size = 1 << 10
        self._keys = array("Q", bytes(8 * self._size))  # 0 = empty slot
        self._first = array("Q", bytes(8 * self._size))  # file number << 32 | line
        self._used = 0
        self._files: list[str] = []
        self._file_numbers: dict[str, int] = {}

    @staticmethod
    def _fingerprint(key: tuple[str, str]) -> int:
        digest = blake2b("\0".join(key).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") or 1

    def first_use(self, key: tuple[str, str], where: Location) -> Location | None:
        """Record ``key`` as used at ``where``; where it was first used, if it was used before."""
        fingerprint = self._fingerprint(key)
        slot = self._slot(fingerprint)
        if self._keys[slot]:
            packed = self._first[slot]
            return Location(self._files[packed >> 32], packed & 0xFFFFFFFF, 1)
        number = self._file_numbers.setdefault(where.path, len(self._files))
        if number == len(self._files):
            self._files.append(where.path)
        self._keys[slot], self._first[slot] = fingerprint, number << 32 | where.line
        self._used += 1
        if self._used * 2 > self._size:
            self._grow()
        return None

    def _slot(self, fingerprint: int) -> int:
        """The slot holding ``fingerprint``, or the empty slot where it belongs."""
        mask = self._size - 1
        slot = fingerprint & mask
        while self._keys[slot] and self._keys[slot] != fingerprint:
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        keys, first = self._keys, self._first
        self._size *= 2
        self._keys = array("Q", bytes(8 * self._size))
        self._first = array("Q", bytes(8 * self._size))
        for fingerprint, packed in zip(keys, first):
            if fingerprint:
                slot = self._slot(fingerprint)
                self._keys[slot], self._first[slot] = fingerprint, packed


def shown_location(where: Location) -> str:
    """How a place an entity was read from reads in a message: the file, or the file and line of a table row."""
    from .tabular_input import is_table

    return f"{where.path}:{where.line}" if is_table(Path(where.path)) else where.path


def default_jobs() -> int:
    return os.cpu_count() or 1
