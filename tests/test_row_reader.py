"""The fast CSV row reader takes exactly the rows the slow path reads without a diagnostic,
into the same entities; every other row it declines, for the slow path to report."""
from __future__ import annotations

import csv
import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import Collector
from engine.model import FACT_TYPES, LazyFacts, frozen_map
from engine.row_reader import RowReader, reader_for
from engine.rule_limits import largest_comparable
from engine.schemas import EVIDENCE_SOURCES
from engine.source import read_document
from engine.tabular_input import (EVIDENCE_KEYS, Header, Row, _csv_document, _entity, _header, row_entity,
                                  table_rows)
from tests.conftest import EXAMPLES, REPO

# cells tried for every fact type: '{a}' and '{b}' stand for the fact's first two allowed values
NEAR_MISSES = [
    "", "   ", "0", "1", "-1", "0.45", " 0.45 ", "\t0.3\n", "+3", "-0", "-0.0", "3.0", "3.5", "1e2", "1E-3", ".5",
    "5.", "1_000", "nan", "NaN", "inf", "-inf", "Infinity", "45%", "0x10", "1,5", "0.3 0.4", "--1", "+-1",
    "١٢", "²", "1.7", "1e400", "1e19", "1.5e308", "9223372036854775807", "9223372036854775808",
    "12.0000000001", "true", "false", "TRUE", " tRuE ", "False", "yes", "t", "ｔｒｕｅ", "true;false",
    "{a}", " {a} ", "{A}", "{a};{b}", "{a}; {b} ", "{a};;{b}", "{a};{a}", "[{a}]", "{a},{b}", "[]", ";", " ; ",
    "[ ]", "2021-02-28", "2020-02-29", "2021-02-30", "2021-13-01", "0000-01-01", "2021-1-01", "20210101",
    "2021-02-28T00:00", "２０２１-02-28", "2021-W08-7", " 2021-02-28 ", "text", "é 漢字", "\x00", "\u200b",
    "\u00a0", "=cmd|' /C calc'!A0", "\ud800", "null", "None",
]
EVIDENCE_CELLS = ["", "site_visit", " audited_report ", "SITE_VISIT", "gossip", "2024-06-30", "2024-02-30",
                  "2024-6-30", "DD report §4", "\u00a0", "0"]


def slow(row: Row, kb):
    """The slow path's entity and diagnostics (row_entity itself would try the fast path first)."""
    collector = Collector()
    return _entity(_csv_document(row), row, kb, collector), collector.items


def assert_agrees(row: Row, kb) -> bool:
    """The fast path takes the row exactly when the slow path reads it cleanly, into an equal
    entity; True when it took it."""
    fast = RowReader(row.header, kb).read(row)
    expected, diagnostics = slow(row, kb)
    if diagnostics:
        assert fast is None, [d.format() for d in diagnostics]
        return False
    assert fast is not None, "a plainly valid row was declined"
    assert (fast.kind, fast.id, fast.name, fast.description, fast.source) == \
           (expected.kind, expected.id, expected.name, expected.description, expected.source)
    assert list(fast.facts) == list(expected.facts) == list(fast.values)  # the same order too
    for name, fact in expected.facts.items():
        got = fast.facts[name]
        assert (got.name, got.evidence, got.location) == (fact.name, fact.evidence, fact.location)
        # repr tells 3 from 3.0 and True, -0.0 from 0.0
        assert repr(got.value) == repr(fact.value) == repr(fast.values[name]) and type(got.value) is type(fact.value)
    assert fast == expected
    return True


def header_of(names: list[str], kb) -> Header:
    collector = Collector()
    header = _header("t.csv", names, kb, collector)
    assert header is not None, collector.items
    return header


def row_of(header: Header, cells: dict[str, str], line: int = 2) -> Row:
    names = [name if evidence is None else f"{name}.{evidence}" for name, evidence, _ in header.columns]
    return Row(header.path, line, header=header, cells=tuple(cells.get(name, "") for name in names))


def partner_facts(kb) -> dict:
    return kb.facts_for("partner")


