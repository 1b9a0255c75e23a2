"""Impact of a rule edit: evaluate a portfolio under an old and a new knowledge base and compare.

For every entity and reported conclusion whose outcome differs, the change says from what
to what, and which condition nodes changed value (the two trails compared by node id,
through the derived conclusions they read). The old knowledge base can also be a git
revision of the new one's folder (``checkout_revision``). The portfolio is streamed: worker
processes load and compare a chunk of entities each (``compare``'s ``jobs``) and send back
only what changed, so memory stays flat however many entities there are.
"""
from __future__ import annotations

import io
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from . import model as m
from .diagnostics import Collector, Diagnostic, InvalidInput, Location
from .facts_loader import normalise

ABSENT = "absent"  # the outcome of a conclusion one of the two knowledge bases does not have


@dataclass(frozen=True)
class NodeChange:
    """A condition node whose value differs; ``None`` when the node is absent on that side."""

    id: str
    old: str | None
    new: str | None


class EntityRef(NamedTuple):
    """What a change names of its entity."""

    kind: str
    id: str
    name: str
    source: str


@dataclass(frozen=True)
class Change:
    entity: EntityRef
    conclusion: str
    name: str
    old: str
    new: str
    nodes: tuple[NodeChange, ...]


@dataclass(frozen=True)
class Impact:
    old_kb: m.KnowledgeBase
    new_kb: m.KnowledgeBase
    entities: int
    changes: tuple[Change, ...]
    dropped: tuple[tuple[str, tuple[str, ...]], ...]  # (entity id, facts the old fact schema cannot hold)

    def summary(self) -> dict[str, Counter]:
        """Per conclusion, how many entities moved from one outcome to another."""
        counts: dict[str, Counter] = {}
        for change in self.changes:
            counts.setdefault(change.conclusion, Counter())[(change.old, change.new)] += 1
        return counts


CHUNK = 128  # facts files, or table rows, a task compares


def compare(old_kb: m.KnowledgeBase, new_kb: m.KnowledgeBase, paths: Iterable[str | Path], jobs: int = 1,
            advance: Callable[[int], None] | None = None) -> Impact:
    """Evaluate every entity under ``paths`` (facts files, folders of them, tables; loaded under
    ``new_kb``) under both knowledge bases and list what changed. Raises InvalidInput with every
    problem of the input (a file that cannot be read, a bad entity, an id used twice).

    A path that is not there stops it before any work. The input is read as it is compared,
    ``CHUNK`` entities a task; with ``jobs`` > 1 and more than one task, forked worker
    processes (each inheriting both knowledge bases) load and compare the tasks and send back
    only what changed; where workers cannot be forked, everything runs in this process.
    ``advance(n)`` is told of every ``n`` entities read (a progress bar)."""
    from . import batch
    from .diagnostics import Severity
    from .facts_loader import facts_paths

    collector = Collector()
    files = facts_paths(paths, collector)
    collector.raise_if_errors()  # a mistake on the command line: no work done, as evaluate does
    items = batch.input_items(files, new_kb, collector, expanded=True, rows=CHUNK)
    changes: list[Change] = []
    dropped: list[tuple[str, tuple[str, ...]]] = []
    count = 0
    bad = False  # once the input is known to be bad, nothing compared is reported: only problems are kept
    with batch.UniqueIds() as seen:
        for answers in batch.spread(batch.tasks(items, CHUNK), jobs, _Comparer, (old_kb, new_kb)):
            if advance is not None:
                advance(len(answers))
            for key, where, diagnostics, found in answers:
                collector.items.extend(diagnostics)
                bad = bad or any(d.severity is Severity.ERROR for d in diagnostics)
                if key is None:
                    continue
                count += 1
                earlier = seen.first_use(key, where)
                if earlier is not None:
                    batch.report_reused_id(collector, key, where, earlier)
                    bad = True
                if bad:
                    continue
                ref, entity_changes, lost = found
                if entity_changes or lost:
                    ref = EntityRef(*ref)
                    changes.extend(Change(ref, *change) for change in entity_changes)
                    if lost:
                        dropped.append((ref.id, lost))
    collector.raise_if_errors()
    return Impact(old_kb, new_kb, count, tuple(changes), tuple(dropped))


class _Comparer:
    """Loads entities under the new knowledge base and compares their outcomes under both (a
    ``batch.Processor``: one per process)."""

    def __init__(self, old_kb: m.KnowledgeBase, new_kb: m.KnowledgeBase):
        from .inference import Engine

        self.old_kb, self.new_kb = old_kb, new_kb
        self.old_engine, self.new_engine = Engine(old_kb), Engine(new_kb)
        self.unchanged: dict[str, frozenset[str]] = {}  # entity kind -> facts both knowledge bases read alike

    def close(self) -> None:
        self.old_engine.close()
        self.new_engine.close()

    def process(self, task: list) -> list[tuple]:
        """Per entity of the task: ((kind, id), where, problems, what was found) in plain tuples;
        what was found is None for an entity that could not be read, else ((kind, id, name,
        source) when something changed, its changes, the facts the old schema cannot hold)."""
        from .batch import answers_for

        return answers_for(task, self.new_kb, self._found)

    def _found(self, entity: m.Entity) -> tuple:
        changes, lost = self.compare(entity)
        named = (entity.kind, entity.id, entity.name, entity.source) if changes or lost else None
        return named, changes, lost

    def compare(self, entity: m.Entity) -> tuple[list[tuple], tuple[str, ...]]:
        """(conclusion, name, old outcome, new outcome, node changes) for each outcome of the
        entity that changes, and the facts the old schema cannot hold."""
        changes: list[tuple] = []
        new_result = self.new_engine.evaluate(entity)
        if entity.kind not in self.unchanged:
            self.unchanged[entity.kind] = same_facts(self.old_kb, self.new_kb, entity.kind)
        old_entity, lost = rebase(entity, self.old_kb, self.unchanged[entity.kind])
        old_result = self.old_engine.evaluate(old_entity) if self.old_kb.packs_for(entity.kind) else None
        new_outcomes, old_outcomes = _reported(new_result), _reported(old_result)
        for cid in list(new_outcomes) + [c for c in old_outcomes if c not in new_outcomes]:
            before, after = old_outcomes.get(cid, ABSENT), new_outcomes.get(cid, ABSENT)
            if before != after:  # only then are the two trails built and compared
                old, new = _decision(old_result, cid), _decision(new_result, cid)
                changes.append((cid, (new or old).conclusion.name, before, after,
                                node_changes(old and old.trail, new and new.trail)))
        return changes, lost


