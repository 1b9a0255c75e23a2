"""The tamper-evident decision log: one canonical JSON line per decision, hash-chained.

Each record carries ``prev`` (the ``hash`` of the record before it; 64 zeros for the
first) and ``hash`` (the sha256 of its own canonical JSON without ``hash``), so editing,
deleting or reordering a record breaks the chain where it happened. Appends are atomic
under an exclusive ``flock``; an existing line is never rewritten. docs/decision-log.md
describes the format.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Iterable, Iterator

from . import model as m
from .diagnostics import Collector, Diagnostic, InvalidInput, Location

__all__ = [
    "FORMAT", "GENESIS", "Entry", "Link", "LogReading", "RecordText", "append_records", "build_records", "canonical",
    "content_id", "facts_data", "read_log", "record_hash", "sha256_text", "timestamp_now",
]

FORMAT = "badges-decision-log/1"
GENESIS = "0" * 64
NOW_VARIABLE = "BADGES_NOW"


class BadClock(ValueError):
    """``BADGES_NOW`` does not hold an ISO 8601 time."""


def canonical(data) -> str:
    """The one JSON text of ``data``: sorted keys, no spaces, ASCII only (any text round-trips)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def record_hash(record: dict) -> str:
    """The sha256 a record's ``hash`` must hold: of its canonical JSON without ``hash``."""
    return sha256_text(canonical({k: v for k, v in record.items() if k != "hash"}))


def content_id(record: dict) -> str:
    """The decision id: the same entity, facts, rule base, conclusion, outcome and trail give the same id."""
    return sha256_text(canonical({
        "entity": {"kind": record["entity"]["kind"], "id": record["entity"]["id"]},
        "facts_sha256": record["facts_sha256"],
        "knowledge_base": record["knowledge_base"]["sha256"],
        "conclusion": record["conclusion"]["id"],
        "outcome": record["outcome"],
        "trail": record["trail"],
    }))


def timestamp_now() -> str:
    """UTC now in ISO 8601 (``...Z``), or the time in ``BADGES_NOW`` when it is set."""
    pinned = os.environ.get(NOW_VARIABLE)
    if pinned is None:
        moment = datetime.now(timezone.utc)
    else:
        try:
            moment = datetime.fromisoformat(pinned.strip())
        except ValueError:
            raise BadClock(f"{NOW_VARIABLE}={pinned!r} is not an ISO 8601 time "
                           "such as 2026-11-25T09:30:00Z") from None
        if moment.tzinfo is None:  # a time without offset is read as UTC
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=1)
def software_versions() -> dict:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"badges": version("badges"), "durable_rules": version("durable-rules"),
            "python": platform.python_version()}


def facts_data(entity: m.Entity) -> dict:
    """The facts as read: normalised values with their evidence, every fact in the mapping form."""
    facts = {}
    for name, value in entity.values.items():  # values and evidence: no fact record is needed
        evidence = entity.evidence(name)
        entry = {"value": list(value) if isinstance(value, tuple) else value,
                 "source": evidence.source, "as_of": evidence.as_of,
                 "reference": evidence.reference, "note": evidence.note}
        facts[name] = {k: v for k, v in entry.items() if v is not None}
    return facts


_IDENTITIES: dict[tuple[str, str], dict] = {}


def _identity(kb: m.KnowledgeBase) -> dict:
    """The rule base's identity, asked of git once per process and rule base (about 20 ms each time).

    If git's view changes while the files do not (they get committed), the cached identity
    is only more cautious: it still says uncommitted, and verify looks for the folder instead.
    """
    from .kb_identity import identify

    key = (kb.root, kb.sha256)
    if key not in _IDENTITIES:
        _IDENTITIES[key] = identify(kb)
    return _IDENTITIES[key]


@dataclass(frozen=True)
class RecordText:
    """One record's canonical JSON without ``hash`` and ``prev``, cut where those two go.

    Canonical JSON sorts keys, so a record reads ``{<head>,"hash":…,<middle>,"prev":…,<tail>}``.
    Batch workers write this text (the costly part, in parallel); the process that appends
    only chains it: it adds ``prev``, hashes, and puts ``hash`` in.
    """

    head: str  # conclusion, entity, facts, facts_sha256, format
    middle: str  # id, knowledge_base, outcome
    tail: str  # rule, software, timestamp, trail

    def line(self, prev: str) -> tuple[str, str]:
        """(the record's line, its hash) when chained after the record whose hash is ``prev``."""
        linked = f'"prev":"{prev}",{self.tail}}}'
        digest = sha256_text(f"{{{self.head},{self.middle},{linked}")
        return f'{{{self.head},"hash":"{digest}",{self.middle},{linked}\n', digest


