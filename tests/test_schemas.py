"""Editor JSON Schemas: generated from engine/schemas.py, published under schemas/, and kept in sync."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.schemas import ALL

REPO = Path(__file__).resolve().parent.parent
PUBLISHED = REPO / "schemas"


@pytest.mark.parametrize("name", sorted(ALL))
def test_published_copy_is_exactly_what_badges_schema_prints(cli, name):
    result = cli("schema", name)
    assert result.status == 0
    assert (PUBLISHED / f"{name}.schema.json").read_text(encoding="utf-8") == result.out, \
        "schemas/ is stale: run `badges schema --out schemas`"
    Draft202012Validator.check_schema(json.loads(result.out))


def test_no_stray_published_schemas():
    assert sorted(p.name for p in PUBLISHED.glob("*.json")) == sorted(f"{n}.schema.json" for n in ALL)


@pytest.mark.parametrize("pattern, name", [
    ("knowledge_base/*/badges/*.yaml", "conclusion"),
    ("knowledge_base/*/derived/*.yaml", "conclusion"),
    ("knowledge_base/*/facts.yaml", "facts-schema"),
    ("knowledge_base/*/tests/*.yaml", "tests"),
    ("knowledge_base/*/pack.yaml", "pack"),
    ("examples/partners/*.yaml", "facts"),
])
def test_the_published_schemas_accept_the_bundled_files(pattern, name):
    """What an editor checks against must accept every file the engine accepts."""
    validator = Draft202012Validator(json.loads((PUBLISHED / f"{name}.schema.json").read_text()))
    files = sorted(REPO.glob(pattern))
    assert files
    for path in files:
        errors = [e.message for e in validator.iter_errors(read(path))]
        assert errors == [], path


def test_an_editor_would_flag_a_misspelt_key():
    validator = Draft202012Validator(json.loads((PUBLISHED / "conclusion.schema.json").read_text()))
    data = read(REPO / "knowledge_base/kiva-badges/badges/client-voice.yaml")
    data["condition"]["descripton"] = data["condition"].pop("description")
    assert sorted(e.validator for e in validator.iter_errors(data)) == ["additionalProperties", "required"]


def test_write_all_into_a_folder_and_refuse_unknown_names(cli, tmp_path):
    result = cli("schema", "--out", tmp_path / "out")
    assert result.status == 0 and len(result.out.splitlines()) == len(ALL)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {f"{n}.schema.json" for n in ALL}
    bad = cli("schema", "conclusoin")
    assert bad.status == 2 and "did you mean 'conclusion'" in bad.err
    assert cli("schema").status == 2


def read(path: Path):
    """A file as the engine reads it (YAML 1.2 scalars, as editors' YAML language servers do)."""
    from engine.diagnostics import Collector
    from engine.source import parse_text

    return parse_text(path.read_text(encoding="utf-8"), str(path), Collector()).data