def _reported(result) -> dict[str, str]:
    """Reported conclusion -> its outcome (none without a result)."""
    return {c.id: result.outcomes[c.id] for c in result.reported} if result is not None else {}


def _decision(result, conclusion_id: str):
    """The decision on a reported conclusion, with its trail; None if the result has none."""
    if result is None:
        return None
    return next((d for d in result.decisions if d.conclusion.id == conclusion_id), None)


def node_changes(old, new) -> tuple[NodeChange, ...]:
    """Nodes whose value differs between two trails of one conclusion, new trail order first."""
    before = _values(old.root, {}) if old else {}
    after = _values(new.root, {}) if new else {}
    ids = list(after) + [i for i in before if i not in after]
    return tuple(NodeChange(i, before.get(i), after.get(i)) for i in ids if before.get(i) != after.get(i))


def _values(node, into: dict[str, str]) -> dict[str, str]:
    into.setdefault(node.id, node.value.value)
    if node.conclusion is not None:
        _values(node.conclusion.root, into)
    for child in node.children:
        _values(child, into)
    return into


def same_facts(old_kb: m.KnowledgeBase, new_kb: m.KnowledgeBase, kind: str) -> frozenset[str]:
    """Facts of ``kind`` that both knowledge bases declare with the same type, values and range:
    a value the new one accepted, the old one takes as it is."""
    old, new = old_kb.facts_for(kind), new_kb.facts_for(kind)
    return frozenset(name for name, spec in new.items() if name in old and
                     (spec.type, spec.values, spec.range) == (old[name].type, old[name].values, old[name].range))


def rebase(entity: m.Entity, old_kb: m.KnowledgeBase,
           unchanged: frozenset[str] = frozenset()) -> tuple[m.Entity, tuple[str, ...]]:
    """The entity as the old knowledge base sees it: facts its schema lacks or rejects become unknown.
    Facts in ``unchanged`` (see ``same_facts``) keep their values without being read again."""
    schema = old_kb.facts_for(entity.kind)
    kept: dict = {}
    lost: list[str] = []
    for name, value in entity.values.items():
        if name in unchanged:
            kept[name] = value
            continue
        spec = schema.get(name)
        fact = entity.facts[name]
        normal = normalise(list(value) if isinstance(value, tuple) else value, spec, fact.location,
                           Collector()) if spec else None
        if normal is None:
            lost.append(name)
        else:
            kept[name] = normal
    evidence = {name: given for name, given in entity.given_evidence().items() if name in kept}
    facts = m.LazyFacts(kept, evidence, lambda name: entity.facts[name].location)
    return m.Entity(entity.kind, entity.id, entity.name, entity.description, entity.source, facts), tuple(lost)


def checkout_revision(kb_dir: Path, revision: str, into: Path) -> tuple[Path, str]:
    """Write ``kb_dir`` as of git ``revision`` under ``into``; return that folder and the commit id.

    Raises InvalidInput (BD502) when the folder is not in a git repository, the revision
    is unknown, or the folder did not exist at that revision.
    """
    where = Location(str(kb_dir))

    def fail(message: str) -> InvalidInput:
        return InvalidInput([Diagnostic(where, "BD502", message)])

    def git(*args: str, cwd: Path = kb_dir) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False)
        except OSError as error:
            raise fail(f"cannot run git: {error.strerror or error}") from None

    if not kb_dir.is_dir():
        raise fail("knowledge base folder not found")
    top = git("rev-parse", "--show-toplevel")
    if top.returncode:
        raise fail("the knowledge base folder is not inside a git repository; give OLD_KB as a folder instead")
    prefix = git("rev-parse", "--show-prefix").stdout.decode().strip()
    commit = git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if commit.returncode:
        raise fail(f"git does not know the revision '{revision}'")
    commit_id = commit.stdout.decode().strip()
    root = Path(top.stdout.decode().strip())
    archive = git("archive", "--format=tar", commit_id, "--", prefix or ".", cwd=root)
    if archive.returncode:
        raise fail(f"'{prefix or '.'}' does not exist at revision '{revision}' ({commit_id[:12]})")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: refuse odd members
            tar.extractall(into, filter="data")
        else:  # git archive of a tree holds plain files and folders only
            tar.extractall(into)
    return into / prefix, commit_id
