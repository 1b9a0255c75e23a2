"""Run conclusions for entities on durable_rules and pair each decision with its trail."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Iterable, Mapping

from explain.trail import ConclusionTrail, LazyTrails, TrailBuilder, Truth

from . import model as m
from .compiler import Program, compile_program
from .diagnostics import Diagnostic, InvalidInput, Location
from .durable_backend import Ruleset
from .rule_limits import LimitError


class EngineDisagreement(RuntimeError):
    """durable_rules and the explanation trail reached different values: a defect."""


@dataclass(frozen=True)
class Decision:
    """One reported conclusion for one entity; its trail is built when first asked for."""

    entity: m.Entity
    conclusion: m.Conclusion
    value: Truth
    outcome: str
    trails: Mapping[str, ConclusionTrail] = field(repr=False, compare=False)

    @property
    def trail(self) -> ConclusionTrail:
        return self.trails[self.conclusion.id]


_decision = m.fast_constructor(Decision)


@dataclass(frozen=True)
class EntityResult:
    entity: m.Entity
    reported: tuple[m.Conclusion, ...]  # the conclusions it reports, in knowledge-base order
    outcomes: Mapping[str, str]  # every conclusion's outcome as durable_rules decided it, derived ones too
    trails: LazyTrails  # conclusion id -> trail, built on first use

    @cached_property
    def decisions(self) -> tuple[Decision, ...]:
        """One decision per reported conclusion, made when first asked for: a CSV row or a
        table cell needs only ``reported`` and ``outcomes``."""
        entity, outcomes, trails = self.entity, self.outcomes, self.trails
        return tuple([_decision(entity=entity, conclusion=c, value=trails.outcome(c.id)[0], outcome=outcomes[c.id],
                                trails=trails) for c in self.reported])

    def only_pack(self, pack: str) -> "EntityResult":
        """The same result reporting only the conclusions of ``pack``."""
        return replace(self, reported=tuple(c for c in self.reported if c.pack == pack))

    @property
    def values(self) -> Mapping[str, Truth]:
        """Each conclusion's value: true/false for two-valued kinds; a graded one is true once determined."""
        return {cid: self.trails.outcome(cid)[0] for cid in self.trails}


class Engine:
    """Evaluates entities against a knowledge base. Close it (or use ``with``) when done."""

    def __init__(self, kb: m.KnowledgeBase):
        self.kb = kb
        self._programs: dict[str, tuple[Program, Ruleset]] = {}

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
            try:
                program = compile_program(self.kb, entity_kind)
            except LimitError as error:
                where = Location(str(Path(self.kb.root) / "kb.yaml"), 1, 1) if self.kb.root else Location("<kb>")
                raise InvalidInput([Diagnostic(where, "BD218", str(error))]) from None
            self._programs[entity_kind] = (program, Ruleset(program.definition, entity_kind))
        return self._programs[entity_kind]

    def decide(self, entity: m.Entity) -> dict[str, str]:
        """The outcome durable_rules reaches for every conclusion of the entity's packs."""
        program, ruleset = self.program(entity.kind)
        stage_facts, actions = program.stage_facts, program.rule_actions
        forwarded, condition_parts = stage_facts.forwarded, stage_facts.parts
        parts = stage_facts.encode(entity.values)
        outcomes = dict(stage_facts.undetermined)  # what no rule decides stays undetermined
        with ruleset.entity() as session:
            for stage, read_later in enumerate(stage_facts.read_later):
                decided: dict[str, str] = {}
                for name in session.assert_json(stage_facts.text(stage, parts)):
                    conclusion, outcome, sets_field = actions[name]
                    if sets_field is not None:  # a part of a large condition holds
                        fragment, stages = condition_parts[sets_field]
                        for k in stages:
                            parts[k].append(fragment)
                    # one action per rule, whatever number of its branches hold (compiler.RESULTS_PER_ACTION)
                    elif decided.setdefault(conclusion, outcome) != outcome:
                        raise EngineDisagreement(f"durable_rules reached two outcomes for '{conclusion}' of "
                                                 f"'{entity.id}': {decided[conclusion]} and {outcome}")
                outcomes.update(decided)
                for cid in read_later:  # a decided conclusion becomes a fact for the later stages
                    fact = forwarded.get((cid, outcomes[cid]))
                    if fact is not None:
                        for k in fact[1]:
                            parts[k].append(fact[0])
        return outcomes

    def evaluate(self, entity: m.Entity) -> EntityResult:
        """Decide every conclusion on durable_rules, evaluate every node of the explanation, and
        check they agree; trails are built from those node values when an output asks."""
        program, _ = self.program(entity.kind)
        outcomes = self.decide(entity)
        evaluation = program.node_evaluator(entity.values)
        explained = evaluation.outcomes
        if explained != outcomes:
            wrong = [f"{cid}: durable_rules says {outcomes[cid]}, the trail says {explained[cid]}"
                     for cid in program.by_id if outcomes[cid] != explained[cid]]
            raise EngineDisagreement(f"decision and explanation disagree for '{entity.id}': " + "; ".join(wrong))
        trails = LazyTrails(TrailBuilder(entity, program.by_id, program.facts, evaluation), tuple(program.by_id))
        return EntityResult(entity, program.reported, m.frozen_map(outcomes), trails)

    def evaluate_all(self, entities: Iterable[m.Entity]) -> list[EntityResult]:
        return [self.evaluate(entity) for entity in entities]
