"""The generated validators (engine/schema_validators/) are current, and never accept what jsonschema refuses."""
from __future__ import annotations

import pytest

from engine import fast_schema
from engine.schemas import ALL


def test_the_generated_validators_are_current():
    """After changing engine/schemas.py: `python -m engine.fast_schema`. (The code itself may differ
    with fastjsonschema's version; the schemas it was made from may not.)"""
    from engine import schema_validators

    on_disk = {p.name for p in fast_schema.PACKAGE.glob("*.py")}
    assert on_disk == set(fast_schema.generate()), "run `python -m engine.fast_schema`"
    assert schema_validators.DIGEST == fast_schema.digest(), "stale: run `python -m engine.fast_schema`"


FACTS = {"kind": "partner", "id": "a", "name": "A", "facts": {"x": 1}}


@pytest.mark.parametrize("schema, data", [
    ("facts", FACTS),
    ("facts", {**FACTS, "id": "a b"}),
    ("facts", {**FACTS, "id": "a\n"}),  # '$' lets a final newline through in Python; jsonschema decides
    ("facts", {**FACTS, "facts": {"x": {"value": 1, "source": "gossip"}}}),
    ("facts", {**FACTS, "facts": {"x": {"value": 1, "as_of": "2020-1-1"}}}),
    ("facts", {**FACTS, "facts": {"x": None}}),
    ("facts", {**FACTS, "facts": {"x": True}}),
    ("facts", {**FACTS, "extra": 1}),
    ("facts", {k: v for k, v in FACTS.items() if k != "name"}),
    ("kb", {"name": "k", "version": "1.0.0", "packs": ["p"]}),
    ("kb", {"name": "k", "version": "1.0", "packs": ["p"]}),
    ("pack", {"id": "p", "name": "P", "entity": "partner", "version": "1.0.0", "description": "d"}),
    ("sources", {"sources": [{"id": "s", "title": "S", "file": "s.txt"}]}),
    ("sources", {"sources": [{"id": "s", "title": "", "file": "s.txt"}]}),
])
def test_the_fast_check_never_accepts_what_jsonschema_refuses(schema, data):
    from jsonschema import Draft202012Validator

    valid = Draft202012Validator(ALL[schema]).is_valid(data)
    assert not fast_schema.conforms(schema, data) or valid


def test_every_bundled_and_example_document_takes_the_fast_path():
    """The fast check must say yes to good documents, or it saves nothing."""
    from engine.diagnostics import Collector
    from engine.source import read_document
    from tests.conftest import BUNDLED_KB, EXAMPLES

    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert fast_schema.conforms("facts", read_document(path, Collector()).data), path
    for path in sorted(BUNDLED_KB.glob("*/badges/*.yaml")):
        assert fast_schema.conforms("conclusion", read_document(path, Collector()).data), path
