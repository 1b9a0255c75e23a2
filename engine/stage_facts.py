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
    """The stage facts of a compiled ``Program`` (see ``Program.stage_facts``)."""

    def __init__(self, program):
        names = program.field_names
        # per fact some rule reads: (short field, encoder) for a scalar, or the
        # (short field, member) pairs of the list values rules test
        self._scalars: dict[str, tuple[str, Callable[[Any], str]]] = {}
        self._members: dict[str, tuple[tuple[str, str], ...]] = {}
        for name in sorted(program.read_facts):
            spec = program.facts[name]
            if spec.type == "enum_list":
                pairs = tuple((names[member_field(name, v)], v) for v in program.read_members.get(name, ())
                              if member_field(name, v) in names)
                if pairs:
                    self._members[name] = pairs
            elif spec.type != "text" and fact_field(name) in names:
                self._scalars[name] = (names[fact_field(name)], _scalar(spec))
        constant = {STAGE_FIELD, *program.group_fields}
        self._stages: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        for k, reads in enumerate(program.stage_reads):
            head = "{" + json.dumps(STAGE_FIELD) + f":{k}" + "".join(
                f',"{field}":{program.group_fields[field]}' for field in sorted(reads & set(program.group_fields)))
            variable = tuple((f',"{field}":', field) for field in sorted(reads - constant))
            self._stages.append((head, variable))
        # (conclusion, outcome) -> (short field, JSON text), for the conclusions later stages read
        self.forwarded: dict[tuple[str, str], tuple[str, str]] = {
            (c.id, outcome): (names[conclusion_field(c.id)],
                              json.dumps(decided_value(c, outcome), ensure_ascii=False))
            for c in program.conclusions if conclusion_field(c.id) in names
            for outcome in c.outcomes if outcome != m.UNDETERMINED}
        # per stage: the conclusions it decides that later stages read
        self.read_later: tuple[tuple[str, ...], ...] = tuple(
            tuple(cid for cid in members if conclusion_field(cid) in names) for members in program.strata)
        # every conclusion undetermined, in stage order: what an entity's outcomes start from
        self.undetermined: dict[str, str] = {cid: m.UNDETERMINED for members in program.strata for cid in members}

    def encode(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Short field -> JSON text for every known fact some rule reads."""
        encoded: dict[str, str] = {}
        scalars, members = self._scalars, self._members
        for name, value in values.items():
            found = scalars.get(name)
            if found is not None:
                encoded[found[0]] = found[1](value)
                continue
            pairs = members.get(name)
            if pairs is not None:
                for field, member in pairs:
                    encoded[field] = TRUE_TEXT if member in value else FALSE_TEXT
        return encoded

    def text(self, stage: int, encoded: Mapping[str, str]) -> str:
        """The JSON object of one stage's fact: its constants and the encoded fields it reads."""
        head, variable = self._stages[stage]
        return head + "".join([prefix + encoded[field] for prefix, field in variable if field in encoded]) + "}"
