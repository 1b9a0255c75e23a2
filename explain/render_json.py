"""Trails as plain JSON-ready data (the shape the CLI's JSON output carries)."""
from __future__ import annotations

from typing import Any

from engine.model import Citation, Evidence

from .trail import ConclusionTrail, FactRead, TrailNode
from .words import summary


def _clean(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_cites: dict[Citation, dict] = {}  # a knowledge base's few hundred citations, each made into data once


def cite_data(cite: Citation | None) -> dict | None:
    if cite is None:
        return None
    found = _cites.get(cite)
    if found is None:
        found = _cites[cite] = _clean({"source": cite.source, "section": cite.section, "quote": cite.quote})
    return dict(found)  # a copy: callers may change what they are given


def evidence_data(evidence: Evidence | None) -> dict | None:
    if evidence is None:
        return None
    data = _clean({"source": evidence.source, "as_of": evidence.as_of,
                   "reference": evidence.reference, "note": evidence.note})
    return data or None


def read_data(read: FactRead | None) -> dict | None:
    if read is None:
        return None
    data = {"name": read.name, "type": read.type, "known": read.known}
    if read.value is not None:
        data["value"] = _plain(read.value)
    if read.unit is not None:
        data["unit"] = read.unit
    evidence = evidence_data(read.evidence)
    if evidence is not None:
        data["evidence"] = evidence
    return data


def node_data(node: TrailNode, shared: dict | None = None) -> dict:
    """A node as data: its fields that are set, in a fixed order (a trail has some 200 nodes
    per entity: each key is added only when present, not filtered out afterwards)."""
    data = {"id": node.id, "kind": node.kind, "value": node.value.value}
    if node.deciding is not None:
        data["deciding"] = node.deciding
    if node.description is not None:
        data["description"] = node.description
    if node.cite is not None:
        data["cite"] = cite_data(node.cite)
    if node.count is not None:
        data["count"] = node.count
    if node.fact is not None:
        data["fact"] = read_data(node.fact)
    if node.op is not None:
        data["op"] = node.op
    if node.threshold is not None:
        data["threshold"] = _plain(node.threshold)
    if node.other is not None:
        data["other_fact"] = read_data(node.other)
    if node.conclusion is not None:
        data["conclusion"] = trail_data(node.conclusion, shared)
    if node.outcomes is not None:
        data["outcomes"] = list(node.outcomes)
    if node.level is not None:
        data["level"] = node.level
    if node.children:
        data["children"] = [node_data(c, shared) for c in node.children]
    return data


def trail_data(trail: ConclusionTrail, shared: dict | None = None) -> dict:
    """A conclusion's trail as data. With ``shared`` (one dict for one entity's trails), a
    derived conclusion's trail, which every conclusion reading it holds, is made into data
    once, and the same dict is used each time (read it, do not change it)."""
    if shared is not None:
        found = shared.get(id(trail))
        if found is not None:
            return found[1]
    rule = trail.rule
    data = {
        "conclusion": trail.conclusion,
        "name": trail.name,
        "kind": trail.kind,
        "value": trail.value.value,
        "outcome": trail.outcome,
        "outcomes": list(trail.scale),
        "summary": summary(trail),
        "rule": {"id": rule.id, "version": rule.version, "file": rule.file, "line": rule.line,
                 "effective": rule.effective, "owner": rule.owner, "sha256": rule.sha256},
        "cite": cite_data(trail.cite),
        "root": node_data(trail.root, shared),
    }
    if shared is not None:
        shared[id(trail)] = (trail, data)  # the trail kept alive: its id names no other object meanwhile
    return data