def filled(cell: str, spec) -> str:
    values = list(spec.values or ("ngo", "bank"))
    return cell.replace("{a}", values[0]).replace("{A}", values[0].upper()).replace("{b}", values[-1])


ENTITY = {"kind": "partner", "id": "p1", "name": "Partner One"}


@pytest.mark.parametrize("fact_type", FACT_TYPES)
def test_each_fact_type_reads_a_cell_as_the_slow_path_does(bundled_kb, fact_type):
    specs = {spec.range: spec for spec in partner_facts(bundled_kb).values() if spec.type == fact_type}
    assert specs, f"the bundled partner facts have no {fact_type} fact"
    for spec in specs.values():  # one fact per range
        header = header_of(["kind", "id", "name", spec.name], bundled_kb)
        taken = {assert_agrees(row_of(header, {**ENTITY, spec.name: filled(cell, spec)}), bundled_kb)
                 for cell in NEAR_MISSES}
        assert taken == ({True} if fact_type == "text" else {True, False}), spec.name  # any text is text


ENTITY_HEADER = ["kind", "id", "name", "description", "share_women", "member_count"]  # partner, association facts


@pytest.mark.parametrize("cells", [
    ENTITY, {**ENTITY, "kind": " partner "}, {**ENTITY, "kind": "Partner"}, {**ENTITY, "kind": "nobody"},
    {**ENTITY, "kind": ""}, {**ENTITY, "kind": "association"}, {**ENTITY, "member_count": "12"},
    {**ENTITY, "kind": "association", "member_count": "12"}, {**ENTITY, "kind": "association", "share_women": "0.5"},
    {**ENTITY, "id": "P.1_x-2"}, {**ENTITY, "id": " p1 "}, {**ENTITY, "id": "-p"}, {**ENTITY, "id": "_p"},
    {**ENTITY, "id": "p 1"}, {**ENTITY, "id": "p/1"}, {**ENTITY, "id": ""}, {**ENTITY, "id": "é"},
    {**ENTITY, "id": "p1\n"}, {**ENTITY, "id": "１"}, {**ENTITY, "name": ""}, {**ENTITY, "name": "  "},
    {**ENTITY, "name": "名字"}, {**ENTITY, "description": "  about  "}, {**ENTITY, "description": " "},
], ids=repr)
def test_entity_columns_are_checked_as_the_schema_checks_them(bundled_kb, cells):
    assert_agrees(row_of(header_of(ENTITY_HEADER, bundled_kb), cells), bundled_kb)


@pytest.mark.parametrize("value", ["0.5", "", "45%"])
@pytest.mark.parametrize("key", EVIDENCE_KEYS)
@pytest.mark.parametrize("cell", EVIDENCE_CELLS)
def test_evidence_cells_are_checked_only_for_a_known_fact(bundled_kb, value, key, cell):
    header = header_of(["kind", "id", "name", "share_women", f"share_women.{key}"], bundled_kb)
    assert_agrees(row_of(header, {**ENTITY, "share_women": value, f"share_women.{key}": cell}), bundled_kb)


def test_facts_keep_the_slow_paths_order_when_evidence_comes_before_its_fact(bundled_kb):
    header = header_of(["kind", "id", "name", "share_rural.source", "share_women", "share_rural.note", "share_rural",
                        "share_women.as_of"], bundled_kb)
    cells = {**ENTITY, "share_women": "0.5", "share_rural": "0.25", "share_women.as_of": "2024-06-30"}
    assert assert_agrees(row_of(header, cells), bundled_kb)  # by value column: women, rural
    for early in ("share_rural.source", "share_rural.note"):  # by first filled cell: rural, women
        assert assert_agrees(row_of(header, {**cells, early: "site_visit"}), bundled_kb)
    assert assert_agrees(row_of(header, {**cells, "share_rural": "", "share_rural.source": "x"}), bundled_kb)


