"""The fast paths build the same objects and reach the same decisions as the plain ones."""
from __future__ import annotations

import dataclasses

import pytest

from engine import durable_backend
from engine.inference import Engine
from explain import trail as t
from tests.conftest import make_entity


@pytest.mark.parametrize("cls, build, values", [
    (t.TrailNode, t._node, dict(id="n", kind="compare", description="d", cite=None, value=t.Truth.TRUE,
                                deciding=True, op="is", threshold=1)),
    (t.FactRead, t._read, dict(name="f", type="boolean", known=True, value=True, unit=None)),
    (t.RuleRef, t._rule, dict(id="r", version="1.0.0", file="r.yaml", line=3, effective="2026-01-01",
                              owner="o", sha256="0" * 64)),
])
def test_the_fast_constructors_build_what_the_dataclass_builds(cls, build, values):
    fast, plain = build(**values), cls(**values)
    assert type(fast) is cls and fast == plain and hash(fast) == hash(plain)
    assert dataclasses.asdict(fast) == dataclasses.asdict(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.id = "changed"


def test_each_stage_fact_carries_only_what_its_rules_read(bundled_kb, monkeypatch):
    from engine.compiler import STAGE

    sent = []
    original = durable_backend.fact_json
    monkeypatch.setattr(durable_backend, "fact_json", lambda fact: sent.append(fact) or original(fact))
    facts = {"share_women": 0.7, "collects_client_feedback": True, "feedback_changed_product_or_practice": True,
             "vulnerable_groups_served": ("women", "youth"), "business_training_offered": False}
    with Engine(bundled_kb) as engine:
        engine.evaluate(make_entity(facts))  # raises if durable_rules and the trail disagree
        program, _ = engine.program("partner")
    assert [f["s"] for f in sent] == list(range(len(program.strata)))
    for fact in sent:
        extra = set(fact) - program.stage_reads[fact["s"]] - {"t", "s", "sid"}
        assert not extra, (fact["s"], extra)
        assert fact["t"] == STAGE
    assert len(sent[0]) > len(sent[-1])  # later stages read fewer fields
