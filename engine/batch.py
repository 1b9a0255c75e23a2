"""Evaluate many entities: parallel worker processes, results streamed in input order.

The main process cuts the input into tasks (facts files, or a block of consecutive rows
of a CSV or JSON Lines table, as text) and keeps a bounded number of tasks in flight, so
memory stays flat however large the input. The main process does as little as it can
per entity, since it shares the machine's cores with the workers: it finds where table
rows begin and end, but reads no cell. Each worker reads its rows, loads, validates,
evaluates (on durable_rules, through ``Engine``) and renders them; the main process
receives the rendered pieces in input order. A bad entity yields its diagnostics and no
result; the others are still evaluated.

Worker processes are forked where the platform allows it and no other thread runs
(``fork_pool``: the knowledge base is inherited, not re-read), and spawned otherwise
(``concurrent.futures``: each worker then loads the knowledge base from its folder and
checks it is the same one); ``diff``, whose workers need two knowledge bases, then runs in
this process.
"""
from __future__ import annotations

import functools
import gc
import itertools
import os
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Protocol

from . import model as m
from .diagnostics import Collector, Diagnostic, Location

CHUNK = 256  # facts files, or table rows, per task: enough to amortise inter-process traffic, few enough to stream
IN_FLIGHT_PER_JOB = 3  # chunks queued per worker: keeps workers busy while bounding memory


Item = Any  # a Path (a facts file) or a tabular_input.RowBlock (rows of a table, as text)
Render = Callable[[m.KnowledgeBase, Any], Any]  # (kb, EntityResult) -> what the output writer needs (picklable)


class Outcome(NamedTuple):
    """What became of one input item: its rendered result, or the problems that stopped it.

    Plain values: a worker sends one per entity as a plain tuple of these fields, which the
    main process unpickles in C (a Location, or the named tuple itself, each cost a call into
    Python) and makes an ``Outcome`` again."""

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


def entities_in(item: Item, kb: m.KnowledgeBase) -> Iterator[tuple[m.Entity | None, tuple[str, int], tuple]]:
    """Each entity of an item (a facts file, or a block of table rows): the entity (None when
    it could not be read), where it starts (path, line), and its problems."""
    from .tabular_input import RowBlock, block_rows, row_entity

    if not isinstance(item, RowBlock):
        from .facts_loader import load_entity

        collector = Collector()
        yield load_entity(item, kb, collector), (str(item), 1), tuple(collector.items)
        return
    collector = Collector()  # block_rows reports to this one for the whole block
    for row in block_rows(item, collector):
        if row is None:  # a row the block's reading could not take: its problem was just reported
            where = collector.items[0].location
            yield None, (where.path, where.line), tuple(collector.items)
            collector.items.clear()
        else:
            row_collector = Collector()
            yield row_entity(row, kb, row_collector), (row.path, row.line), tuple(row_collector.items)


def answers_for(task: list[Item], kb: m.KnowledgeBase, work: Callable[[m.Entity], Any]) -> list[tuple]:
    """Per entity of the task's items: ((kind, id), where, its problems, ``work(entity)``), and
    (None, where, its problems, None) for an entity that could not be read."""
    answers: list[tuple] = []
    for item in task:
        for entity, where, diagnostics in entities_in(item, kb):
            if entity is None:
                answers.append((None, where, diagnostics, None))
            else:
                answers.append(((entity.kind, entity.id), where, diagnostics, work(entity)))
    return answers


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

    def process(self, items: list[Item]) -> list[tuple]:
        """The outcome of every entity of ``items``, as a plain tuple of ``Outcome``'s fields:
        a named tuple is pickled through a Python method each, three times a tuple's cost."""
        return answers_for(items, self.kb, self._payload)

    def _payload(self, entity: m.Entity) -> Any:
        result = self.engine.evaluate(entity)
        if self.pack:
            result = result.only_pack(self.pack)
        return self.render(self.kb, result)


