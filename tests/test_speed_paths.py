"""The fast paths build the same objects and reach the same decisions as the plain ones."""
from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import durable_backend, tabular_input
from engine.inference import Engine
from explain import trail as t
from tests.conftest import make_entity


@pytest.mark.parametrize("cls, build, values", [
    (t.TrailNode, t._node, dict(id="n", kind="compare", description="d", cite=None, value=t.Truth.TRUE,
                                deciding=True, op="is", threshold=1)),
    (t.FactRead, t._read, dict(name="f", type="boolean", known=True, value=True, unit=None)),
    (t.RuleRef, t._rule, dict(id="r", version="1.0.0", file="r.yaml", line=3, effective="2026-01-01",
                              owner="o", sha256="0" * 64)),
    (tabular_input.Row, tabular_input._row, dict(path="t.csv", line=2, cells=("partner", "p1"))),
])
def test_the_fast_constructors_build_what_the_dataclass_builds(cls, build, values):
    fast, plain = build(**values), cls(**values)
    assert type(fast) is cls and fast == plain and hash(fast) == hash(plain)
    assert dataclasses.asdict(fast) == dataclasses.asdict(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.id = "changed"


def test_each_stage_fact_carries_only_what_its_rules_read(bundled_kb, monkeypatch):
    sent = []
    original = durable_backend.ReusedSession.assert_json
    monkeypatch.setattr(durable_backend.ReusedSession, "assert_json",
                        lambda self, text: sent.append(json.loads(text)) or original(self, text))
    facts = {"share_women": 0.7, "collects_client_feedback": True, "feedback_changed_product_or_practice": True,
             "vulnerable_groups_served": ("women", "youth"), "business_training_offered": False}
    with Engine(bundled_kb) as engine:
        engine.evaluate(make_entity(facts))  # raises if durable_rules and the trail disagree
        program, _ = engine.program("partner")
    assert [f["s"] for f in sent] == list(range(len(program.strata)))
    for fact in sent:
        extra = set(fact) - program.stage_reads[fact["s"]]
        assert not extra, (fact["s"], extra)
    assert len(sent[0]) > len(sent[-1])  # later stages read fewer fields


def test_rules_read_short_field_names_each_standing_for_one_readable_name(bundled_kb):
    from engine.compiler import RESERVED_FIELDS, compile_program, fields_read

    program = compile_program(bundled_kb, "partner")
    short = list(program.field_names.values())
    assert len(short) == len(set(short)) and set(short) & RESERVED_FIELDS == {"s"}
    assert max(map(len, short)) <= 2  # 26 + 26 * 26 names of two letters at most
    assert "f_share_women" in program.field_names
    read = set().union(*(fields_read(rule["all"][0]["m"]) for rule in program.definition.values()))
    assert read == set(short)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entity_id=st.text(min_size=1, max_size=8), name=st.text(max_size=12), source=st.text(max_size=12),
       recorded=st.none() | st.lists(st.sampled_from(["anti_poverty_focus", "client_voice", "innovation"]),
                                     unique=True).map(tuple))
def test_csv_rows_are_what_the_csv_module_writes(bundled_kb, entity_id, name, source, recorded):
    import csv
    import io

    from engine import recorded_badges
    from explain.portfolio import CsvRows

    facts = {"share_women": 0.7} if recorded is None else {"share_women": 0.7, "kiva_recorded_badges": recorded}
    with Engine(bundled_kb) as engine:
        result = engine.evaluate(make_entity(facts))
    entity = dataclasses.replace(result.entity, id=entity_id, name=name, source=source)
    result = dataclasses.replace(result, entity=entity)
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    for d in result.decisions:
        c = d.conclusion
        writer.writerow([entity_id, name, source, c.id, c.name, c.kind, d.outcome, c.id, c.version, c.file, c.line,
                         recorded_badges.agreement(entity, c, d.outcome) or ""])
    assert CsvRows(bundled_kb, with_agreement=True)(result) == expected.getvalue()


def test_csv_pieces_give_the_same_rows_with_decision_numbers_as_bytes_or_as_a_tuple(bundled_kb):
    """Up to 256 (conclusion, outcome) numbers a piece carries them as bytes, past that as a tuple."""
    from explain.portfolio import CsvRows

    with Engine(bundled_kb) as engine:
        results = [engine.evaluate(make_entity(facts, entity_id=f"p{n}")) for n, facts in
                   enumerate([{"share_women": 0.7}, {}, {"share_women": 0.2, "kiva_recorded_badges": ("innovation",)}])]
    narrow, wide = CsvRows(bundled_kb, with_agreement=True), CsvRows(bundled_kb, with_agreement=True)
    wide._numbers = tuple  # as for a knowledge base with more than 256 numbers
    narrow_pieces, wide_pieces = [list(map(rows.piece, results)) for rows in (narrow, wide)]
    assert isinstance(narrow_pieces[0][1], bytes) and isinstance(wide_pieces[0][1], tuple)
    assert list(map(narrow.text, narrow_pieces)) == list(map(wide.text, wide_pieces)) == list(map(narrow, results))
    assert "".join(map(narrow, results)).count("\n") == sum(len(r.reported) for r in results)


def test_a_result_sent_to_another_process_builds_the_same_trails(bundled_kb):
    """Results of table output travel between processes; the compiled evaluation stays behind."""
    import pickle

    from engine.facts_loader import load_entities
    from tests.conftest import EXAMPLES

    entities = load_entities([EXAMPLES], bundled_kb)
    with Engine(bundled_kb) as engine:
        for entity in entities:
            result = engine.evaluate(entity)
            next(iter(result.trails.values()))  # some node values memoised before pickling
            copy = pickle.loads(pickle.dumps(result))
            assert dict(copy.outcomes) == dict(result.outcomes)
            assert [d.value for d in copy.decisions] == [d.value for d in result.decisions]
            assert {cid: copy.trails[cid] for cid in copy.trails} == {cid: result.trails[cid] for cid in result.trails}