def test_a_row_of_the_wrong_width_or_a_header_built_by_hand_goes_the_slow_way(bundled_kb):
    header = header_of(["kind", "id", "name", "share_women"], bundled_kb)
    reader = RowReader(header, bundled_kb)
    assert reader.read(Row("t.csv", 2, header=header, cells=("partner", "p1", "P", "0.5"))) is not None
    assert reader.read(Row("t.csv", 2, header=header, cells=("partner", "p1", "P"))) is None
    entity_columns = [("kind", None, 1), ("id", None, 2), ("name", None, 3)]
    for extra in (("name", None, 4), ("kind", "source", 4), ("share_women", "value", 4)):
        by_hand = Header("t.csv", (*entity_columns, extra))
        assert RowReader(by_hand, bundled_kb).read(Row("t.csv", 2, by_hand, ("partner", "p1", "P", "0.5"))) is None
    no_name = Header("t.csv", (("kind", None, 1), ("id", None, 2), ("share_women", None, 3)))
    assert RowReader(no_name, bundled_kb).read(Row("t.csv", 2, no_name, ("partner", "p1", "0.5"))) is None


def test_a_kind_whose_packs_declare_no_facts_goes_the_slow_way(bundled_kb):
    """The slow path refuses such a kind (BD306) even though a pack evaluates it."""
    header = header_of(["kind", "id", "name"], bundled_kb)
    packs = {pack_id: replace(pack, facts=frozen_map({})) if pack.entity == "partner" else pack
             for pack_id, pack in bundled_kb.packs.items()}
    assert not assert_agrees(row_of(header, ENTITY), replace(bundled_kb, packs=frozen_map(packs)))


def test_readers_are_cached_by_header_value_and_knowledge_base(bundled_kb, mini_kb):
    names = ["kind", "id", "name", "share_women"]
    first = reader_for(header_of(names, bundled_kb), bundled_kb)
    assert reader_for(header_of(names, bundled_kb), bundled_kb) is first  # an equal header, as unpickled
    assert reader_for(header_of(names, bundled_kb), mini_kb) is not first
    assert reader_for(header_of(names + ["share_rural"], bundled_kb), bundled_kb) is not first


# -- property -----------------------------------------------------------------------------------

def valid_cells(spec) -> st.SearchStrategy[str]:
    """Cells the slow path reads without complaint, written in the ways people write them."""
    low, high = spec.range or (None, None)
    if spec.type == "integer":
        high = largest_comparable(True) if high is None else min(int(high), largest_comparable(True))
        whole = st.integers(min_value=None if low is None else int(low), max_value=high)
        return st.one_of(whole.map(str), whole.map(lambda n: f"{n}.0"), whole.map(lambda n: f"+{n}"))
    if spec.type in ("number", "percentage"):
        numbers = st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
        return st.one_of(numbers.map(repr), numbers.map(lambda x: f"{x:g}"), numbers.map(lambda x: f"{x:.3e}"))
    if spec.type == "boolean":
        return st.sampled_from(["true", "false", "TRUE", "False"])
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "enum_list":
        return st.one_of(st.just("[]"), st.lists(st.sampled_from(spec.values), unique=True).map(";".join))
    if spec.type == "date":
        return st.dates().map(lambda day: day.isoformat())
    return st.text(min_size=1)


def padded(cells: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["", "", " ", "\t"]), cells, st.sampled_from(["", "", " \n"])).map("".join)


def spoilt_cells(spec) -> st.SearchStrategy[str]:
    """Near misses, junk, and values of the right type for a fact the entity's kind lacks."""
    return st.one_of(st.sampled_from(NEAR_MISSES).map(lambda cell: filled(cell, spec)), st.text(max_size=6),
                     valid_cells(spec))


VALID_EVIDENCE = {"source": st.sampled_from(EVIDENCE_SOURCES), "as_of": st.dates().map(lambda day: day.isoformat()),
                  "reference": st.text(min_size=1), "note": st.text(min_size=1)}
VALID_ENTITY = {"kind": st.sampled_from(["partner", "association"]),
                "id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,8}", fullmatch=True),
                "name": st.text(min_size=1), "description": st.text()}
