"""Plain-language pieces shared by every renderer: values, conditions, summaries."""
from __future__ import annotations

from typing import Any

from engine.model import OPERATOR_WORDS, Evidence

from .trail import ConclusionTrail, FactRead, TrailNode, Truth

MARKS = {Truth.TRUE: "✔", Truth.FALSE: "✘", Truth.UNKNOWN: "?"}
OUTCOME_WORDS = {
    "granted": "granted", "not_granted": "not granted", "undetermined": "undetermined",
    "holds": "holds", "does_not_hold": "does not hold",
}
EVIDENCE_WORDS = {
    "audited_report": "audited report", "site_visit": "site visit", "self_reported": "self-reported",
    "third_party_rating": "third-party rating", "published_report": "published report", "kiva_api": "Kiva API",
}


def value_text(fact_type: str, value: Any) -> str:
    """A fact or threshold value as a reader expects to see it."""
    if value is None:
        return "unknown"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if fact_type == "percentage":
        return f"{value * 100:g}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def read_text(read: FactRead) -> str:
    return f"{read.name} = {value_text(read.type, read.value) if read.known else 'unknown'}"


def evidence_text(evidence: Evidence | None) -> str:
    if evidence is None:
        return ""
    parts = [EVIDENCE_WORDS.get(evidence.source, evidence.source) if evidence.source else None,
             f"as of {evidence.as_of}" if evidence.as_of else None,
             evidence.reference, evidence.note]
    return "; ".join(p for p in parts if p)


def condition_text(node: TrailNode) -> str:
    """What a node asks, e.g. ``share_women = 62% ≥ 50%`` or ``all of 3``."""
    if node.kind == "compare":
        word = OPERATOR_WORDS[node.op]
        if node.other is not None:
            return f"{read_text(node.fact)}, {read_text(node.other)} (needs {node.fact.name} {word} {node.other.name})"
        return f"{read_text(node.fact)} (needs {word} {value_text(node.fact.type, node.threshold)})"
    if node.kind == "conclusion":
        return f"derived: {node.conclusion.name} ({node.conclusion.conclusion}) {OUTCOME_WORDS[node.conclusion.outcome]}"
    if node.kind == "at_least":
        return f"at least {node.count} of {len(node.children)}"
    if node.kind == "not":
        return "not"
    return f"{node.kind} of {len(node.children)}"


def requirement_text(node: TrailNode) -> str:
    """What a comparison needs, e.g. ``share_women ≥ 50%``."""
    word = OPERATOR_WORDS[node.op]
    target = node.other.name if node.other is not None else value_text(node.fact.type, node.threshold)
    return f"{node.fact.name} {word} {target}"


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def deciding_leaves(trail: ConclusionTrail) -> list[TrailNode]:
    """Comparisons on the deciding paths, through derived conclusions, in tree order."""
    leaves: list[TrailNode] = []

    def visit(node: TrailNode) -> None:
        if node.kind == "compare":
            if all(node.id != seen.id for seen in leaves):
                leaves.append(node)
        if node.conclusion is not None:
            visit(node.conclusion.root)
        for child in node.children:
            if child.deciding:
                visit(child)

    visit(trail.root)
    return leaves


def _verb(trail: ConclusionTrail) -> str:
    """'is granted' for badges; derived outcomes ('holds') read as verbs already."""
    return "is " if trail.kind == "badge" else ""


def summary(trail: ConclusionTrail) -> str:
    """A short plain-language account of the decision and what would change it."""
    name = trail.name
    leaves = deciding_leaves(trail)
    if trail.value is Truth.TRUE:
        basis = "; ".join(read_text(leaf.fact) for leaf in leaves[:6])
        more = f" and {len(leaves) - 6} more" if len(leaves) > 6 else ""
        return f"{name} {_verb(trail)}{OUTCOME_WORDS[trail.outcome]}: every condition it needs holds ({basis}{more})."
    if trail.value is Truth.FALSE:
        failing = [leaf for leaf in leaves if leaf.value is Truth.FALSE]
        reasons = "; ".join(f"{read_text(leaf.fact)}, but it needs {requirement_text(leaf)}" for leaf in failing[:4])
        more = f"; and {len(failing) - 4} more" if len(failing) > 4 else ""
        return f"{name} {_verb(trail)}{OUTCOME_WORDS[trail.outcome]}: {reasons}{more}."
    unknown = [leaf for leaf in leaves if leaf.value is Truth.UNKNOWN]
    missing: list[str] = []
    for leaf in unknown:
        for read in (leaf.fact, leaf.other):
            if read is not None and not read.known and read.name not in missing:
                missing.append(read.name)
    return (f"{name} is undetermined: nothing rules it out, but it depends on facts nobody has supplied "
            f"({', '.join(missing)}). Evidence for them would decide it.")
