"""Plain-language pieces shared by every renderer: values, conditions, summaries."""
from __future__ import annotations

from typing import Any

from engine.model import OPERATOR_WORDS, Evidence

from .trail import ConclusionTrail, FactRead, TrailNode, Truth, deciding_nodes

MARKS = {Truth.TRUE: "✔", Truth.FALSE: "✘", Truth.UNKNOWN: "?"}


class _OutcomeWords(dict):
    """Outcome id -> words: ``not_granted`` reads "not granted", ``strong`` reads "strong"."""

    def __missing__(self, outcome: str) -> str:
        return outcome.replace("_", " ")


OUTCOME_WORDS = _OutcomeWords()

# How an outcome reads at a glance: its tone names a mark and a style.
TONE_MARKS = {"good": "✔", "bad": "✘", "partial": "◐", "unknown": "?", "flag": "⚑", "clear": "·"}
TONE_STYLES = {"good": "green", "bad": "red", "partial": "blue", "unknown": "yellow", "flag": "magenta",
               "clear": "green"}


def outcome_tone(kind: str, scale: tuple[str, ...], outcome: str) -> str:
    """good / bad / partial / unknown, or flag / clear for findings (diagnostics, recommendations).

    ``scale`` lists the outcomes best first, ``undetermined`` last (``Conclusion.outcomes``).
    """
    if outcome == "undetermined":
        return "unknown"
    if kind in ("diagnostic", "recommendation"):
        return "flag" if outcome == scale[0] else "clear"
    if outcome == scale[0]:
        return "good"
    return "bad" if outcome == scale[-2] else "partial"


def trail_tone(trail: ConclusionTrail) -> str:
    return outcome_tone(trail.kind, trail.scale, trail.outcome)


def decision_tone(conclusion, outcome: str) -> str:
    """The tone of ``conclusion`` reaching ``outcome`` (what ``trail_tone`` says of its trail)."""
    return outcome_tone(conclusion.kind, conclusion.outcomes, outcome)


def decision_label(conclusion, outcome: str) -> str:
    """``outcome_label`` of ``conclusion`` reaching ``outcome``, without its trail."""
    return _label(decision_tone(conclusion, outcome), outcome)


def _label(tone: str, outcome: str) -> str:
    return f"{TONE_MARKS[tone]} {OUTCOME_WORDS[outcome]}"


def outcome_label(trail: ConclusionTrail) -> str:
    """``✔ granted``, ``◐ developing``: the mark and the words of a trail's outcome."""
    return _label(trail_tone(trail), trail.outcome)
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
        sub = node.conclusion
        text = f"derived: {sub.name} ({sub.conclusion}) {OUTCOME_WORDS[sub.outcome]}"
        if node.outcomes is not None:
            text += f" (needs {' or '.join(OUTCOME_WORDS[o] for o in node.outcomes)})"
        return text
    if node.kind == "levels":
        return f"first of {len(node.children)} levels that holds"
    if node.level is not None and node.kind != "compare":
        return f"level {OUTCOME_WORDS[node.level]}: {node.kind} of {len(node.children)}" if node.kind != "at_least" \
            else f"level {OUTCOME_WORDS[node.level]}: at least {node.count} of {len(node.children)}"
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
    return _leaves_of(trail.root)


def _verb(trail: ConclusionTrail) -> str:
    """'is granted' for badges; 'holds' and 'does not hold' read as verbs already."""
    return "" if trail.kind == "derived" else "is "


def level_summary(trail: ConclusionTrail) -> str:
    """A graded conclusion: which level it reached, and why not the ones above."""
    levels = trail.root.children
    above = [OUTCOME_WORDS[t.level] for t in levels if t.deciding and t.value is Truth.FALSE]
    not_yet = f" The condition for {', '.join(above)} does not hold." if above else ""
    if trail.outcome == "undetermined":
        open_levels = [t for t in levels if t.deciding and t.value is Truth.UNKNOWN]
        missing: list[str] = []
        for level in open_levels:
            for leaf in _leaves_of(level, Truth.UNKNOWN):
                for read in (leaf.fact, leaf.other):
                    if read is not None and not read.known and read.name not in missing:
                        missing.append(read.name)
        reached = next((t.level for t in levels if t.value is Truth.TRUE), None)
        floor = f" It is at least {OUTCOME_WORDS[reached]}." if reached else ""
        return (f"{trail.name} is undetermined: whether it is {' or '.join(OUTCOME_WORDS[t.level] for t in open_levels)} "
                f"depends on facts nobody has supplied ({', '.join(missing)}).{floor}{not_yet}")
    reached = next((t for t in levels if t.value is Truth.TRUE), None)
    if reached is None:
        return f"{trail.name} is {OUTCOME_WORDS[trail.outcome]}: no level's condition holds.{not_yet}"
    basis = "; ".join(read_text(leaf.fact) for leaf in _leaves_of(reached, Truth.TRUE)[:6])
    return f"{trail.name} is {OUTCOME_WORDS[trail.outcome]}: its condition holds ({basis}).{not_yet}"


def _leaves_of(node: TrailNode, value: Truth | None = None) -> list[TrailNode]:
    """Deciding comparisons under ``node``, through derived conclusions, in tree order;
    only those with ``value`` when one is given."""
    found = {n.id: n for n in deciding_nodes(node) if n.kind == "compare" and value in (None, n.value)}
    return list(found.values())


def _graded_refs(node: TrailNode) -> list[TrailNode]:
    """Deciding references to graded conclusions under ``node``, through derived conclusions."""
    return [n for n in deciding_nodes(node) if n.kind == "conclusion" and n.outcomes is not None]


def summary(trail: ConclusionTrail) -> str:
    """A short plain-language account of the decision and what would change it."""
    if trail.root.kind == "levels":
        return level_summary(trail)
    name = trail.name
    leaves = deciding_leaves(trail)
    if trail.value is Truth.TRUE:
        reads = list(dict.fromkeys(read_text(leaf.fact) for leaf in leaves))
        basis = "; ".join(reads[:6])
        more = f" and {len(reads) - 6} more" if len(reads) > 6 else ""
        return f"{name} {_verb(trail)}{OUTCOME_WORDS[trail.outcome]}: every condition it needs holds, based on {basis}{more}."
    if trail.value is Truth.FALSE:
        failing = [f"{read_text(leaf.fact)}, but it needs {requirement_text(leaf)}"
                   for leaf in leaves if leaf.value is Truth.FALSE]
        failing += [f"{ref.conclusion.name} is {OUTCOME_WORDS[ref.conclusion.outcome]}, but it needs "
                    f"{' or '.join(OUTCOME_WORDS[o] for o in ref.outcomes)}" for ref in _graded_refs(trail.root)
                    if ref.value is Truth.FALSE and not _leaves_of(ref, Truth.FALSE)]
        failing = list(dict.fromkeys(failing))
        reasons = "; ".join(failing[:4])
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