def _members(data: dict) -> str:
    """The canonical JSON of ``data`` without its braces: a run of members of a larger object."""
    return canonical(data)[1:-1]


def build_records(kb: m.KnowledgeBase, results: Iterable) -> list[RecordText]:
    """One record (without ``prev`` and ``hash``) per reported decision of each entity result."""
    from explain.render_json import trail_data

    identity, software, timestamp = _identity(kb), software_versions(), timestamp_now()
    knowledge_base = canonical(identity)
    records = []
    for result in results:
        entity = result.entity
        facts = facts_data(entity)
        about = {"kind": entity.kind, "id": entity.id, "name": entity.name,
                 "description": entity.description, "source": entity.source}
        facts_text = canonical(facts)
        facts_sha256 = sha256_text(facts_text)
        key = canonical({"id": entity.id, "kind": entity.kind})
        for decision in result.decisions:
            conclusion = decision.conclusion
            trail = canonical(trail_data(decision.trail))
            outcome = canonical(decision.outcome)
            # content_id's canonical JSON, written out: the same keys in their sorted order
            decision_id = sha256_text(
                f'{{"conclusion":{canonical(conclusion.id)},"entity":{key},"facts_sha256":"{facts_sha256}",'
                f'"knowledge_base":"{identity["sha256"]}","outcome":{outcome},"trail":{trail}}}')
            head = _members({"conclusion": {"id": conclusion.id, "kind": conclusion.kind, "name": conclusion.name},
                             "entity": {k: v for k, v in about.items() if v is not None}})
            rule = {"id": conclusion.id, "version": conclusion.version, "file": conclusion.file,
                    "line": conclusion.line, "sha256": conclusion.sha256}
            records.append(RecordText(
                f'{head},"facts":{facts_text},"facts_sha256":"{facts_sha256}","format":{canonical(FORMAT)}',
                f'"id":"{decision_id}","knowledge_base":{knowledge_base},"outcome":{outcome}',
                _members({"rule": rule, "software": software, "timestamp": timestamp}) + f',"trail":{trail}'))
    return records


def chain_lines(records: list[RecordText], prev: str) -> Iterator[bytes]:
    """The log lines for ``records``, chained after the record whose hash is ``prev``."""
    for record in records:
        line, prev = record.line(prev)
        yield line.encode("ascii")


def _failure(path: str, message: str, line: int = 0, code: str = "BD601") -> InvalidInput:
    return InvalidInput([Diagnostic(Location(path, line, 1 if line else 0), code, message)])


