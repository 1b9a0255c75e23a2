"""CSV and JSON Lines inputs: the same entities and the same diagnostics as facts files."""
from __future__ import annotations

import json

import pytest

from engine.diagnostics import Collector, InvalidInput
from engine.facts_loader import load_entities

HEADER = "kind,id,name,share_poor,clients,loan_size,uses_tool,tool,groups,founded,notes"


def _load(tmp_path, name: str, text: str, kb):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, load_entities([path], kb)


def _errors(tmp_path, name: str, text: str, kb) -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_entities([path], kb)
    return [d.format().replace(str(tmp_path) + "/", "") for d in caught.value.diagnostics]


def test_a_csv_row_reads_like_the_same_facts_file(tmp_path, mini_kb):
    row = "partner,p1,Alpha,0.62,1200,310.5,TRUE,ppi,women;youth,2001-05-31,walked in"
    path, [from_csv] = _load(tmp_path, "p.csv", f"{HEADER}\n{row}\n", mini_kb)
    facts = {"share_poor": 0.62, "clients": 1200, "loan_size": 310.5, "uses_tool": True, "tool": "ppi",
             "groups": ["women", "youth"], "founded": "2001-05-31", "notes": "walked in"}
    yaml_path = tmp_path / "p1.json"
    yaml_path.write_text(json.dumps({"kind": "partner", "id": "p1", "name": "Alpha", "facts": facts}))
    [from_file] = load_entities([yaml_path], mini_kb)
    assert {k: v.value for k, v in from_csv.facts.items()} == {k: v.value for k, v in from_file.facts.items()}
    assert from_csv.source == f"{path}:2"
    assert from_csv.facts["clients"].location.line == 2 and from_csv.facts["clients"].location.col == 5


def test_empty_cells_are_unknown_and_evidence_columns_are_read(tmp_path, mini_kb):
    text = ("kind,id,name,share_poor,share_poor.source,share_poor.as_of,share_poor.reference,groups,tool\n"
            "partner,p1,Alpha,0.4,site_visit,2024-06-30,DD report §4,[],\n"
            "partner,p2,Beta,,audited_report,,,,\n")
    _, [first, second] = _load(tmp_path, "p.csv", text, mini_kb)
    assert first.facts["share_poor"].evidence.source == "site_visit"
    assert first.facts["share_poor"].evidence.as_of == "2024-06-30"
    assert first.facts["share_poor"].evidence.reference == "DD report §4"
    assert first.facts["groups"].value == ()  # [] is the empty list, known
    assert "tool" not in first.facts  # empty cell: unknown
    assert second.facts == {}  # evidence without a value says nothing


def test_blank_rows_are_skipped_and_a_bom_is_ignored(tmp_path, mini_kb):
    _, entities = _load(tmp_path, "p.csv", "\ufeffkind,id,name\npartner,a,A\n,,\n\npartner,b,B\n", mini_kb)
    assert [e.id for e in entities] == ["a", "b"]


