"""`badges import kiva`: Kiva API partner records -> facts files, and agreement with recorded badges."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from engine.diagnostics import Collector
from engine.kiva_import import read_partners

FIXTURES = Path(__file__).parent / "fixtures" / "kiva"


def test_the_messy_fixture_imports_and_every_file_evaluates(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("import", "kiva", FIXTURES / "partners.json", "--out", out)
    assert result.status == 0, result.err
    assert result.out.startswith(f"wrote 10 facts file(s) to {out} (7 with the badges Kiva recorded)")
    # the one field Kiva's record does not have is a warning, named by record and field
    assert result.err == (f"{FIXTURES / 'partners.json'}:81:24: BD704 record 4 (id 245), field 'partner_notes': "
                          "not part of Kiva's partner record; ignored\n")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"kiva-{i}.yaml" for i in (58, 112, 131, 204, 245, 301, 318, 402, 417, 509))
    evaluated = cli("evaluate", out, "--format", "json")
    assert evaluated.status == 0, evaluated.err
    assert len(json.loads(evaluated.out)["results"]) == 10


def _facts(out: Path, kiva_id: int) -> dict:
    return yaml.safe_load((out / f"kiva-{kiva_id}.yaml").read_text())["facts"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from engine.cli import main

    out = tmp_path_factory.mktemp("kiva") / "out"
    assert main(["import", "kiva", str(FIXTURES / "partners.json"), "--out", str(out), "--as-of", "2014-06-30"]) == 0
    return out


@pytest.mark.parametrize("kiva_id, fact, expected", [
    (58, "kiva_recorded_badges", ["anti_poverty_focus", "client_voice", "facilitation_of_savings"]),
    (112, "kiva_recorded_badges", ["vulnerable_group_focus", "family_and_community_empowerment"]),  # a string id, a name only
    (245, "kiva_recorded_badges", ["vulnerable_group_focus", "family_and_community_empowerment",
                                   "entrepreneurial_support"]),  # listed twice by the API, kept once
    (131, "kiva_recorded_badges", []),  # an empty list: Kiva recorded no badge
    (301, "kiva_recorded_badges", None),  # null: unknown, not "none"
    (204, "kiva_recorded_badges", None),  # missing: unknown
    (58, "kiva_risk_rating", 4.0),
    (131, "kiva_risk_rating", 2.5),
    (112, "kiva_risk_rating", None),  # "Not Rated"
    (204, "kiva_risk_rating", None),  # "0.0" means no rating, not zero stars
    (112, "kiva_partner_status", "active"),  # "Active"
    (204, "kiva_partner_since", "2008-11-03"),
    (58, "kiva_partner_since", "2007-01-22"),
    (131, "kiva_countries", "Mali (ML); Burkina Faso (BF)"),
    (58, "average_loan_size_percent_gni_per_capita", 38.4),
    (112, "average_loan_size_percent_gni_per_capita", 21.9),  # "21.9%"
    (131, "average_loan_size_percent_gni_per_capita", None),  # ""
    (318, "average_loan_size_percent_gni_per_capita", 9.8),  # "9.80"
])
def test_fields_that_map_are_kept_and_the_rest_stay_unknown(imported, kiva_id, fact, expected):
    facts = _facts(imported, kiva_id)
    if expected is None:
        assert fact not in facts
    else:
        assert facts[fact]["value"] == expected
        assert facts[fact]["source"] == "kiva_api" and facts[fact]["as_of"] == "2014-06-30"


def test_no_badge_criterion_is_invented_from_portfolio_figures(imported):
    """Delinquency, default, yield or profitability answer no fact: nothing else is written."""
    allowed = {"kiva_recorded_badges", "kiva_partner_status", "kiva_risk_rating", "kiva_partner_since",
               "kiva_countries", "average_loan_size_percent_gni_per_capita"}
    for path in imported.iterdir():
        assert set(yaml.safe_load(path.read_text())["facts"]) <= allowed, path.name


def test_a_record_without_a_name_gets_one_from_its_id(imported):
    assert yaml.safe_load((imported / "kiva-417.yaml").read_text())["name"] == "Kiva partner 417"


def test_malformed_records_are_all_reported_and_nothing_is_written(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("import", "kiva", FIXTURES / "bad.json", "--out", out)
    assert result.status == 1 and result.out == ""
    lines = [line.split(": ", 1)[1] for line in result.err.splitlines()]
    assert lines == [
        "BD702 record 1, field 'id': missing or not a whole number; a partner cannot be imported without its Kiva id",
        "BD703 record 2 (id 8), field 'rating': expected a number, found 'three stars'",
        "BD703 record 3 (id 9), field 'social_performance_strengths' item 0: not one of Kiva's seven badges "
        "(ids 1 to 7: anti-poverty-focus, vulnerable-group-focus, client-voice, family-and-community-empowerment, "
        "entrepreneurial-support, facilitation-of-savings, innovation)",
        "BD703 record 4 (id 10), field 'start_date': expected an ISO 8601 date such as 2006-03-14T07:00:00Z, "
        "found 'March 2009'",
        "BD703 record 4 (id 10), field 'status': 'dormant' is not a partner status (active, paused, closed)",
        "BD702 record 5 (id 7), field 'id': id 7 is also used by record 0",
        "BD703 record 6 (id 11), field 'countries': expected a non-empty list of {iso_code, region, name}",
        "BD703 record 6 (id 11), field 'average_loan_size_percent_per_capita_income': expected a number, found 'n/a'",
        "BD701 record 7 is not an object",
    ]
    assert not out.exists()


@pytest.mark.parametrize("text, code", [
    ('{"partners": "none"}', "BD701"),
    ("[1, 2", "BD002"),
    ('[{"id": true}]', "BD702"),
    ('[{"id": 5, "rating": 7}]', "BD703"),
    ('[{"id": 5, "average_loan_size_percent_per_capita_income": -2}]', "BD703"),
    ('[{"id": 5, "countries": [{"iso_code": "KE"}]}]', "BD703"),
    ('[{"id": 5, "social_performance_strengths": [{"name": "Green Lending"}]}]', "BD703"),
])
def test_each_kind_of_malformed_input_has_its_code(tmp_path, text, code):
    path = tmp_path / "p.json"
    path.write_text(text)
    collector = Collector()
    read_partners(path, collector)
    assert [d.code for d in collector.errors] == [code]


def test_a_bad_as_of_date_is_a_usage_error(cli, tmp_path):
    result = cli("import", "kiva", FIXTURES / "partners.json", "--out", tmp_path / "o", "--as-of", "June 2014")
    assert result.status == 2 and "--as-of 'June 2014' is not a date" in result.err


def test_files_are_replaced_atomically_and_no_temporary_file_is_left(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kiva-58.yaml").write_text("stale")
    assert cli("import", "kiva", FIXTURES / "partners.json", "--out", out).status == 0
    assert "stale" not in (out / "kiva-58.yaml").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_evaluate_says_per_badge_whether_the_engine_agrees_with_kiva(cli, tmp_path):
    """The annual-review question, in JSON, CSV and the table."""
    facts = {"kiva_recorded_badges": ["client_voice", "innovation"],
             # Client Voice needs feedback that changed a product; the partner's feedback changed nothing
             "collects_client_feedback": True, "feedback_changed_product_or_practice": False}
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"kind": "partner", "id": "k", "name": "K", "facts": facts}))
    data = json.loads(cli("evaluate", path, "--format", "json").out)
    said = {d["badge"]: (d["outcome"], d.get("agreement")) for d in data["results"][0]["decisions"]}
    assert said["client-voice"] == ("not_granted", "differs")
    assert said["innovation"] == ("undetermined", "engine_undetermined")
    assert all(a is not None for o, a in said.values() if o != "undetermined" and o in ("granted", "not_granted"))
    keys = list(next(d for d in data["results"][0]["decisions"] if d["badge"] == "client-voice"))
    assert keys[keys.index("outcome") + 1] == "agreement"
    rows = cli("evaluate", path, "--format", "csv").out.splitlines()
    assert rows[0].endswith(",agreement")
    assert any(r.startswith("k,K,") and ",client-voice," in r and r.endswith(",differs") for r in rows)
    table = cli("evaluate", path).out
    assert "Agreement with the badges Kiva recorded:" in table
    assert "differs on client-voice (engine: not granted, Kiva: recorded)" in table


def test_without_the_recorded_fact_there_is_no_agreement(cli):
    data = json.loads(cli("evaluate", "examples/partners/crecer.yaml", "--format", "json").out)
    assert all("agreement" not in d for r in data["results"] for d in r["decisions"])
