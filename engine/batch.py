"""Evaluate many entities: parallel worker processes, results streamed in input order.

The main process cuts the input into tasks (facts files, or a block of consecutive rows
of a CSV or JSON Lines table, as text) and keeps a bounded number of tasks in flight, so
memory stays flat however large the input. The main process does as little as it can
per entity, since it shares the machine's cores with the workers: it finds where table
rows begin and end, but reads no cell. Each worker reads its rows, loads, validates,
evaluates (on durable_rules, through ``Engine``) and renders them; the main process
receives the rendered pieces in input order. A bad entity yields its diagnostics and no
result; the others are still evaluated.

Worker processes are forked where the platform allows it (``fork_pool``: the knowledge
base is inherited, not re-read) and spawned elsewhere (``concurrent.futures``: each worker
then loads the knowledge base from its folder and checks it is the same one).
"""
from __future__ import annotations

import gc
import itertools
import os
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from . import model as m
from .diagnostics import Collector, Diagnostic, Location

CHUNK = 256  # facts files, or table rows, per task: enough to amortise inter-process traffic, few enough to stream
IN_FLIGHT_PER_JOB = 3  # chunks queued per worker: keeps workers busy while bounding memory


Item = Any  # a Path (a facts file) or a tabular_input.RowBlock (rows of a table, as text)
Render = Callable[[m.KnowledgeBase, Any], Any]  # (kb, EntityResult) -> what the output writer needs (picklable)


class Outcome(NamedTuple):
    """What became of one input item: its rendered result, or the problems that stopped it.

    A named tuple of plain values: one per entity comes back from a worker, and the main
    process unpickles tuples, strings and numbers in C (a Location each cost a call into Python)."""

    key: tuple[str, str] | None  # (kind, id) of the entity, when it could be read
    where: tuple[str, int]  # (path, line) where the entity starts (for a duplicate-id diagnostic)
    diagnostics: tuple[Diagnostic, ...] = ()
    payload: Any = None  # the renderer's output; None when the entity was bad


def input_items(paths: Iterable[str | Path], kb: m.KnowledgeBase, collector: Collector,
                expanded: bool = False, rows: int | None = None) -> Iterator[Item]:
    """Every item under ``paths`` in order: facts files (folders sorted) and blocks of ``rows``
    table rows (CHUNK unless given), streamed. ``expanded``: ``paths`` already went through
    ``facts_paths`` (files only)."""
    from .facts_loader import facts_paths
    from .tabular_input import is_table, table_blocks

    for path in (map(Path, paths) if expanded else facts_paths(paths, collector)):
        if is_table(path):
            yield from table_blocks(path, kb, collector, rows or CHUNK)
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
        from .tabular_input import RowBlock

        outcomes = []
        for item in items:
            if isinstance(item, RowBlock):
                outcomes.extend(self.rows(item))
            else:
                outcomes.append(self.file(item))
        return outcomes

    def file(self, path: Path) -> Outcome:
        from .facts_loader import load_entity

        collector = Collector()
        return self._outcome(load_entity(path, self.kb, collector), (str(path), 1), collector)

    def rows(self, block) -> Iterator[Outcome]:
        """The outcome of every row of a block; a row that cannot be read is an outcome of its own."""
        from .tabular_input import block_rows, row_entity

        collector = Collector()  # block_rows reports to this one for the whole block
        for row in block_rows(block, collector):
            if row is None:  # a row the block's reading could not take: its problem was just reported
                where = collector.items[0].location
                yield Outcome(None, (where.path, where.line), tuple(collector.items))
                collector.items.clear()
            else:
                row_collector = Collector()
                yield self._outcome(row_entity(row, self.kb, row_collector), (row.path, row.line), row_collector)

    def _outcome(self, entity: m.Entity | None, where: tuple[str, int], collector: Collector) -> Outcome:
        if entity is None:
            return Outcome(None, where, tuple(collector.items))
        result = self.engine.evaluate(entity)
        if self.pack:
            result = result.only_pack(self.pack)
        return Outcome((entity.kind, entity.id), where, tuple(collector.items), self.render(self.kb, result))