BAD_CSV = [
    ("unknown-fact-column", "kind,id,name,share_pore\npartner,a,A,0.1\n",
     ["p.csv:1:4: BD301 unknown fact 'share_pore' (did you mean 'share_poor'?)"]),
    ("missing-id-column", "kind,name\npartner,A\n", ["p.csv:1:1: BD310 missing column 'id'"]),
    ("repeated-column", "kind,id,name,tool,tool\npartner,a,A,ppi,mpi\n", ["p.csv:1:5: BD003 column 'tool' repeats column 4"]),
    ("unknown-evidence-field", "kind,id,name,tool,tool.sauce\npartner,a,A,ppi,x\n",
     ["p.csv:1:5: BD310 column 'tool.sauce': 'sauce' is not an evidence field; use one of: source, as_of, "
      "reference, note (did you mean 'source'?)"]),
    ("evidence-without-fact", "kind,id,name,tool.source\npartner,a,A,site_visit\n",
     ["p.csv:1:4: BD310 evidence column 'tool.source' has no fact column 'tool'"]),
    ("percent-sign", "kind,id,name,share_poor\npartner,a,A,45%\n",
     ["p.csv:2:4: BD302 'share_poor' must be a number, found '45%'; write 0.45 for 45%"]),
    ("share-above-one", "kind,id,name,share_poor\npartner,a,A,1.7\n",
     ["p.csv:2:4: BD303 'share_poor' is 1.7, outside [0, 1]; percentages are shares from 0 to 1 (write 0.45 for 45%)"]),
    ("yes-is-not-a-boolean", "kind,id,name,uses_tool\npartner,a,A,yes\n",
     ["p.csv:2:4: BD302 'uses_tool' must be true or false, found 'yes'"]),
    ("not-a-whole-number", "kind,id,name,clients\npartner,a,A,12.5\n",
     ["p.csv:2:4: BD302 'clients' must be a whole number, found 12.5"]),
    ("underscore-number", "kind,id,name,clients\npartner,a,A,1_000\n",
     ["p.csv:2:4: BD302 'clients' must be a number, found '1_000'"]),
    ("bad-enum-in-list", "kind,id,name,groups\npartner,a,A,women;yuoth\n",
     ["p.csv:2:4: BD304 'groups' cannot include 'yuoth'; allowed: women, youth, refugees, farmers "
      "(did you mean 'youth'?)"]),
    ("bad-date", "kind,id,name,founded\npartner,a,A,31/05/2001\n",
     ["p.csv:2:4: BD305 '31/05/2001' is not a real date (use YYYY-MM-DD)"]),
    ("bad-evidence-source", "kind,id,name,tool,tool.source\npartner,a,A,ppi,gossip\n",
     ["p.csv:2:5: BD101 'gossip' is not allowed here; use one of: audited_report, site_visit, self_reported, "
      "third_party_rating, published_report, kiva_api"]),
    ("short-row", "kind,id,name,tool\npartner,a,A\n", ["p.csv:2:4: BD311 row has 3 cell(s), the header has 4"]),
    ("unknown-kind", "kind,id,name\nassociation,a,A\n",
     ["p.csv:2:1: BD306 no pack evaluates entities of kind 'association'"]),
    ("empty-file", "", ["p.csv:1:1: BD005 file is empty; expected a header row"]),
    ("duplicate-ids", "kind,id,name\npartner,a,A\npartner,a,B\n",
     ["p.csv:3:1: BD307 entity id 'a' is also used by p.csv:2"]),
    ("unterminated-quote", 'kind,id,name\npartner,a,"A\n', ["p.csv:2:1: BD002 CSV syntax error: unexpected end of data"]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in BAD_CSV], ids=[c[0] for c in BAD_CSV])
def test_bad_csv_is_reported_at_row_and_column(tmp_path, mini_kb, text, expected):
    assert _errors(tmp_path, "p.csv", text, mini_kb) == expected


def test_the_row_number_is_the_line_a_multi_line_row_starts_on(tmp_path, mini_kb):
    text = 'kind,id,name,tool\npartner,a,"two\nlines",ppi\npartner,b,B,pmi\n'
    assert _errors(tmp_path, "p.csv", text, mini_kb) == [
        "p.csv:4:4: BD304 'tool' cannot be 'pmi'; allowed: ppi, mpi, none (did you mean 'ppi'?)"]


def test_json_lines_read_like_facts_files(tmp_path, mini_kb):
    lines = [{"kind": "partner", "id": "a", "name": "A", "facts": {"share_poor": 0.5, "groups": ["women"]}},
             {"kind": "partner", "id": "b", "name": "B", "facts": {"tool": {"value": "mpi", "source": "site_visit"}}}]
    path, entities = _load(tmp_path, "p.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n", mini_kb)
    assert [e.id for e in entities] == ["a", "b"]
    assert entities[0].facts["groups"].value == ("women",)
    assert entities[1].facts["tool"].evidence.source == "site_visit"
    assert entities[1].source == f"{path}:2"


