"""CSV and JSON Lines inputs: the same entities and the same diagnostics as facts files."""
from __future__ import annotations

import csv
import io
import json
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import tabular_input
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
    from engine.tabular_input import row_entity, table_rows

    path = tmp_path / "p.jsonl"
    path.write_text('{"kind": "partner", "id": "a", "name": "A", "facts": {"clients": 3}}\n'
                    '{"kind": "partner", "id": "b", "name": "B", "facts": {"clients": -3}}\n')
    collector = Collector()
    entities = [row_entity(row, mini_kb, collector) for row in table_rows(path, mini_kb, collector)]
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


# -- blocks: the main process cuts a table, workers read it -------------------------------------

CELLS = st.text(alphabet=st.sampled_from(list('ab ,"\n\r;é\x00')), max_size=6)


def _reference_rows(path, kb):
    """The rows of a CSV read in one go by the csv module, with the line each starts on: what
    reading it in blocks must give."""
    collector = Collector()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            width = len(next(reader))
            start, rows = reader.line_num + 1, []
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    rows.append((start, tuple(cells)) if len(cells) == width else ("BD311", start))
                start = reader.line_num + 1
        except csv.Error:
            rows.append(("BD002", reader.line_num))
    return rows


def _block_rows(path, kb, rows_per_block):
    from engine.tabular_input import block_rows, table_blocks

    collector, found = Collector(), []
    for block in table_blocks(path, kb, collector, rows_per_block):
        for row in block_rows(block, collector):
            found.append((row.line, row.cells) if row is not None else ("BD311", collector.items[-1].location.line))
    found.extend((d.code, d.location.line) for d in collector.items if d.code == "BD002")
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=12),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), bom=st.booleans(), raw_tail=st.sampled_from(["", "x\"y", "\"a\"b"]))
def test_blocks_of_any_size_give_the_rows_of_the_whole_file(tmp_path, mini_kb, rows, newline, bom, raw_tail):
    """Cells with quotes, commas and line breaks, rows of the wrong width, blank rows, any line
    ending, a BOM, and text the csv module refuses: every block size reads the same rows, on the
    same lines, with the same problems, as reading the whole file at once."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows([["kind", "id", "name"], *rows])
    path = tmp_path / "t.csv"
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue() + raw_tail, encoding="utf-8", newline="")
    expected = _reference_rows(path, mini_kb)
    for size in (1, 2, 3, 64):
        assert _block_rows(path, mini_kb, size) == expected, size
    # the file read a few characters at a time: lines, '\r\n' and quoted cells split between reads
    with mock.patch.object(tabular_input._CsvLines, "READ", 3):
        for size in (1, 64):
            assert _block_rows(path, mini_kb, size) == expected, ("READ 3", size)


def test_a_csv_syntax_error_stops_the_file_there_in_a_batch_too(cli, tmp_path, monkeypatch):
    from engine import batch
    from tests.conftest import MINI_KB

    monkeypatch.setattr(batch, "CHUNK", 2)
    good = [f"partner,p{i},P{i}" for i in range(7)]
    path = tmp_path / "p.csv"
    path.write_text("kind,id,name\n" + "\n".join(good[:5] + ['partner,bad,"B"x'] + good[5:]) + "\n")
    for jobs in ("1", "2"):
        result = cli("evaluate", path, "--kb", MINI_KB, "--format", "jsonl", "--jobs", jobs)
        assert result.status == 1
        assert [json.loads(line)["entity"]["id"] for line in result.out.splitlines()] == [f"p{i}" for i in range(5)]
        assert result.err == f"{path}:7:1: BD002 CSV syntax error: ',' expected after '\"'\n"


def test_json_lines_blocks_keep_line_numbers(tmp_path, mini_kb):
    from engine.tabular_input import table_rows

    path = tmp_path / "p.jsonl"
    lines = [json.dumps({"kind": "partner", "id": f"p{i}", "name": "P", "facts": {}}) if i % 3 else "" for i in range(9)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    rows = list(table_rows(path, mini_kb, Collector()))
    assert [(row.line, json.loads(row.text)["id"]) for row in rows] == [(i + 1, f"p{i}") for i in range(9) if i % 3]


def test_a_cell_beyond_the_csv_modules_limit_is_a_syntax_error_in_quoted_and_plain_rows(tmp_path, mini_kb):
    import csv as csv_module

    huge = "x" * (csv_module.field_size_limit() + 1)
    for row in (f"partner,a,{huge}", f'partner,a,"{huge}"'):
        path = tmp_path / "big.csv"
        path.write_text(f"kind,id,name\npartner,ok,OK\n{row}\n")
        assert _block_rows(path, mini_kb, 64) == _reference_rows(path, mini_kb) == [(2, ("partner", "ok", "OK")),
                                                                                     ("BD002", 3)]


# "\x7f": JSON takes it, the positional reader (JSON read as YAML) refuses it; "\x85": that reader takes it
# as a line break, so it reads another line: values are then at the start of their line
@pytest.mark.parametrize("extra", ["", "\x7f", "\x85"])
def test_a_json_lines_value_is_located_on_its_own_line(tmp_path, mini_kb, extra):
    path = tmp_path / "p.jsonl"
    lines = [json.dumps({"kind": "partner", "id": f"p{i}", "name": f"P{i}{extra}", "facts": {"clients": 10 + i}},
                        ensure_ascii=False) for i in range(3)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [_, _, third] = load_entities([path], mini_kb)
    where = third.facts["clients"].location
    assert (where.path, where.line) == (str(path), 3)
    assert where.col == (lines[2].index('"clients": 12') + len('"clients": ') + 1 if not extra else 1)