# A worker process holds one Evaluator for its whole life (set by the pool's initializer).
_worker: Evaluator | None = None


def _start_worker(kb_or_root, sha256: str, render: Render, pack: str | None) -> None:
    global _worker
    if isinstance(kb_or_root, str):  # spawned: read the knowledge base again, and make sure it is the same
        from .kb_cache import load_cached

        kb_or_root = load_cached(kb_or_root)
        if kb_or_root.sha256 != sha256:
            raise RuntimeError("the knowledge base changed on disk while the batch was starting")
    _worker = Evaluator(kb_or_root, render, pack)


def _work(items: list[Item]) -> list[tuple]:
    # Plain tuples of Outcome's fields: a named tuple is pickled through a Python method
    # each, three times what the tuple costs (made an Outcome again by ``_in_pool``).
    return list(map(tuple, _worker.process(items)))


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    """Tasks: up to ``size`` facts files together; a block of table rows is a task of its own."""
    from .tabular_input import RowBlock

    files: list[Item] = []
    for item in items:
        if isinstance(item, RowBlock):
            if files:
                yield files
                files = []
            yield [item]
        else:
            files.append(item)
            if len(files) >= size:
                yield files
                files = []
    if files:
        yield files


def evaluate_stream(items: Iterable[Item], kb: m.KnowledgeBase, render: Render, *, jobs: int = 1,
                    pack: str | None = None, chunk: int | None = None) -> Iterator[list[Outcome]]:
    """The outcomes of the items, one list per task (up to ``chunk`` items, or a block of table
    rows), in input order, evaluated by ``jobs`` worker processes. Lists rather than single
    outcomes: the main process shares the cores with the workers, and handles each list at once.

    With one job, or input that fits in one chunk, everything runs in this process.
    Duplicate entity ids are not checked here (see ``UniqueIds``).
    """
    chunks = _chunks(iter(items), chunk or CHUNK)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None) if jobs > 1 else None
    # The knowledge base and all else made so far outlive the batch: kept out of the cyclic
    # collector's scans (3% of a batch's time), in this process and in the workers it forks.
    gc.freeze()
    try:
        if second is None:
            evaluator = Evaluator(kb, render, pack)
            try:
                for piece in itertools.chain([first], chunks):
                    yield evaluator.process(piece)
            finally:
                evaluator.close()
            return
        yield from _in_pool(itertools.chain([first, second], chunks), kb, render, jobs, pack)
    finally:
        gc.unfreeze()


def _in_pool(chunks: Iterator[list[Item]], kb: m.KnowledgeBase, render: Render, jobs: int,
             pack: str | None) -> Iterator[list[Outcome]]:
    from . import fork_pool

    if fork_pool.available():
        answers = fork_pool.ordered_map(_work, chunks, jobs, IN_FLIGHT_PER_JOB, initializer=_start_worker,
                                        initargs=(kb, kb.sha256, render, pack))
    else:
        answers = _in_spawned_pool(chunks, kb, render, jobs, pack)
    for outcomes in answers:
        yield list(map(Outcome._make, outcomes))