BAD_JSONL = [
    ("syntax", '{"kind": "partner", "id": "a", "name": "A", "facts": {}}\n{"kind": partner}\n',
     ["p.jsonl:2:10: BD002 JSON syntax error: Expecting value"]),
    ("unknown-fact", '{"kind": "partner", "id": "a", "name": "A", "facts": {"tol": "ppi"}}\n',
     ["p.jsonl:1:55: BD301 unknown fact 'tol' (did you mean 'tool'?)"]),
    ("duplicate-key", '{"kind": "partner", "id": "a", "name": "A", "facts": {"tool": "ppi", "tool": "mpi"}}\n',
     ["p.jsonl:1:70: BD003 duplicate key 'tool' (first defined at line 1)"]),
    ("string-where-a-number-belongs", '\n{"kind": "partner", "id": "a", "name": "A", "facts": {"share_poor": "45%"}}\n',
     ["p.jsonl:2:69: BD302 'share_poor' must be a number, found '45%'; write 0.45 for 45%"]),
    ("missing-name", '{"kind": "partner", "id": "a", "facts": {}}\n', ["p.jsonl:1:1: BD101 missing required key 'name'"]),
    ("two-keys-missing-each-said-once", '{"kind": "partner", "id": "a"}\n',
     ["p.jsonl:1:1: BD101 missing required key 'facts'", "p.jsonl:1:1: BD101 missing required key 'name'"]),
    ("nan", '{"kind": "partner", "id": "a", "name": "A", "facts": {"loan_size": NaN}}\n',
     ["p.jsonl:1:68: BD302 'loan_size' must be a number, found 'NaN'"]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in BAD_JSONL], ids=[c[0] for c in BAD_JSONL])
def test_bad_json_lines_are_reported_at_their_line(tmp_path, mini_kb, text, expected):
    assert _errors(tmp_path, "p.jsonl", text, mini_kb) == expected


def test_a_good_line_is_read_without_positions_and_a_bad_one_again_with_them(tmp_path, mini_kb):
    """The fast path (JSON parser alone) must report nothing the positional reader would not."""
    from engine.tabular_input import jsonl_lines, row_entity

    path = tmp_path / "p.jsonl"
    path.write_text('{"kind": "partner", "id": "a", "name": "A", "facts": {"clients": 3}}\n'
                    '{"kind": "partner", "id": "b", "name": "B", "facts": {"clients": -3}}\n')
    collector = Collector()
    entities = [row_entity(row, mini_kb, collector) for row in jsonl_lines(path, collector)]
    assert entities[0].id == "a" and entities[1] is None
    assert [d.format() for d in collector.items] == [f"{path}:2:66: BD303 'clients' is -3, outside [0, ∞]"]


def test_the_bundled_kb_reads_a_csv_row_with_every_fact_type(tmp_path, bundled_kb):
    text = ("kind,id,name,share_women,vulnerable_groups_served,kiva_recorded_badges,kiva_partner_since\n"
            "partner,k1,K,0.7,women;youth,client_voice;innovation,2010-01-01\n")
    _, [entity] = _load(tmp_path, "p.csv", text, bundled_kb)
    assert entity.facts["kiva_recorded_badges"].value == ("client_voice", "innovation")


def test_why_explains_a_table_of_one_row_and_refuses_a_longer_one(cli, tmp_path):
    from tests.conftest import MINI_KB

    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("kind,id,name,share_poor\npartner,a,A,0.9\n")
    two.write_text("kind,id,name\npartner,a,A\npartner,b,B\n")
    assert cli("why", one, "focus", "--kb", MINI_KB).status == 0
    refused = cli("why", two, "focus", "--kb", MINI_KB)
    assert (refused.status, refused.out) == (1, "")
    assert refused.err == f"{two}:0:0: BD008 expected one entity, found 2; give a facts file or a table of one row\n"
