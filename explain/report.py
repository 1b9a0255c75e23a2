"""The report model behind ``badges report``: everything the HTML and Markdown templates show.

The model is plain, immutable data built once from the evaluation results; the templates
(``explain/templates``) only lay it out. Every string that came from a facts file stays a
plain string here: the HTML template escapes it (Jinja2 autoescape) and the Markdown
template escapes it (``escape_md`` on every value by default).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import model as m

from .counterfactual import Counterfactuals, WhatItTakes
from .portfolio import matrix_groups
from .render_tree import ordered
from .trail import ConclusionTrail, TrailNode
from .words import OUTCOME_WORDS, evidence_text, outcome_label, summary, trail_tone, value_text

__all__ = ["Report", "build_report"]


@dataclass(frozen=True)
class Cell:
    """One matrix cell: an entity's outcome for one conclusion (None: the conclusion does not apply)."""

    label: str
    tone: str  # good | bad | partial | unknown | flag | clear | none
    anchor: str | None


@dataclass(frozen=True)
class Matrix:
    """One pack's portfolio: entities × its reported conclusions."""

    title: str
    entity_kind: str
    columns: tuple[m.Conclusion, ...]
    rows: tuple[tuple[m.Entity, str, tuple[Cell, ...]], ...]  # entity, its anchor, its cells


@dataclass(frozen=True)
class FactLine:
    """A known fact of an entity, with the evidence behind it."""

    name: str
    value: str
    unit: str | None
    evidence: str
    where: str  # file:line:col in the facts file


@dataclass(frozen=True)
class DecisionReport:
    anchor: str
    trail: ConclusionTrail
    label: str  # ``✔ granted``
    tone: str
    summary: str
    to_qualify: WhatItTakes | None


@dataclass(frozen=True)
class EntityReport:
    anchor: str
    entity: m.Entity
    facts: tuple[FactLine, ...]
    unknown: tuple[str, ...]  # facts of its packs nobody supplied
    decisions: tuple[DecisionReport, ...]


@dataclass(frozen=True)
class Report:
    kb: m.KnowledgeBase
    generated_at: str
    matrices: tuple[Matrix, ...]
    entities: tuple[EntityReport, ...]
    cited: tuple[m.Source, ...]  # the sources the shown decisions cite, by id

    def source(self, cite: m.Citation) -> m.Source | None:
        return self.kb.sources.get(cite.source)


def build_report(engine, results, generated_at: str) -> Report:
    """The report for ``results`` (from ``engine``), with the "to qualify" section of each decision."""
    kb = engine.kb
    anchors = {r.entity.source: f"e{i + 1}" for i, r in enumerate(results)}
    counterfactuals = Counterfactuals(engine)
    entities = tuple(_entity_report(kb, r, anchors[r.entity.source], counterfactuals) for r in results)
    matrices = tuple(_matrix(title, pack, columns, rows, anchors) for title, pack, columns, rows in matrix_groups(kb, results))
    cited = sorted({c.source for e in entities for d in e.decisions for c in _citations(d.trail)})
    return Report(kb, generated_at, matrices, entities,
                  tuple(kb.sources[s] for s in cited if s in kb.sources))


def _matrix(title: str, pack: m.Pack, columns, rows, anchors) -> Matrix:
    lines = []
    for result in rows:
        anchor = anchors[result.entity.source]
        by_id = {d.conclusion.id: d for d in result.decisions}
        cells = tuple(
            Cell(outcome_label(by_id[c.id].trail), trail_tone(by_id[c.id].trail), f"{anchor}-{c.id}")
            if c.id in by_id else Cell("—", "none", None) for c in columns)
        lines.append((result.entity, anchor, cells))
    return Matrix(title, pack.entity, tuple(columns), tuple(lines))


def _entity_report(kb: m.KnowledgeBase, result, anchor: str, counterfactuals: Counterfactuals) -> EntityReport:
    entity = result.entity
    specs = {name: spec for pack in kb.packs_for(entity.kind) for name, spec in pack.facts.items()}
    facts = tuple(
        FactLine(name, value_text(specs[name].type, fact.value), specs[name].unit, evidence_text(fact.evidence),
                 str(fact.location))
        for name, fact in sorted(entity.facts.items()))
    unknown = tuple(sorted(name for name, spec in specs.items() if name not in entity.facts and spec.type != "text"))
    answers = counterfactuals.for_result(result)
    rank = {c.id: i for i, c in enumerate(c for pack in kb.packs.values() for c in pack.display_order())}
    decisions = tuple(
        DecisionReport(f"{anchor}-{d.conclusion.id}", d.trail, outcome_label(d.trail), trail_tone(d.trail),
                       summary(d.trail), answers.get(d.conclusion.id))
        for d in sorted(result.decisions, key=lambda d: rank[d.conclusion.id]))
    return EntityReport(anchor, entity, facts, unknown, decisions)


def _citations(trail: ConclusionTrail):
    """Every citation in a trail, through derived conclusions."""
    if trail.cite is not None:
        yield trail.cite

    def visit(node: TrailNode):
        if node.cite is not None:
            yield node.cite
        if node.conclusion is not None:
            yield from _citations(node.conclusion)
        for child in node.children:
            yield from visit(child)

    yield from visit(trail.root)


def node_facts(node: TrailNode) -> list[dict[str, Any]]:
    """The facts a comparison read, each with its value and evidence (for the templates)."""
    return [{"name": read.name, "value": value_text(read.type, read.value) if read.known else "unknown",
             "known": read.known, "evidence": evidence_text(read.evidence) if read.known else ""}
            for read in (node.fact, node.other) if read is not None]


def flatten(node: TrailNode, depth: int = 0) -> list[tuple[int, TrailNode]]:
    """The trail under ``node`` as (depth, node) lines, derived conclusions' trees included."""
    lines = [(depth, node)]
    below = [node.conclusion.root] if node.conclusion is not None else children_in_order(node)
    for child in below:
        lines += flatten(child, depth + 1)
    return lines


def children_in_order(node: TrailNode) -> list[TrailNode]:
    """Deciding children first (the reader's first question), then the rest, each in rule order."""
    return ordered(node.children)


def outcome_words(outcome: str) -> str:
    return OUTCOME_WORDS[outcome]
