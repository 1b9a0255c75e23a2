"""Compare the engine's badge decisions with the badges Kiva recorded for a partner.

The Kiva API lists the badges Kiva awarded (``social_performance_strengths``); the
importer keeps them as the fact ``kiva_recorded_badges`` (an enum_list whose values are
the badge ids with ``_`` for ``-``). For each badge that list can name, the agreement is:

* ``agrees``: granted and recorded, or not granted and not recorded;
* ``differs``: granted but not recorded, or not granted but recorded;
* ``engine_undetermined``: the engine could not decide (facts are missing), so there is
  nothing to compare.

When the fact is unknown there is no agreement at all (``None``): an unknown record is
not an empty one.
"""
from __future__ import annotations

from . import model as m

RECORDED_FACT = "kiva_recorded_badges"
AGREES, DIFFERS, ENGINE_UNDETERMINED = "agrees", "differs", "engine_undetermined"
WORDS = {AGREES: "agrees", DIFFERS: "differs", ENGINE_UNDETERMINED: "engine undetermined"}

# Kiva's seven Social Performance Badges, in the API's order (strength ids 1 to 7).
KIVA_BADGES = (
    "anti-poverty-focus", "vulnerable-group-focus", "client-voice", "family-and-community-empowerment",
    "entrepreneurial-support", "facilitation-of-savings", "innovation",
)


def value_for(conclusion_id: str) -> str:
    """The fact value that names a badge (enum values cannot hold '-')."""
    return conclusion_id.replace("-", "_")


KIVA_BADGE_VALUES = tuple(value_for(b) for b in KIVA_BADGES)


def declared(kb: m.KnowledgeBase) -> bool:
    """Whether any pack of the knowledge base declares the recorded-badges fact."""
    return any(RECORDED_FACT in pack.facts for pack in kb.packs.values())


def agreement(entity: m.Entity, conclusion: m.Conclusion, outcome: str) -> str | None:
    """How the engine's ``outcome`` for ``conclusion`` compares with what Kiva recorded."""
    recorded_badges = entity.values.get(RECORDED_FACT)
    if recorded_badges is None or conclusion.kind != m.BADGE:
        return None
    if value_for(conclusion.id) not in KIVA_BADGE_VALUES:
        return None  # Kiva's record cannot name this badge (a new one): nothing to compare
    if outcome == m.UNDETERMINED:
        return ENGINE_UNDETERMINED
    recorded = value_for(conclusion.id) in recorded_badges
    granted = outcome == m.KINDS[m.BADGE].when_true
    return AGREES if recorded == granted else DIFFERS