def append_records(path: str | Path, records: list[RecordText]) -> None:
    """Append ``records`` to the log at ``path`` atomically; raise InvalidInput when that fails.

    Under an exclusive lock: read the last record's hash, write every line with as few
    writes as the kernel allows, fsync. If writing fails part way (disk full), the file
    is cut back to its size before the append, so no partial record is left behind.
    """
    shown = str(path)
    if not records:
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise _failure(shown, f"cannot open the decision log: {error.strerror}; nothing was added") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            prev = _last_hash(fd, size, shown)
        except OSError as error:  # e.g. a file system without locks, or a log that is a folder
            raise _failure(shown, f"cannot lock and read the decision log: {error.strerror}; "
                           "nothing was added") from None
        try:
            for line in chain_lines(records, prev):  # line by line: a chunk's records hold megabytes
                _write_all(fd, line)
            os.fsync(fd)
        except OSError as error:
            raise _failure(shown, f"cannot write the decision log: {error.strerror}; "
                           + _undo(fd, size)) from None
    finally:
        os.close(fd)  # releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _undo(fd: int, size: int) -> str:
    """Cut the file back to ``size`` after a failed append; say what is left."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
        return "nothing was added"
    except OSError:
        return "a partial record may remain at its end (badges verify reports it)"


def _last_hash(fd: int, size: int, shown: str) -> str:
    """The ``hash`` of the log's last record, read backwards from its end; GENESIS when empty."""
    if size == 0:
        return GENESIS
    if os.pread(fd, 1, size - 1) != b"\n":
        line = _count_lines(fd, size) + 1
        raise _failure(shown, "the log ends with a truncated record (an earlier append was interrupted); "
                       "nothing was added: check it with `badges verify` and start a new log", line, "BD606")
    end, start, chunk = size - 1, size - 1, 4096
    while start > 0:
        step = min(chunk, start)
        block = os.pread(fd, step, start - step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            start = start - step + cut + 1
            break
        start -= step
    try:
        last = json.loads(os.pread(fd, end - start, start))
        value = last["hash"]
        if not (isinstance(value, str) and len(value) == 64):
            raise ValueError
        return value
    except (ValueError, TypeError, KeyError):
        line = _count_lines(fd, size)
        raise _failure(shown, "the last line is not a decision record; nothing was added: "
                       "check the log with `badges verify`", line, "BD602") from None


def _count_lines(fd: int, size: int) -> int:
    count, offset = 0, 0
    while offset < size:
        block = os.pread(fd, min(1 << 20, size - offset), offset)
        count += block.count(b"\n")
        offset += len(block)
    return count


# -- reading ------------------------------------------------------------------------------

_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_REVISION = {"type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$"}  # a SHA-1 or SHA-256 commit id
# a relative path without '..', absolute parts or control characters
_RELATIVE = r"^(?!/)(?!(.*/)?\.\.(/|$))[^\x00-\x1f\\]+$"

# The log is untrusted input: what verify hands to git and the file system is checked here.
KB_IDENTITY_SCHEMA = {
    "type": "object",
    "required": ["sha256", "root", "files", "git"],
    "properties": {
        "sha256": _SHA256,
        "root": {"type": "string"},
        "git": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["head", "prefix"],
            "properties": {"head": _REVISION, "prefix": {"type": "string", "pattern": _RELATIVE + "|^$"}},
        }]},
        "files": {"type": "array", "items": {
            "type": "object", "required": ["path", "sha256"],
            "properties": {"path": {"type": "string", "pattern": _RELATIVE}, "sha256": _SHA256,
                           "revision": {"oneOf": [{"type": "null"}, _REVISION]},
                           "dirty": {"type": "boolean"}},
        }},
    },
}

RECORD_SCHEMA = {
    "type": "object",
    "required": ["format", "id", "timestamp", "entity", "facts", "facts_sha256", "knowledge_base",
                 "conclusion", "outcome", "trail", "prev", "hash"],
    "properties": {
        "format": {"const": FORMAT},
        "id": _SHA256,
        "timestamp": {"type": "string"},
        "entity": {"type": "object", "required": ["kind", "id", "name", "source"],
                   "properties": {k: {"type": "string"} for k in ("kind", "id", "name", "description", "source")}},
        "facts_sha256": _SHA256,
        "software": {"type": "object"},
        "facts": {"type": "object"},
        "knowledge_base": {"type": "object"},  # checked by KB_IDENTITY_SCHEMA, once per distinct value
        "conclusion": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        "outcome": {"type": "string"},
        "trail": {"type": "object"},
        "prev": _SHA256,
        "hash": _SHA256,
    },
}


@dataclass(frozen=True)
class Entry:
    line: int
    record: dict


@dataclass(frozen=True)
class Link:
    """A readable record's place in the chain."""

    line: int
    prev: str
    hash: str


@dataclass(frozen=True)
class LogReading:
    """What a log holds: where its readable records are, and every problem with the chain.

    Only the chain links are kept; ``entries()`` reads the records again one at a time,
    so a log larger than memory can still be verified.
    """

    path: str
    links: tuple[Link, ...]
    problems: tuple[Diagnostic, ...]
    lines: int
    head: str  # the hash of the last record (GENESIS for an empty log): keep it to detect a cut tail

    def entries(self) -> Iterator[Entry]:
        """The readable records, in log order; InvalidInput if the file changed since it was read."""
        links = {link.line: link.hash for link in self.links}
        for number, raw, _ in _lines(self.path):
            if number in links:
                record = json.loads(raw)
                if record.get("hash") != links[number]:
                    raise _failure(self.path, "the log changed while it was being verified", number)
                yield Entry(number, record)


