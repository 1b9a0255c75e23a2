"""How one entity becomes the JSON text of each stage's fact, as durable_rules reads it.

Everything that does not depend on the entity is worked out once per compiled program:
which fields each stage reads, their short names, the constant fields (the stage number,
group tests), and a value encoder per fact read. Per entity, each known fact is written
once as a JSON fragment; each stage's fact then joins the fragments its rules read, and
the conclusions decided at one stage are added as fragments for the later ones.

Values reach durable_rules in the form it compares correctly (``compiler.encode_scalar``):
booleans and list members as 1/0, dates as day numbers, numbers written out in full
(its JSON reader rejects exponents such as ``1e-07``).
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any, Callable, Mapping

from . import model as m
from .compiler import STAGE_FIELD, conclusion_field, decided_value, fact_field, member_field
from .durable_backend import number_json

TRUE_TEXT, FALSE_TEXT = "1", "0"


def _scalar(spec: m.FactSpec) -> Callable[[Any], str]:
    """The JSON text of one value of a scalar fact."""
    if spec.type == "boolean":
        return lambda value: TRUE_TEXT if value else FALSE_TEXT
    if spec.type == "date":
        return lambda value: str(date.fromisoformat(value).toordinal())
    if spec.type in ("number", "percentage"):
        return lambda value: number_json(float(value))
    if spec.type == "integer":
        return lambda value: str(int(value))
    known = {value: json.dumps(value, ensure_ascii=False) for value in spec.values or ()}  # enum
    return lambda value: known.get(value) or json.dumps(value, ensure_ascii=False)


class StageFacts:
    """The stage facts of a compiled ``Program`` (see ``Program.stage_facts``).

    Per entity, ``encode`` writes each known fact some rule reads once, as a JSON fragment
    (``,"f":1``), into the list of every stage whose rules read it; ``forwarded`` and ``parts``
    give the fragment of a decided conclusion or of a part of a large condition that holds,
    with the (later) stages that read it; and ``text`` joins one stage's fragments into its fact.
    """

    def __init__(self, program):
        names = program.field_names
        self.stages = len(program.stage_reads)
        readers: dict[str, tuple[int, ...]] = {}  # short field -> the stages that read it
        for k, reads in enumerate(program.stage_reads):
            for field in reads:
                readers[field] = readers.get(field, ()) + (k,)

        def target(field: str) -> tuple[str, tuple[int, ...]]:
            return f',"{field}":', readers.get(field, ())

        # per fact some rule reads: for a scalar, (the fragments of the values a boolean or an
        # enum can take, encoder, fragment prefix, stages); for a list, (fragment when the
        # member is in it, fragment when not, member, stages) for each member rules test
        self._scalars: dict[str, tuple[dict | None, Callable[[Any], str], str, tuple[int, ...]]] = {}
        self._members: dict[str, tuple[tuple[str, str, str, tuple[int, ...]], ...]] = {}
        for name in sorted(program.read_facts):
            spec = program.facts[name]
            if spec.type == "enum_list":
                fields = [(names[member_field(name, v)], v) for v in program.read_members.get(name, ())
                          if member_field(name, v) in names]
                if fields:
                    self._members[name] = tuple(
                        (prefix + TRUE_TEXT, prefix + FALSE_TEXT, member, stages)
                        for field, member in fields for prefix, stages in [target(field)])
            elif spec.type != "text" and fact_field(name) in names:
                encoder = _scalar(spec)
                prefix, stages = target(names[fact_field(name)])
                known = (True, False) if spec.type == "boolean" else spec.values if spec.type == "enum" else None
                fragments = {value: prefix + encoder(value) for value in known} if known is not None else None
                self._scalars[name] = (fragments, encoder, prefix, stages)
        self._heads = tuple("{" + json.dumps(STAGE_FIELD) + f":{k}" + "".join(
            f',"{field}":{program.group_fields[field]}' for field in sorted(reads & set(program.group_fields)))
            for k, reads in enumerate(program.stage_reads))
        # (conclusion, outcome) -> (fragment, stages), for the conclusions later stages read
        self.forwarded: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = {}
        for c in program.conclusions:
            if conclusion_field(c.id) in names:
                prefix, stages = target(names[conclusion_field(c.id)])
                for outcome in c.outcomes:
                    if outcome != m.UNDETERMINED:
                        text = json.dumps(decided_value(c, outcome), ensure_ascii=False)
                        self.forwarded[(c.id, outcome)] = (prefix + text, stages)
        # short field a part of a large condition sets -> (fragment, stages)
        self.parts: dict[str, tuple[str, tuple[int, ...]]] = {
            meaning.sets_field: (prefix + TRUE_TEXT, stages)
            for meaning in program.rule_names.values() if meaning.sets_field is not None
            for prefix, stages in [target(meaning.sets_field)]}
        # per stage: the conclusions it decides that later stages read
        self.read_later: tuple[tuple[str, ...], ...] = tuple(
            tuple(cid for cid in members if conclusion_field(cid) in names) for members in program.strata)
        # every conclusion undetermined, in stage order: what an entity's outcomes start from
        self.undetermined: dict[str, str] = {cid: m.UNDETERMINED for members in program.strata for cid in members}

    def encode(self, values: Mapping[str, Any]) -> list[list[str]]:
        """Per stage, the fragments of the known facts its rules read."""
        parts: list[list[str]] = [[] for _ in range(self.stages)]
        scalars, members = self._scalars, self._members
        for name, value in values.items():
            found = scalars.get(name)
            if found is not None:
                fragments = found[0]
                fragment = fragments.get(value) if fragments is not None else None
                if fragment is None:  # a number or a date
                    fragment = found[2] + found[1](value)
                for k in found[3]:
                    parts[k].append(fragment)
                continue
            pairs = members.get(name)
            if pairs is not None:
                for yes, no, member, stages in pairs:
                    fragment = yes if member in value else no
                    for k in stages:
                        parts[k].append(fragment)
        return parts

    def text(self, stage: int, parts: list[list[str]]) -> str:
        """The JSON object of one stage's fact: its constants and its fragments."""
        return self._heads[stage] + "".join(parts[stage]) + "}"
