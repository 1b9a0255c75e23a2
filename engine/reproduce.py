"""Re-evaluate logged decisions with the rule base each one names, and say what changed.

A record is ``reproduced`` when the same facts under the rule base give the same outcome
and the same trail, ``differs`` when they do not (with the nodes whose value changed), or
``cannot verify`` when the rule base it names is nowhere to be found (with why).
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from . import model as m
from .decision_log import Entry, canonical, software_versions
from .diagnostics import Collector, InvalidInput, Location
from .kb_identity import Unavailable, rebuild_from_git

REPRODUCED, DIFFERS, CANNOT = "reproduced", "differs", "cannot verify"
_REMEMBERED = 64  # entities whose results are kept: an entity's records sit together in a log


@dataclass(frozen=True)
class Verdict:
    line: int
    about: dict  # what the record says it is: see ``summary_of``
    status: str
    outcome: str | None = None  # the outcome re-evaluation reached
    rule_base: str | None = None  # where the rule base came from
    differences: tuple[str, ...] = ()
    why: str | None = None  # for cannot verify
    notes: tuple[str, ...] = field(default=())


class RuleBases:
    """Finds the rule base a record names (``--kb``, the bundled one, its folder, or git) and keeps it."""

    def __init__(self, scratch: Path, given: m.KnowledgeBase | None = None, given_name: str | None = None):
        self.scratch = scratch
        self.given, self.given_name = given, given_name
        self._by_sha: dict[str, tuple[m.KnowledgeBase, str] | str] = {}
        self._by_path: dict[str, m.KnowledgeBase | str] = {}

    def find(self, identity: dict) -> tuple[m.KnowledgeBase, str]:
        """The rule base and how it was found; raise Unavailable with every reason it was not."""
        if self.given is not None:
            return self.given, f"--kb {self.given_name}"
        sha = identity["sha256"]
        if sha not in self._by_sha:
            self._by_sha[sha] = self._search(identity)
        found = self._by_sha[sha]
        if isinstance(found, str):
            raise Unavailable(found)
        return found

    def _search(self, identity: dict) -> tuple[m.KnowledgeBase, str] | str:
        from knowledge_base import BUNDLED

        sha, root, reasons = identity["sha256"], Path(identity["root"]), []
        places = [(BUNDLED, "bundled", "the bundled rule base")]
        if root.resolve() != BUNDLED.resolve():
            places.append((root, f"folder {root}", f"the folder {root}"))
        for folder, how, name in places:
            kb = self._load(folder)
            if isinstance(kb, m.KnowledgeBase) and kb.sha256 == sha:
                return kb, how
            reasons.append(f"{name} " + (kb if isinstance(kb, str) else f"now has sha256 {kb.sha256[:12]}…"))
        into = self.scratch / sha
        try:
            rebuild_from_git(identity, into, [_existing(root), Path.cwd()])
        except Unavailable as error:
            reasons.append(f"git: {error}")
            return "rule base unavailable: " + "; ".join(reasons)
        kb = self._load(into)
        if isinstance(kb, str) or kb.sha256 != sha:
            reasons.append("git: the rebuilt rule base " + (kb if isinstance(kb, str) else "has another sha256"))
            return "rule base unavailable: " + "; ".join(reasons)
        return kb, f"git {identity['git']['head'][:12]}"

    def _load(self, folder: Path) -> m.KnowledgeBase | str:
        """The knowledge base in ``folder``, or why it cannot be loaded."""
        from .kb_loader import load_knowledge_base

        key = str(folder)
        if key not in self._by_path:
            if not folder.is_dir():
                self._by_path[key] = "no longer exists"
            else:
                try:
                    self._by_path[key] = load_knowledge_base(folder)
                except InvalidInput as error:
                    self._by_path[key] = f"does not load ({error.diagnostics[0].format()})"
        return self._by_path[key]


def _existing(path: Path) -> Path:
    """``path`` or its nearest folder that still exists (to find the git repository from)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def summary_of(record: dict) -> dict:
    """The few fields of a record a verdict reports (the record itself is not kept)."""
    return {"id": record["id"], "hash": record["hash"], "timestamp": record["timestamp"],
            "entity": {k: record["entity"].get(k) for k in ("kind", "id", "name")},
            "conclusion": record["conclusion"]["id"], "outcome": record["outcome"]}


