"""Graded (level) conclusions and references to them, end to end through the CLI."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import REPO

GRADED_KB = REPO / "tests" / "fixtures" / "graded_kb"
ENTITIES = REPO / "tests" / "fixtures" / "graded_kb_entities"


def _entity(tmp_path, facts: str):
    path = tmp_path / "assoc.yaml"
    path.write_text(f"kind: association\nid: a\nname: A\nfacts: {facts}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("facts, area, support", [
    ('{knows: "yes", systems: "yes", funded: true}', "strong", "not_recommended"),
    ('{knows: partial, systems: "yes", funded: false}', "developing", "recommended"),
    ('{knows: "no", systems: partial, funded: false}', "weak", "recommended"),
    ('{knows: "yes", systems: "yes"}', "undetermined", "undetermined"),  # strong still possible
    ('{knows: "no", systems: "no"}', "weak", "recommended"),  # funded cannot lift it to developing
    ("{}", "undetermined", "undetermined"),
])
def test_levels_are_tried_in_order(cli, tmp_path, facts, area, support):
    run = cli("evaluate", _entity(tmp_path, facts), "--kb", GRADED_KB, "--format", "json")
    assert run.status == 0, run.err
    [result] = json.loads(run.out)["results"]
    outcomes = {d["badge"]: d["outcome"] for d in result["decisions"]}
    assert outcomes == {"area-one": area, "support-area-one": support}


def test_undetermined_level_names_the_missing_fact_and_the_floor(cli):
    run = cli("why", ENTITIES / "open.yaml", "area-one", "--kb", GRADED_KB)
    assert run.status == 0, run.err
    assert "? Area one (area-one): UNDETERMINED" in run.out
    summary = ("Area one is undetermined: whether it is strong depends on facts nobody has supplied "
               "(funded). It is at least developing.")
    assert summary in " ".join(run.out.split())
    assert "supply funded: true" in run.out  # what would make it strong


def test_reference_to_a_level_explains_the_outcome_it_needed(cli, tmp_path):
    path = _entity(tmp_path, '{knows: "yes", systems: "yes", funded: true}')
    run = cli("why", path, "support-area-one", "--kb", GRADED_KB, "--format", "json")
    trail = json.loads(run.out)["trail"]
    assert trail["outcome"] == "not_recommended"
    assert trail["outcomes"] == ["recommended", "not_recommended", "undetermined"]
    assert trail["summary"] == ("Support for area one is not recommended: Area one is strong, "
                                "but it needs weak or developing.")
    ref = trail["root"]
    assert ref["outcomes"] == ["weak", "developing"] and ref["value"] == "false"
    levels = ref["conclusion"]["root"]
    assert levels["kind"] == "levels" and levels["level"] == "strong"
    assert [(c["level"], c["value"], c["deciding"]) for c in levels["children"]] == [
        ("strong", "true", True), ("developing", "true", False)]


def test_rule_tests_for_levels_and_recommendations_pass(cli):
    run = cli("test", GRADED_KB)
    assert run.status == 0, run.out
    assert run.out.splitlines()[-1] == "6 passed, 0 failed"


def _broken_copy(tmp_path, old: str, new: str, file: str = "assoc/levels/area-one.yaml"):
    root = tmp_path / "kb"
    shutil.copytree(GRADED_KB, root)
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


@pytest.mark.parametrize("old, new, file, expected", [
    ("  - outcome: developing", "  - outcome: strong", "assoc/levels/area-one.yaml",
     "BD216 outcome 'strong' is named twice or is reserved"),
    ("otherwise: weak", "otherwise: undetermined", "assoc/levels/area-one.yaml",
     "BD216 'undetermined' is reserved for missing facts"),
    ("  outcomes: [weak, developing]\n", "", "assoc/recommendations/support-area-one.yaml",
     "BD217 'area-one' is graded; name the outcomes"),
    ("outcomes: [weak, developing]", "outcomes: [weak, middling]", "assoc/recommendations/support-area-one.yaml",
     "BD206 'middling' is not an outcome of 'area-one' (allowed: strong, developing, weak)"),
    ("otherwise: weak\n", "otherwise: weak\ncondition: {id: x, description: x, fact: funded, op: is, value: true}\n",
     "assoc/levels/area-one.yaml", "BD102 a level conclusion has 'levels' and 'otherwise', not 'condition'"),
])
def test_malformed_levels_are_reported_with_their_location(cli, tmp_path, old, new, file, expected):
    run = cli("check", _broken_copy(tmp_path, old, new, file))
    assert run.status == 1
    assert expected in run.err, run.err
    assert "Traceback" not in run.err