SPOILT_ENTITY = {"kind": st.sampled_from(["Partner", "", "nobody", "partner_"]), "id": st.text(max_size=4),
                 "name": st.sampled_from(["", " ", "\u3000"]), "description": st.text(max_size=4)}


@st.composite
def rows(draw, kb):
    """A row over partner and association facts, with their evidence, its columns in any order:
    mostly valid cells, a few of them (or none) spoilt."""
    kinds = {kind: kb.facts_for(kind) for kind in ("partner", "association")}
    specs = {**kinds["association"], **kinds["partner"]}
    kind = draw(VALID_ENTITY["kind"])
    facts = draw(st.lists(st.sampled_from(sorted(kinds[kind])), min_size=1, max_size=12, unique=True))
    facts += draw(st.lists(st.sampled_from(sorted(set(specs) - set(kinds[kind]))), max_size=1))
    evidence = [f"{fact}.{key}" for fact in facts
                for key in draw(st.lists(st.sampled_from(EVIDENCE_KEYS), unique=True, max_size=2))]
    names = draw(st.permutations(["kind", "id", "name", "description"] + facts + evidence))
    known = st.sampled_from([True, True, True, False])
    cells = {"kind": kind}
    for name in names:
        fact, _, key = name.partition(".")
        if name in VALID_ENTITY:
            cells.setdefault(name, draw(padded(VALID_ENTITY[name])))
        elif fact in kinds[kind] and draw(known):
            cells[name] = draw(padded(VALID_EVIDENCE[key] if key else valid_cells(specs[fact])))
        else:
            cells[name] = ""
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        fact, _, key = name.partition(".")
        if name in SPOILT_ENTITY:
            cells[name] = draw(SPOILT_ENTITY[name])
        else:
            cells[name] = draw(st.sampled_from(EVIDENCE_CELLS) if key else spoilt_cells(specs[fact]))
    return row_of(header_of(names, kb), cells, line=draw(st.integers(2, 10**6)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_takes_exactly_the_clean_rows_into_equal_entities(bundled_kb, data):
    assert_agrees(data.draw(rows(bundled_kb)), bundled_kb)


# -- the rows a batch reads ---------------------------------------------------------------------

def _generate():
    spec = importlib.util.spec_from_file_location("generate", REPO / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_all_taken(path: Path, kb) -> int:
    collector = Collector()
    rows_read = list(table_rows(path, kb, collector))
    assert not collector.items and rows_read
    assert all(assert_agrees(row, kb) for row in rows_read)
    assert all(isinstance(row_entity(row, kb, collector).facts, LazyFacts) for row in rows_read)  # wired in
    return len(rows_read)


def test_benchmark_partners_are_all_taken_by_the_fast_path(bundled_kb, tmp_path):
    path = _generate().write(bundled_kb, 300, tmp_path / "partners.csv")
    assert _assert_all_taken(path, bundled_kb) == 300


def test_the_bundled_examples_as_a_table_are_all_taken_by_the_fast_path(bundled_kb, tmp_path):
    cell = _generate()._cell
    documents = [read_document(path, Collector()).data  # as the engine reads YAML: 'no' is a word
                 for folder in (EXAMPLES, EXAMPLES.parent / "associations") for path in sorted(folder.glob("*.yaml"))]
    facts = sorted({name for doc in documents for name in doc["facts"]})
    names = ["kind", "id", "name", "description"] + [f"{fact}{key}" for fact in facts
                                                     for key in ("", *(f".{key}" for key in EVIDENCE_KEYS))]
    path = tmp_path / "examples.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for doc in documents:
            cells = {key: doc.get(key, "") for key in ("kind", "id", "name", "description")}
            for fact, given in doc["facts"].items():
                given = given if isinstance(given, dict) else {"value": given}
                cells[fact] = cell(given["value"])
                cells.update({f"{fact}.{key}": str(given[key]) for key in EVIDENCE_KEYS if key in given})
            writer.writerow([cells.get(name, "") for name in names])
    assert _assert_all_taken(path, bundled_kb) == len(documents)