def _lines(path: str) -> Iterator[tuple[int, bytes, bool]]:
    """Each line's number, its bytes without the newline, and whether it had one."""
    with open(path, "rb") as log:
        for number, raw in enumerate(log, 1):
            complete = raw.endswith(b"\n")
            yield number, raw[:-1] if complete else raw, complete


def read_log(path: str | Path) -> LogReading:
    """Read a decision log and check its chain; raise InvalidInput if the file cannot be read."""
    shown = str(path)
    collector = Collector()
    links: list[Link] = []
    count = 0
    try:
        for count, raw, complete in _lines(shown):
            where = Location(shown, count, 1)
            if not complete:  # only the last line can lack its newline
                collector.add(where, "BD606", "truncated record: the last line has no end (an append was interrupted)")
                continue
            record = _parse(raw, where, collector)
            if record is not None:
                links.append(Link(count, record["prev"], record["hash"]))
    except OSError as error:
        raise _failure(shown, f"cannot read the decision log: {error.strerror}") from None
    _check_links(links, collector, shown)
    head = links[-1].hash if links else GENESIS
    return LogReading(shown, tuple(links), tuple(sorted(collector.items, key=Diagnostic.sort_key)), count, head)


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"record": RECORD_SCHEMA, "identity": KB_IDENTITY_SCHEMA}[name])


@lru_cache(maxsize=64)
def _identity_problem(text: str) -> tuple[str, str] | None:
    """Where and what is wrong with a knowledge base identity (given as canonical JSON), or None.

    Every record of a run repeats the same identity (about a hundred files): checking
    each distinct one once keeps verify fast.
    """
    problem = _first_problem(_validator("identity"), json.loads(text))
    if problem is None:
        return None
    return "/".join(["knowledge_base", *(str(p) for p in problem.absolute_path)]), problem.message


def _first_problem(validator, data):
    return next(iter(sorted(validator.iter_errors(data), key=str)), None)


def _parse(raw: bytes, where: Location, collector: Collector) -> dict | None:
    if not raw.strip():
        collector.add(where, "BD602", "empty line where a decision record belongs")
        return None
    try:
        record = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as error:
        collector.add(where, "BD602", f"not a decision record: {error}")
        return None
    problem = _first_problem(_validator("record"), record)
    if problem is not None:
        at = "/".join(str(p) for p in problem.absolute_path) or "the record"
        collector.add(where, "BD602", f"not a decision record: {at}: {problem.message}")
        return None
    identity_problem = _identity_problem(canonical(record["knowledge_base"]))
    if identity_problem is not None:
        collector.add(where, "BD602", "not a decision record: {}: {}".format(*identity_problem))
        return None
    if canonical(record) != raw.decode("ascii"):
        collector.add(where, "BD603", "record edited: the line is not in the form the log writes")
    elif record_hash(record) != record["hash"]:
        collector.add(where, "BD603", "record edited: its content does not match its hash")
    elif sha256_text(canonical(record["facts"])) != record["facts_sha256"] or content_id(record) != record["id"]:
        collector.add(where, "BD603", "record edited: its facts or id do not match its content")
    return record


def _check_links(links: list[Link], collector: Collector, shown: str) -> None:
    """Each record's ``prev`` must be the hash of the record on the line before it."""
    where_is: dict[str, int] = {}
    for link in links:
        where_is.setdefault(link.hash, link.line)
    previous: Link | None = None
    for link in links:
        prev, here = link.prev, Location(shown, link.line, 1)
        expected = GENESIS if link.line == 1 else (
            previous.hash if previous is not None and previous.line == link.line - 1 else None)
        previous = link
        if expected is None or prev == expected:
            continue  # after an unreadable line the link cannot be judged
        if prev == GENESIS:
            collector.add(here, "BD605", f"out of order: this record starts a chain but follows line {link.line - 1}")
        elif prev in where_is:
            before = where_is[prev]
            place = "which comes after it" if before > link.line else f"not line {link.line - 1}"
            collector.add(here, "BD605", f"out of order: in the chain it follows line {before}, {place}")
        elif link.line == 1:
            collector.add(here, "BD604", "records deleted: the log does not begin with the first record of its chain")
        else:
            collector.add(here, "BD604", f"broken link: the record before this one is missing (a record was deleted, "
                          f"or line {link.line - 1} was altered and re-hashed)")
