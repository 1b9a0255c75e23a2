"""Load a knowledge base folder into immutable objects, reporting every problem at once."""
from __future__ import annotations

import hashlib
import math
from datetime import date
from pathlib import Path

from . import model as m
from .diagnostics import Collector, InvalidInput, Location, did_you_mean
from .rule_limits import largest_comparable
from .schemas import NODE_KINDS
from .source import Document, read_document
from .validation import check_schema

# folder name -> the kind of conclusion its files hold
RULE_FOLDERS = {spec.folder: spec.name for spec in m.KINDS.values()}


class _KBReader:
    def __init__(self, root: Path):
        self.root = root
        self.collector = Collector()
        self.files: list[tuple[str, str]] = []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def shown(self, path: Path) -> str:
        return str(path)

    def read(self, path: Path, schema: str) -> Document | None:
        if not path.is_file():
            self.collector.add(Location(self.shown(path)), "BD212", f"missing file {self.rel(path)}")
            return None
        self.files.append((self.rel(path), hashlib.sha256(path.read_bytes()).hexdigest()))
        document = read_document(path, self.collector, self.shown(path))
        if document is None or not check_schema(document, schema, self.collector):
            return None
        return document


def load_knowledge_base(root: Path | str) -> m.KnowledgeBase:
    """Read, validate and link a knowledge base; raise InvalidInput listing every problem."""
    kb, collector = load_with_diagnostics(root)
    collector.raise_if_errors()
    return kb


def load_with_diagnostics(root: Path | str) -> tuple[m.KnowledgeBase | None, Collector]:
    """Like ``load_knowledge_base`` but return the diagnostics (warnings too) instead of raising."""
    root = Path(root)
    reader = _KBReader(root)
    if not root.is_dir():
        reader.collector.add(Location(str(root)), "BD001", "knowledge base folder not found")
        return None, reader.collector
    manifest = reader.read(root / "kb.yaml", "kb")
    sources_doc = reader.read(root / "sources.yaml", "sources")
    sources = _sources(sources_doc, reader.collector) if sources_doc else {}
    packs: dict[str, m.Pack] = {}
    if manifest:
        linker = _Linker(reader, sources)
        for index, pack_id in enumerate(manifest.data["packs"]):
            pack = linker.pack(root / pack_id, pack_id, manifest.at(("packs", index)))
            if pack:
                packs[pack_id] = pack
        linker.check_cross_pack(packs)
    if reader.collector.errors or manifest is None:
        return None, reader.collector
    files = tuple(sorted(reader.files))
    digest = hashlib.sha256("".join(f"{path}\0{sha}\n" for path, sha in files).encode()).hexdigest()
    kb = m.KnowledgeBase(
        name=manifest.data["name"], version=manifest.data["version"],
        description=manifest.data.get("description", ""), root=str(root),
        packs=m.frozen_map(packs), sources=m.frozen_map(sources), sha256=digest, files=files,
    )
    return kb, reader.collector


def _sources(document: Document, collector: Collector) -> dict[str, m.Source]:
    sources: dict[str, m.Source] = {}
    for i, item in enumerate(document.data["sources"]):
        if item["id"] in sources:
            collector.add(document.at(("sources", i, "id")), "BD203", f"source '{item['id']}' is listed twice")
        sources[item["id"]] = m.Source(item["id"], item["title"], item["file"])
    return sources


