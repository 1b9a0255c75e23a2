"""Run conclusions for entities on durable_rules and pair each decision with its trail."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from explain.trail import ConclusionTrail, TrailBuilder, Truth

from . import model as m
from .compiler import STAGE, Program, compile_program, conclusion_field, encode_entity, sentinel_name
from .durable_backend import Ruleset


class EngineDisagreement(RuntimeError):
    """durable_rules and the explanation trail reached different values: a defect."""


@dataclass(frozen=True)
class Decision:
    entity: m.Entity
    conclusion: m.Conclusion
    value: Truth
    trail: ConclusionTrail

    @property
    def outcome(self) -> str:
        return self.trail.outcome


@dataclass(frozen=True)
class EntityResult:
    entity: m.Entity
    decisions: tuple[Decision, ...]  # reported conclusions (badges), in knowledge-base order
    values: Mapping[str, Truth]  # every conclusion durable_rules decided, derived ones too
    trails: Mapping[str, ConclusionTrail]


class Engine:
    """Evaluates entities against a knowledge base. Close it (or use ``with``) when done."""

    def __init__(self, kb: m.KnowledgeBase):
        self.kb = kb
        self._programs: dict[str, tuple[Program, Ruleset]] = {}
        self._serial = 0

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for _, ruleset in self._programs.values():
            ruleset.close()
        self._programs.clear()

    def program(self, entity_kind: str) -> tuple[Program, Ruleset]:
        if entity_kind not in self._programs:
            program = compile_program(self.kb, entity_kind)
            self._programs[entity_kind] = (program, Ruleset(program.fresh_definition(), entity_kind))
        return self._programs[entity_kind]

    def decide(self, entity: m.Entity) -> dict[str, Truth]:
        """The value durable_rules reaches for every conclusion of the entity's packs."""
        program, ruleset = self.program(entity.kind)
        self._serial += 1
        fields = encode_entity(entity, program.facts)
        values: dict[str, Truth] = {}
        with ruleset.session(str(self._serial)) as session:
            for stratum, members in enumerate(program.strata):
                fired = session.assert_fact({"t": STAGE, "s": stratum, **fields})
                if sentinel_name(stratum) not in fired:
                    raise EngineDisagreement(f"durable_rules did not evaluate stage {stratum} for '{entity.id}'")
                decided: dict[str, bool] = {}
                for name in fired:
                    meaning = program.rule_names[name]
                    if meaning.holds is None:
                        continue
                    if decided.get(meaning.conclusion, meaning.holds) != meaning.holds:
                        raise EngineDisagreement(
                            f"durable_rules found '{meaning.conclusion}' both true and false for '{entity.id}'")
                    decided[meaning.conclusion] = meaning.holds
                for cid in members:
                    if cid in decided:
                        values[cid] = Truth.TRUE if decided[cid] else Truth.FALSE
                        # the derived value becomes a fact for the next strata
                        fields[conclusion_field(cid)] = 1 if decided[cid] else 0
                    else:
                        values[cid] = Truth.UNKNOWN
        return values

    def evaluate(self, entity: m.Entity) -> EntityResult:
        """Decide every conclusion on durable_rules, build the trails, and check they agree."""
        program, _ = self.program(entity.kind)
        values = self.decide(entity)
        conclusions = {c.id: c for c in program.conclusions}
        builder = TrailBuilder(entity, conclusions, program.facts)
        trails = {cid: builder.trail(cid) for cid in conclusions}
        wrong = [f"{cid}: durable_rules says {values[cid].value}, the trail says {trails[cid].value.value}"
                 for cid in conclusions if values[cid] is not trails[cid].value]
        if wrong:
            raise EngineDisagreement(f"decision and explanation disagree for '{entity.id}': " + "; ".join(wrong))
        decisions = tuple(Decision(entity, c, values[c.id], trails[c.id]) for c in program.conclusions if c.is_badge)
        return EntityResult(entity, decisions, m.frozen_map(values), m.frozen_map(trails))

    def evaluate_all(self, entities: Iterable[m.Entity]) -> list[EntityResult]:
        return [self.evaluate(entity) for entity in entities]