def _in_spawned_pool(chunks: Iterator[list[Item]], kb: m.KnowledgeBase, render: Render, jobs: int,
                     pack: str | None) -> Iterator[list[tuple]]:
    """Where processes cannot fork: spawned workers, each reading the knowledge base again."""
    import multiprocessing  # here: a batch that fits in one process never needs it
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(kb.root, kb.sha256, render, pack))
    pending: deque = deque()
    try:
        for piece in chunks:
            pending.append(pool.submit(_work, piece))
            if len(pending) >= jobs * IN_FLIGHT_PER_JOB:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class UniqueIds:
    """Remembers which (kind, id) pairs a batch has seen, and where each was first used.

    The first ``SPILL`` ids are kept in memory; past that they move to a temporary SQLite
    database, which SQLite keeps in a bounded page cache and spills to a file of its own
    (deleted when it is closed), so the main process stays flat however many entities a
    batch holds. If that file cannot be written (a full disk), the ids come back into
    memory: the check matters more than the memory. Close it (or use ``with``).
    """

    SPILL = 5_000  # about 0.75 MB of ids

    def __init__(self) -> None:
        self._memory: dict[tuple[str, str], tuple[str, int]] | None = {}
        self._db = None

    def __enter__(self) -> "UniqueIds":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None

    def first_use(self, key: tuple[str, str], where: tuple[str, int]) -> Location | None:
        """Record ``key`` as used at ``where`` (path, line); where it was first used, if it was used before."""
        return self.first_uses([(key, where)])[0]

    def first_uses(self, uses: list[tuple[tuple[str, str], tuple[str, int]]]) -> list[Location | None]:
        """``first_use`` for each of ``uses``, in order (one round trip to the database for all)."""
        found: list[Location | None] = []
        for number, (key, where) in enumerate(uses):
            if self._db is not None:
                import sqlite3  # loaded by _spill: a batch that never spills never loads it

                try:
                    return found + self._db_first_uses(uses[number:])
                except sqlite3.Error:
                    self._unspill()  # rolled back: the ids of these uses were not recorded
            first = self._memory.get(key)
            if first is None:
                self._memory[key] = where
                if len(self._memory) > self.SPILL:
                    self._spill()
            found.append(None if first is None else Location(first[0], first[1], 1))
        return found

    def _db_first_uses(self, uses: list[tuple[tuple[str, str], tuple[str, int]]]) -> list[Location | None]:
        firsts: dict[tuple[str, str], int] = {}  # key -> where in ``uses`` it comes first
        for number, (key, _) in enumerate(uses):
            firsts.setdefault(key, number)
        found: list[Location | None] = [None] * len(uses)
        with self._db:  # one transaction: all of these are recorded, or none
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?, ?, ?, ?)",
                                 [(*key, *uses[n][1]) for key, n in firsts.items()])
            if self._db.total_changes - before < len(firsts):  # some key was used before these: rare
                for key, n in firsts.items():
                    path, line = self._db.execute("SELECT path, line FROM ids WHERE kind = ? AND id = ?",
                                                  key).fetchone()
                    if (path, line) != tuple(uses[n][1]):
                        found[n] = Location(path, line, 1)
        for number, (key, _) in enumerate(uses):  # a key used twice among these
            first = firsts[key]
            if first != number:
                found[number] = found[first] or Location(*uses[first][1], 1)
        return found

    def _spill(self) -> None:
        import sqlite3

        try:
            # "": a private temporary database, in memory up to its page cache and in a file of
            # SQLite's own beyond it. An on-disk database that commits every batch cost 16 us an
            # id in page writes; this one costs 3 to 5 us.
            self._db = sqlite3.connect("")
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -256"):  # scratch data
                self._db.execute(f"PRAGMA {pragma}")
            with self._db:
                self._db.execute("CREATE TABLE ids (kind TEXT, id TEXT, path TEXT, line INTEGER, "
                                 "PRIMARY KEY (kind, id)) WITHOUT ROWID")
                self._db.executemany("INSERT INTO ids VALUES (?, ?, ?, ?)",
                                     ((*key, path, line) for key, (path, line) in self._memory.items()))
        except sqlite3.Error:
            self.close()
            self.SPILL = float("inf")  # keep them in memory
            return
        self._memory = None

    def _unspill(self) -> None:
        """Back into memory, for good (the database could not take more)."""
        self._memory = {(kind, id_): (path, line)
                        for kind, id_, path, line in self._db.execute("SELECT kind, id, path, line FROM ids")}
        self.close()
        self.SPILL = float("inf")


def shown_location(where: Location) -> str:
    """How a place an entity was read from reads in a message: the file, or the file and line of a table row."""
    from .tabular_input import is_table

    return f"{where.path}:{where.line}" if is_table(Path(where.path)) else where.path


def default_jobs() -> int:
    return os.cpu_count() or 1