class _Linker:
    """Turns validated documents into model objects and checks what they refer to."""

    def __init__(self, reader: _KBReader, sources: dict[str, m.Source]):
        self.reader = reader
        self.collector = reader.collector
        self.sources = sources
        self.node_ids: dict[str, Location] = {}
        self.failed: set[str] = set()  # ids of conclusions whose files had errors
        self.facts_by_kind: dict[str, dict[str, m.FactSpec]] = {}

    # -- packs -------------------------------------------------------------------------
    def pack(self, folder: Path, pack_id: str, named_at: Location) -> m.Pack | None:
        if not folder.is_dir():
            self.collector.add(named_at, "BD212", f"pack folder '{pack_id}' not found")
            return None
        manifest = self.reader.read(folder / "pack.yaml", "pack")
        facts_doc = self.reader.read(folder / "facts.yaml", "facts-schema")
        if manifest is None or facts_doc is None:
            return None
        if manifest.data["id"] != pack_id:
            self.collector.add(manifest.at(("id",)), "BD213",
                               f"pack id '{manifest.data['id']}' does not match its folder '{pack_id}'")
        facts = self.fact_specs(facts_doc, manifest.data["entity"])
        documents = []
        for sub in RULE_FOLDERS:
            for path in sorted((folder / sub).glob("*.yaml")):
                document = self.reader.read(path, "conclusion")
                if document is not None:
                    documents.append(document)
        conclusions = {}
        for document in documents:
            conclusion = self.conclusion(document, pack_id, facts)
            if conclusion is None:
                # already reported: rules that use it must not also call it unknown
                self.failed.add(str(document.data.get("id")))
                continue
            if conclusion.id in conclusions:
                self.collector.add(document.at(("id",)), "BD203", f"conclusion '{conclusion.id}' is defined twice")
                continue
            conclusions[conclusion.id] = conclusion
        return m.Pack(
            id=pack_id, name=manifest.data["name"], entity=manifest.data["entity"],
            version=manifest.data["version"], description=manifest.data.get("description", ""),
            facts=m.frozen_map(facts), conclusions=conclusions, tests_dir=str(folder / "tests"),
            order=self.order(manifest, conclusions),
        )

    def order(self, manifest: Document, conclusions: dict) -> tuple[str, ...]:
        listed = tuple(manifest.data.get("order", ()))
        for i, cid in enumerate(listed):
            if cid not in conclusions:
                self.collector.add(manifest.at(("order", i)), "BD202", f"unknown conclusion '{cid}' in order",
                                   suggestion=did_you_mean(cid, conclusions))
        return listed

    def fact_specs(self, document: Document, entity: str) -> dict[str, m.FactSpec]:
        specs: dict[str, m.FactSpec] = {}
        known = self.facts_by_kind.setdefault(entity, {})
        for i, item in enumerate(document.data["facts"]):
            where = document.at(("facts", i))
            kind = item["type"]
            if item["name"] in specs:
                self.collector.add(document.at(("facts", i, "name")), "BD215",
                                   f"fact '{item['name']}' is declared twice")
                continue
            values = tuple(item["values"]) if "values" in item else None
            if kind in ("enum", "enum_list") and values is None:
                self.collector.add(where, "BD215", f"fact '{item['name']}' of type {kind} needs 'values'")
            if kind not in ("enum", "enum_list") and values is not None:
                self.collector.add(document.at(("facts", i, "values")), "BD215",
                                   f"'values' only applies to enum and enum_list facts, not {kind}")
            bounds = tuple(item["range"]) if "range" in item else None
            if bounds is not None and kind not in ("number", "integer", "percentage"):
                self.collector.add(document.at(("facts", i, "range")), "BD215",
                                   f"'range' only applies to numeric facts, not {kind}")
            if kind == "percentage":
                low, high = bounds or (0, 1)
                bounds = (max(0.0, low if low is not None else 0.0), min(1.0, high if high is not None else 1.0))
            if bounds and None not in bounds and bounds[0] > bounds[1]:
                self.collector.add(document.at(("facts", i, "range")), "BD215", "range minimum exceeds its maximum")
            spec = m.FactSpec(item["name"], kind, item["description"], item["question"], item.get("unit"),
                              values, bounds, where, item.get("context", False))
            if spec.name in known and (known[spec.name].type, known[spec.name].values) != (kind, values):
                self.collector.add(where, "BD215",
                                   f"fact '{spec.name}' is declared differently by another '{entity}' pack")
            specs[spec.name] = spec
            known.setdefault(spec.name, spec)
        return specs

    # -- conclusions -------------------------------------------------------------------
    def conclusion(self, document: Document, pack_id: str, facts: dict) -> m.Conclusion | None:
        data = document.data
        path = Path(document.path)
        if path.stem != data["id"]:
            self.collector.add(document.at(("id",)), "BD213",
                               f"id '{data['id']}' does not match the file name '{path.name}'")
        expected_kind = RULE_FOLDERS[path.parent.name]
        if data["kind"] != expected_kind:
            self.collector.add(document.at(("kind",)), "BD101",
                               f"a file under {path.parent.name}/ must have kind '{expected_kind}'")
        self.check_date(document, ("effective",))
        before = len(self.collector.errors)
        condition, levels = None, ()
        if data["kind"] == m.LEVEL:
            for key in ("condition",):
                if key in data:
                    self.collector.add(document.at((key,), key=True), "BD102",
                                       "a level conclusion has 'levels' and 'otherwise', not 'condition'")
            levels = self.levels(document, data, facts)
        else:
            for key in ("levels", "otherwise"):
                if key in data:
                    self.collector.add(document.at((key,), key=True), "BD102",
                                       f"'{key}' only belongs in a level conclusion, not a {data['kind']}")
            condition = self.node(document, data["condition"], ("condition",), facts)
        cite = self.citation(document, data, (), what=f"rule '{data['id']}'")
        if len(self.collector.errors) > before:
            return None
        root_path = Path(self.reader.root)
        return m.Conclusion(
            id=data["id"], kind=data["kind"], name=data["name"], description=data["description"].strip(),
            version=data["version"], effective=data["effective"], owner=data["owner"], cite=cite,
            condition=condition, pack=pack_id, file=path.relative_to(root_path).as_posix(),
            line=document.at(("id",), key=True).line,
            sha256=dict(self.reader.files)[path.relative_to(root_path).as_posix()],
            levels=levels, otherwise=data.get("otherwise"),
        )

    def levels(self, document: Document, data: dict, facts: dict) -> tuple[m.Level, ...]:
        """The ordered levels of a graded conclusion; every outcome named once."""
        found: list[m.Level] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(data["levels"]):
            path = ("levels", i)
            outcome = item["outcome"]
            if outcome in seen or outcome == data["otherwise"] or outcome == m.UNDETERMINED:
                self.collector.add(document.at(path + ("outcome",)), "BD216",
                                   f"outcome '{outcome}' is named twice or is reserved; each level needs its own "
                                   "outcome, different from 'otherwise' and from 'undetermined'")
            seen[outcome] = i
            condition = self.node(document, item["condition"], path + ("condition",), facts)
            found.append(m.Level(outcome, item["description"].strip(),
                                 self.citation(document, item, path, what=f"level '{outcome}'"),
                                 condition, document.at(path)))
        if data["otherwise"] == m.UNDETERMINED:
            self.collector.add(document.at(("otherwise",)), "BD216",
                               "'undetermined' is reserved for missing facts; name the lowest level instead")
        return tuple(found)

    def check_date(self, document: Document, path: tuple) -> None:
        try:
            date.fromisoformat(document.data[path[-1]])
        except ValueError:
            self.collector.add(document.at(path), "BD305", f"'{document.data[path[-1]]}' is not a real date")

    def citation(self, document: Document, data: dict, path: tuple, what: str) -> m.Citation | None:
        cite = data.get("cite")
        if cite is None:
            self.collector.add(document.at(path + ("id",)), "BD251", f"{what} has no citation ('cite')")
            return None
        if self.sources and cite["source"] not in self.sources:
            self.collector.add(document.at(path + ("cite", "source")), "BD209",
                               f"unknown source '{cite['source']}'",
                               suggestion=did_you_mean(cite["source"], self.sources))
        return m.Citation(cite["source"], cite["section"], cite.get("quote"))

    def node(self, document: Document, data: dict, path: tuple, facts: dict) -> m.Condition | None:
        where = document.at(path)
        node_id = data["id"]
        if node_id in self.node_ids:
            first = self.node_ids[node_id]
            self.collector.add(document.at(path + ("id",)), "BD203",
                               f"node id '{node_id}' is already used at {first}")
        else:
            self.node_ids[node_id] = document.at(path + ("id",))
        kinds = [k for k in NODE_KINDS if k in data]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            self.collector.add(where, "BD102",
                               f"node '{node_id}' needs exactly one of {', '.join(NODE_KINDS)} (found: {found})")
            return None
        kind = kinds[0]
        for key in sorted(k for k in ("of", "op", "value", "other_fact", "outcomes") if k in data):
            owner = {"of": "at_least", "outcomes": "conclusion"}.get(key, "fact")
            if kind != owner:
                self.collector.add(document.at(path + (key,), key=True), "BD102",
                                   f"'{key}' does not belong in a '{kind}' node")
        common = dict(id=node_id, description=data["description"].strip(),
                      cite=self.citation(document, data, path, what=f"node '{node_id}'"), location=where)
        if kind in ("all", "any"):
            children = self.children(document, data[kind], path + (kind,), facts)
            return (m.AllOf if kind == "all" else m.AnyOf)(children=children, **common)
        if kind == "not":
            child = self.node(document, data["not"], path + ("not",), facts)
            return m.Not(child=child, **common)
        if kind == "at_least":
            if "of" not in data:
                self.collector.add(where, "BD102", f"node '{node_id}': 'at_least' needs 'of: [conditions]'")
                return None
            children = self.children(document, data["of"], path + ("of",), facts)
            if not 1 <= data["at_least"] <= len(children):
                self.collector.add(document.at(path + ("at_least",)), "BD208",
                                   f"at_least {data['at_least']} of {len(children)} condition(s) "
                                   f"{'can never hold' if data['at_least'] > len(children) else 'always holds'}; "
                                   f"use a number from 1 to {len(children)}")
            return m.AtLeast(count=data["at_least"], children=children, **common)
        if kind == "conclusion":
            outcomes = tuple(data["outcomes"]) if "outcomes" in data else None
            return m.ConclusionRef(conclusion=data["conclusion"], outcomes=outcomes, **common)
        return self.comparison(document, data, path, facts, common)

    def children(self, document, items, path, facts) -> tuple:
        return tuple(self.node(document, item, path + (i,), facts) for i, item in enumerate(items))

    def comparison(self, document, data, path, facts, common) -> m.Comparison | None:
        name = data["fact"]
        spec = facts.get(name)
        if spec is None:
            self.collector.add(document.at(path + ("fact",)), "BD201", f"unknown fact '{name}'",
                               suggestion=did_you_mean(name, facts))
            return None
        if spec.type == "text":
            self.collector.add(document.at(path + ("fact",)), "BD204",
                               f"fact '{name}' is text; conditions cannot test text facts")
            return None
        op = data.get("op")
        if op is None:
            self.collector.add(document.at(path), "BD102", f"node '{data['id']}' compares '{name}' but has no 'op'")
            return None
        if spec.type not in m.OPERATORS[op]:
            usable = ", ".join(o for o, types in m.OPERATORS.items() if spec.type in types)
            self.collector.add(document.at(path + ("op",)), "BD204",
                               f"'{op}' does not apply to {spec.type} fact '{name}'; use one of: {usable}")
            return None
        has_value, has_other = "value" in data, "other_fact" in data
        if has_value == has_other:
            self.collector.add(document.at(path), "BD102",
                               f"node '{data['id']}' needs exactly one of 'value' or 'other_fact'")
            return None
        if has_other:
            return self.fact_to_fact(document, data, path, facts, spec, common)
        value = self.threshold(document, data["value"], path + ("value",), spec, op)
        if value is None:
            return None
        return m.Comparison(fact=name, op=op, value=value, **common)

    def fact_to_fact(self, document, data, path, facts, spec, common):
        other = facts.get(data["other_fact"])
        where = document.at(path + ("other_fact",))
        if other is None:
            self.collector.add(where, "BD201", f"unknown fact '{data['other_fact']}'",
                               suggestion=did_you_mean(data["other_fact"], facts))
            return None
        if other.type != spec.type or spec.type not in m.NUMERIC_TYPES:
            self.collector.add(where, "BD214",
                               f"cannot compare {spec.type} fact '{spec.name}' with {other.type} fact '{other.name}'")
            return None
        return m.Comparison(fact=spec.name, op=data["op"], other_fact=other.name, **common)

    def threshold(self, document, value, path, spec: m.FactSpec, op: str):
        """Normalise a comparison value to the fact's type, or report why it does not fit."""
        where = document.at(path)
        if op in m.SET_OPERATORS:
            if not isinstance(value, list) or not value:
                self.collector.add(where, "BD205", f"'{op}' needs a non-empty list of values")
                return None
            bad = [v for v in value if v not in spec.values]
            for v in bad:
                self.collector.add(where, "BD206", f"'{v}' is not a value of fact '{spec.name}'",
                                   suggestion=did_you_mean(str(v), spec.values))
            return None if bad else tuple(value)
        if spec.type in ("enum", "enum_list"):
            if not isinstance(value, str) or value not in spec.values:
                self.collector.add(where, "BD206", f"{value!r} is not a value of fact '{spec.name}' "
                                   f"(allowed: {', '.join(spec.values)})",
                                   suggestion=did_you_mean(str(value), spec.values))
                return None
            return value
        if spec.type == "boolean":
            if not isinstance(value, bool):
                self.collector.add(where, "BD205", f"boolean fact '{spec.name}' is compared with {value!r}; "
                                   "use true or false")
                return None
            return value
        if spec.type == "date":
            try:
                return date.fromisoformat(str(value)).isoformat()
            except ValueError:
                self.collector.add(where, "BD205", f"date fact '{spec.name}' needs a date like 2024-06-30")
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.collector.add(where, "BD205", f"{spec.type} fact '{spec.name}' is compared with {value!r}; "
                               "use a number")
            return None
        if abs(value) > largest_comparable(spec.type == "integer") or not math.isfinite(value):
            self.collector.add(where, "BD205", f"{spec.type} fact '{spec.name}' is compared with {value}; "
                               f"use a finite number within ±{largest_comparable(spec.type == 'integer'):g}")
            return None
        if spec.type == "integer" and value != int(value):
            self.collector.add(where, "BD205", f"integer fact '{spec.name}' is compared with {value}")
            return None
        if spec.range:
            low, high = spec.range
            if (low is not None and value < low) or (high is not None and value > high):
                hint = " (percentages are shares: write 0.45 for 45%)" if spec.type == "percentage" else ""
                self.collector.add(where, "BD211", f"{value} is outside the range of '{spec.name}' "
                                   f"[{_fmt(low)}, {_fmt(high)}]{hint}")
                return None
        return float(value) if spec.type in ("number", "percentage") else int(value)

    # -- links between conclusions ----------------------------------------------------------
    def check_cross_pack(self, packs: dict[str, m.Pack]) -> None:
        """Resolve conclusion references within an entity kind, reject cycles, order dependencies first."""
        by_kind: dict[str, dict[str, m.Conclusion]] = {}
        for pack in packs.values():
            by_kind.setdefault(pack.entity, {}).update(pack.conclusions)
        for kind, conclusions in by_kind.items():
            for conclusion in conclusions.values():
                for node in conclusion.nodes():
                    if isinstance(node, m.ConclusionRef):
                        self.check_reference(node, conclusions)
            order = self.topological(conclusions)
            for pack in packs.values():
                if pack.entity == kind:
                    ordered = {cid: pack.conclusions[cid] for cid in order if cid in pack.conclusions}
                    object.__setattr__(pack, "conclusions", m.frozen_map(ordered))

    def check_reference(self, node: m.ConclusionRef, conclusions: dict[str, m.Conclusion]) -> None:
        target = conclusions.get(node.conclusion)
        if target is None and node.conclusion in self.failed:
            return
        if target is None:
            self.collector.add(node.location, "BD202", f"unknown conclusion '{node.conclusion}'",
                               suggestion=did_you_mean(node.conclusion, conclusions))
        elif target.is_badge:
            self.collector.add(node.location, "BD210",
                               f"'{node.conclusion}' is a badge; move the shared logic into a derived conclusion")
        elif target.levels and node.outcomes is None:
            self.collector.add(node.location, "BD217",
                               f"'{node.conclusion}' is graded; name the outcomes that make node '{node.id}' hold, "
                               f"e.g. outcomes: [{target.levels[0].outcome}]")
        elif not target.levels and node.outcomes is not None:
            self.collector.add(node.location, "BD217",
                               f"'{node.conclusion}' is a {target.kind} conclusion, not graded; "
                               "remove 'outcomes' (the node holds when it does)")
        elif node.outcomes is not None:
            allowed = target.outcomes[:-1]  # undetermined is not an outcome a rule may ask for
            for outcome in node.outcomes:
                if outcome not in allowed:
                    self.collector.add(node.location, "BD206",
                                       f"'{outcome}' is not an outcome of '{target.id}' (allowed: {', '.join(allowed)})",
                                       suggestion=did_you_mean(outcome, allowed))

    def topological(self, conclusions: dict[str, m.Conclusion]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(cid: str, trail: list[str]) -> None:
            if state.get(cid) == 2 or cid not in conclusions:
                return
            if state.get(cid) == 1:
                cycle = trail[trail.index(cid):] + [cid]
                self.collector.add(conclusions[cid].trees()[0].location, "BD207",
                                   "derived conclusions form a cycle: " + " → ".join(cycle))
                return
            state[cid] = 1
            for ref in conclusions[cid].references():
                visit(ref, trail + [cid])
            state[cid] = 2
            order.append(cid)

        for cid in sorted(conclusions):
            visit(cid, [])
        return order


def _fmt(bound) -> str:
    return "∞" if bound is None else f"{bound:g}"
