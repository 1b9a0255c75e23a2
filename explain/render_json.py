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


def cite_data(cite: Citation | None) -> dict | None:
    return None if cite is None else _clean({"source": cite.source, "section": cite.section, "quote": cite.quote})


def evidence_data(evidence: Evidence | None) -> dict | None:
    if evidence is None:
        return None
    data = _clean({"source": evidence.source, "as_of": evidence.as_of,
                   "reference": evidence.reference, "note": evidence.note})
    return data or None


def read_data(read: FactRead | None) -> dict | None:
    if read is None:
        return None
    return _clean({"name": read.name, "type": read.type, "known": read.known, "value": _plain(read.value),
                   "unit": read.unit, "evidence": evidence_data(read.evidence)})


def node_data(node: TrailNode) -> dict:
    return _clean({
        "id": node.id,
        "kind": node.kind,
        "value": node.value.value,
        "deciding": node.deciding,
        "description": node.description,
        "cite": cite_data(node.cite),
        "count": node.count,
        "fact": read_data(node.fact),
        "op": node.op,
        "threshold": _plain(node.threshold),
        "other_fact": read_data(node.other),
        "conclusion": trail_data(node.conclusion) if node.conclusion is not None else None,
        "outcomes": _plain(node.outcomes),
        "level": node.level,
        "children": [node_data(c) for c in node.children] if node.children else None,
    })


def trail_data(trail: ConclusionTrail) -> dict:
    rule = trail.rule
    return {
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
        "root": node_data(trail.root),
    }