def _spawned_evaluator(root: str, sha256: str, render: Render, pack: str | None) -> Evaluator:
    """A spawned worker's evaluator: the knowledge base read again, and checked to be the same."""
    from .kb_cache import load_cached

    kb = load_cached(root)
    if kb.sha256 != sha256:
        raise RuntimeError("the knowledge base changed on disk while the batch was starting")
    return Evaluator(kb, render, pack)


def tasks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
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
    for outcomes in spread(tasks(iter(items), chunk or CHUNK), jobs, Evaluator, (kb, render, pack),
                           spawn=(_spawned_evaluator, (kb.root, kb.sha256, render, pack))):
        yield list(map(Outcome._make, outcomes))


class Processor(Protocol):
    """What ``spread`` runs tasks with: one per process."""

    def process(self, task: list[Item]) -> list: ...

    def close(self) -> None: ...


def spread(pending: Iterator[list[Item]], jobs: int, make: Callable[..., Processor], args: tuple,
           spawn: tuple[Callable[..., Processor], tuple] | None = None) -> Iterator[list]:
    """``make(*args).process(task)`` for each task, in task order.

    With ``jobs`` > 1 and more than one task, forked worker processes each make their own
    processor (inheriting ``args``: nothing is read again); where processes cannot fork,
    spawned ones make it with ``spawn`` (a factory and its arguments, which must pickle), and
    without ``spawn`` everything runs here. Otherwise everything runs in this process.
    """
    from . import fork_pool

    first = next(pending, None)
    if first is None:
        return
    forks = fork_pool.available()
    second = next(pending, None) if jobs > 1 and (forks or spawn) else None
    # The knowledge base and all else made so far outlive the batch: kept out of the cyclic
    # collector's scans (3% of a batch's time), in this process and in the workers it forks.
    gc.freeze()
    try:
        if second is None:
            processor = make(*args)
            try:
                for task in itertools.chain([first], pending):
                    yield processor.process(task)
            finally:
                processor.close()
        elif forks:
            yield from fork_pool.ordered_map(_work, itertools.chain([first, second], pending), jobs,
                                             IN_FLIGHT_PER_JOB, initializer=_start_worker, initargs=(make, args),
                                             on_fewer=functools.partial(_fewer_workers, jobs))
        else:
            yield from _in_spawned_pool(itertools.chain([first, second], pending), jobs, *spawn)
    finally:
        gc.unfreeze()


def _fewer_workers(wanted: int, started: int, error: OSError) -> None:
    import sys

    sys.stderr.write(f"badges: {started} of {wanted} worker processes could start ({error.strerror or error}); "
                     f"going on with {started}\n")


# A worker process holds one processor for its whole life (set by the pool's initializer).
_worker: Processor | None = None


def _start_worker(make: Callable[..., Processor], args: tuple) -> None:
    global _worker
    _worker = make(*args)


def _work(task: list[Item]) -> list:
    return _worker.process(task)


def _in_spawned_pool(task_list: Iterator[list[Item]], jobs: int, make: Callable[..., Processor],
                     args: tuple) -> Iterator[list]:
    """Where processes cannot fork: spawned workers, each making its processor from ``args``."""
    import multiprocessing  # here: a batch that fits in one process never needs it
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(make, args))
    pending: deque = deque()
    try:
        for task in task_list:
            pending.append(pool.submit(_work, task))
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


def report_reused_id(collector: Collector, key: tuple[str, str], where: tuple[str, int], earlier: Location) -> None:
    """BD307 at ``where`` (path, line): the entity id in ``key`` was already used at ``earlier``."""
    collector.add(Location(*where, 1), "BD307", f"entity id '{key[1]}' is also used by {shown_location(earlier)}")


def shown_location(where: Location) -> str:
    """How a place an entity was read from reads in a message: the file, or the file and line of a table row."""
    from .tabular_input import is_table

    return f"{where.path}:{where.line}" if is_table(Path(where.path)) else where.path


def default_jobs() -> int:
    return os.cpu_count() or 1