class Reproducer:
    """Re-evaluates records; evaluates each distinct entity once per rule base."""

    def __init__(self, rule_bases: RuleBases, log_path: str):
        self.rule_bases = rule_bases
        self.log_path = log_path
        self._engines: dict[int, object] = {}
        self._results: OrderedDict[tuple, object] = OrderedDict()  # the last few entities' results

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()

    def verify(self, entry: Entry) -> Verdict:
        record, line = entry.record, entry.line
        about = summary_of(record)
        try:
            kb, how = self.rule_bases.find(record["knowledge_base"])
        except Unavailable as error:
            return Verdict(line, about, CANNOT, why=str(error))
        notes = _notes(record, kb)
        conclusion_id = record["conclusion"]["id"]
        if kb.find_conclusion(conclusion_id) is None:
            return Verdict(line, about, CANNOT, rule_base=how, notes=notes,
                           why=f"the rule base has no conclusion '{conclusion_id}'")
        from .durable_backend import DurableRulesError
        from .inference import EngineDisagreement

        try:
            result = self._evaluate(kb, record, line)
        except InvalidInput as error:
            problems = "; ".join(f"{d.code} {d.message}" for d in error.diagnostics)
            return Verdict(line, about, CANNOT, rule_base=how, notes=notes,
                           why=f"the recorded facts do not fit the rule base: {problems}")
        except (DurableRulesError, EngineDisagreement) as error:
            # A defect, but one record's failure must not keep the auditor from the others' verdicts.
            return Verdict(line, about, CANNOT, rule_base=how, notes=notes,
                           why=f"the engine failed on this record ({type(error).__name__}: {error})")
        trail = result.trails.get(conclusion_id)
        if trail is None:
            return Verdict(line, about, CANNOT, rule_base=how, notes=notes,
                           why=f"the rule base does not evaluate '{conclusion_id}' for a {record['entity']['kind']}")
        from explain.render_json import trail_data

        now = json.loads(canonical(trail_data(trail)))
        # the same trail, as nearly every record's is, differs in nothing: no need to walk both
        differences = () if now == record["trail"] else tuple(trail_differences(record["trail"], now))
        if record["outcome"] != now["outcome"] and not differences:
            differences = (f"outcome {record['outcome']} → {now['outcome']}",)
        return Verdict(line, about, DIFFERS if differences else REPRODUCED, outcome=now["outcome"],
                       rule_base=how, differences=differences, notes=notes)

    def _evaluate(self, kb: m.KnowledgeBase, record: dict, line: int):
        entity_data = {k: v for k, v in record["entity"].items() if k != "source"}
        key = (id(kb), canonical(entity_data), canonical(record["facts"]))
        if key not in self._results:
            from .inference import Engine

            entity = rebuild_entity(record, kb, Location(self.log_path, line, 1))
            if id(kb) not in self._engines:
                self._engines[id(kb)] = Engine(kb)
            self._results[key] = self._engines[id(kb)].evaluate(entity)
            if len(self._results) > _REMEMBERED:
                self._results.popitem(last=False)
        return self._results[key]


def rebuild_entity(record: dict, kb: m.KnowledgeBase, where: Location) -> m.Entity:
    """The entity a record was decided for, from its canonical facts, through the facts loader."""
    from .facts_loader import read_facts
    from .source import Document
    from .validation import check_schema

    about = record["entity"]
    data = {k: about[k] for k in ("kind", "id", "name", "description") if k in about}
    data["facts"] = record["facts"]
    # Every problem points at the record's line: the record is the document here.
    document = Document(where.path, data, {(): (where.line, 1)}, {(): (where.line, 1)})
    collector = Collector()
    facts = None
    if check_schema(document, "facts", collector):
        schema = kb.facts_for(data["kind"])
        if schema:
            facts = read_facts(document, ("facts",), schema, collector)
        else:
            collector.add(where, "BD306", f"no pack evaluates entities of kind '{data['kind']}'")
    collector.raise_if_errors()
    return m.Entity(kind=data["kind"], id=data["id"], name=data["name"], description=data.get("description"),
                    source=about["source"], facts=m.frozen_map(facts))


def _notes(record: dict, kb: m.KnowledgeBase) -> tuple[str, ...]:
    notes = []
    if kb.sha256 != record["knowledge_base"]["sha256"]:
        notes.append(f"evaluated with a different rule base (sha256 {kb.sha256[:12]}…, "
                     f"recorded {record['knowledge_base']['sha256'][:12]}…)")
    then, now = record.get("software") or {}, software_versions()
    for name in ("badges", "durable_rules"):
        if then.get(name) != now[name]:
            notes.append(f"recorded with {name} {then.get(name)}, verified with {now[name]}")
    return tuple(notes)


# -- comparing trails ---------------------------------------------------------------------

# `deciding` is left out: it follows from the values, and would repeat every value change.
_NODE_FIELDS = ("kind", "value", "count", "op", "threshold")


def _essence(trail: dict) -> dict:
    """What a trail decides, keyed by conclusion and node id; wording and citations left out."""
    found: dict[tuple[str, str], dict] = {}

    def visit(item) -> None:
        if isinstance(item, list):
            for element in item:
                visit(element)
            return
        if not isinstance(item, dict):
            return
        if isinstance(item.get("conclusion"), str) and "outcome" in item:
            rule = item.get("rule") or {}
            found[("conclusion", item["conclusion"])] = {
                "outcome": item["outcome"], "version": rule.get("version"), "rule sha256": rule.get("sha256")}
        elif "id" in item and "kind" in item and "value" in item:
            facts = {f"{key} {sub}": (item[key] or {}).get(sub)
                     for key in ("fact", "other_fact") if item.get(key) for sub in ("name", "known", "value")}
            found[("node", item["id"])] = {**{k: item.get(k) for k in _NODE_FIELDS}, **facts}
        for value in item.values():
            visit(value)

    visit(trail)
    return found


def trail_differences(before: dict, after: dict) -> list[str]:
    """Plain-language differences between a recorded trail and a new one (empty when they agree)."""
    old, new = _essence(before), _essence(after)
    lines = []
    if before.get("outcome") != after.get("outcome"):
        lines.append(f"outcome {before.get('outcome')} → {after.get('outcome')}")
    for key in [*old, *(k for k in new if k not in old)]:  # tree order
        what, name = key
        label = f"{what} {name}"
        if key not in new:
            lines.append(f"{label}: no longer in the trail")
        elif key not in old:
            lines.append(f"{label}: new in the trail")
        else:
            for attribute in [*old[key], *(a for a in new[key] if a not in old[key])]:
                if what == "conclusion" and attribute == "outcome" and name == before.get("conclusion"):
                    continue  # already said above
                a, b = old[key].get(attribute), new[key].get(attribute)
                if a != b:
                    lines.append(f"{label}: {attribute} {_show(a)} → {_show(b)}")
    return lines


def _show(value) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12] + "…"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
