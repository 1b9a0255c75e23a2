"""The document fast path takes exactly the facts documents (JSON Lines rows, JSON and YAML
facts files) that the slow path reads without a diagnostic, into equal entities; every
other document it declines, and the slow path then reports exactly what it always did."""
from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import document_reader
from engine.diagnostics import Collector
from engine.facts_loader import entity_from_document, load_entity
from engine.model import FACT_TYPES, LazyFacts, frozen_map
from engine.rule_limits import largest_comparable
from engine.schemas import EVIDENCE_SOURCES
from engine.source import read_document
from engine.tabular_input import Row, row_entity
from tests.conftest import EXAMPLES, REPO
from tests.test_bad_input import FACTS_CASES

ENTITY = {"kind": "partner", "id": "p1", "name": "Partner One"}


def assert_same(got, expected) -> None:
    """Equal entities, facts in the same order, each value of the same type (3 is not 3.0)."""
    assert (got.kind, got.id, got.name, got.description, got.source) == \
           (expected.kind, expected.id, expected.name, expected.description, expected.source)
    assert list(got.facts) == list(expected.facts) == list(got.values)
    for name, fact in expected.facts.items():
        mine = got.facts[name]
        assert (mine.name, mine.evidence, mine.location) == (fact.name, fact.evidence, fact.location)
        assert repr(mine.value) == repr(fact.value) == repr(got.values[name])
        assert type(mine.value) is type(fact.value)
    assert got == expected


def agrees(got, reported: list, expected, diagnostics: list) -> bool:
    """The fast path's entity and diagnostics (``got``, ``reported``) are the slow path's; True
    when the fast path took the document (its facts are built lazily)."""
    assert reported == diagnostics
    if diagnostics:
        assert got is None
        return False
    assert_same(got, expected)
    return isinstance(got.facts, LazyFacts)


def slow_file(path: Path, kb):
    """The entity and diagnostics of the slow path: the positional reader, then the schema and
    each fact's normalisation."""
    collector = Collector()
    document = read_document(path, collector)
    entity = None if document is None else entity_from_document(document, kb, collector, source=str(path))
    return entity, collector.items


def agrees_file(path: Path, kb) -> bool:
    collector = Collector()
    return agrees(load_entity(path, kb, collector), collector.items, *slow_file(path, kb))


def slow_row(row: Row, kb):
    """What a JSON Lines row read before the fast path: the fast path made to decline."""
    collector = Collector()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document_reader, "read", lambda *args: None)
        return row_entity(row, kb, collector), collector.items


def agrees_row(text: str, kb, line: int = 3) -> bool:
    row = Row("t.jsonl", line, text=text)
    collector = Collector()
    return agrees(row_entity(row, kb, collector), collector.items, *slow_row(row, kb))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")  # a lone surrogate: a file UTF-8 cannot read
    return path


def yaml_text(document) -> str | None:
    try:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:  # PyYAML writes no lone surrogate
        return None


def agrees_everywhere(folder: Path, document, kb) -> set[bool]:
    """The document as a JSON Lines row, a JSON file and a YAML file: whether each was taken."""
    taken = {agrees_row(json.dumps(document), kb), agrees_row(json.dumps(document, ensure_ascii=False), kb),
             agrees_file(write(folder, "d.json", json.dumps(document, indent=2)), kb)}
    text = yaml_text(document)
    if text is not None:
        taken.add(agrees_file(write(folder, "d.yaml", text), kb))
    return taken


# -- every fact type ---------------------------------------------------------------------------

# values tried for every fact type: '{a}' and '{b}' stand for the fact's first and last allowed values
VALUES = [
    0, 1, -1, 12, 0.45, -0.0, 3.0, 3.5, 1e2, 1e-7, 1e19, 1.5e308, 1.7976931348623157e308, 2**63 - 1, 2**63,
    10**400, float("nan"), float("inf"), float("-inf"), True, False, None, "true", "True", "false", "0.5", "45%",
    "", " ", "{a}", " {a}", "{A}", "{a};{b}", ["{a}"], ["{a}", "{b}"], ["{a}", "{a}"], [], ["{a}", 1], [["{a}"]],
    [None], [True], {}, {"value": "{a}"}, "2021-02-28", "2020-02-29", "2021-02-30", "2021-13-01", "2021-1-01",
    "20210228", "2021-02-28\n", "2021-02-28T00:00", "２０２１-02-28", "text", "é 漢字", "\x00", "\x7f", "\u2028",
    "\ud800", "\ud83d\ude00", "=cmd|' /C calc'!A0", "yes", "null", "~", "*a", "<<",
]


def filled(value, spec):
    allowed = list(spec.values or ("ngo", "bank"))
    if isinstance(value, str):
        return value.replace("{a}", allowed[0]).replace("{A}", allowed[0].upper()).replace("{b}", allowed[-1])
    if isinstance(value, list):
        return [filled(v, spec) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, spec) for k, v in value.items()}
    return value


def specs_by_type(kb, fact_type: str) -> list:
    specs = {spec.range: spec for spec in kb.facts_for("partner").values() if spec.type == fact_type}
    assert specs, f"the bundled partner facts have no {fact_type} fact"
    return list(specs.values())  # one fact per range


@pytest.mark.parametrize("fact_type", FACT_TYPES)
def test_each_fact_type_reads_a_value_as_the_slow_path_does(bundled_kb, tmp_path, fact_type):
    for spec in specs_by_type(bundled_kb, fact_type):
        taken = set()
        for value in VALUES:
            value = filled(value, spec)
            taken |= agrees_everywhere(tmp_path, {**ENTITY, "facts": {spec.name: value}}, bundled_kb)
            taken |= agrees_everywhere(tmp_path, {**ENTITY, "facts": {spec.name: {"value": value}}}, bundled_kb)
        assert taken == {True, False}, spec.name


# Plain and tagged YAML scalars, typed by engine/source.py as YAML 1.2's core schema types them
YAML_SCALARS = [
    "yes", "no", "on", "off", "y", "~", "null", "Null", "NULL", "nULL", "", "true", "True", "TRUE", "tRue", "false",
    "0", "-0", "+1", "012", "0o17", "0x1F", "0b11", "1_000", "1:30", ".5", "5.", "1e3", "1E-3", "1.5e+2", ".inf",
    "-.Inf", "+.INF", ".nan", ".NaN", "NaN", "0.45", "1.7", "{a}", "'{a}'", '"{a}"', "[{a}]", "[{a}, {b}]",
    "[{a}, {a}]", "[]", "{}", "- {a}", "2021-02-28", "2021-02-30", "2021-02-28T00:00:00", "'0.5'", '"0.5"',
    "!!str 0.5", "!!str {a}", "!!float 1", "!!int \"3\"", "!!int 3", "!!bool yes", "!!bool true", "! 12", "! '12'",
    "!!null ''", "!!timestamp 2021-02-28", "!!binary aGk=", "!foo x", "!<str> x", "!!map {}", "!!seq []",
    "&a 0.5", "&a {a}", "*a", "<<", "'<<'", "|\n    text\n", ">-\n    folded\n    text\n", '"\\ud83d\\ude00"',
    '"\\ud800"', '"\\x41"', '"a\\tb"', '"\\u2028"', "'it''s'", "é 漢字", "a*b", "a # comment", "\"a\"  # comment",
    "{value: 0.5}", "{value: 0.5, source: site_visit}", "{value: 0.5, source: gossip}", "{value: 0.5, source: 1}",
    "{value: 0.5, as_of: 2024-06-30}", "{value: 0.5, as_of: '2024-06-30'}", "{value: 0.5, as_of: 2024-02-30}",
    "{value: 0.5, as_of: 20240630}", "{value: 0.5, reference: ''}", "{value: 0.5, note: x, reference: y}",
    "{value: 0.5, nope: 1}", "{source: site_visit}", "{value: ~}", "{value: {a: 1}}", "{value: 1, value: 2}",
    "{value: &v 1, note: *v}", "{? value : 0.5}", "{[value]: 1}", "{1: 2}",
]


@pytest.mark.parametrize("fact_type", FACT_TYPES)
def test_yaml_scalars_are_typed_as_the_slow_path_types_them(bundled_kb, tmp_path, fact_type):
    head = "kind: partner\nid: p1\nname: Partner One\nfacts:\n"
    for spec in specs_by_type(bundled_kb, fact_type):
        taken = set()
        for raw in YAML_SCALARS:
            raw = filled(raw, spec)
            taken.add(agrees_file(write(tmp_path, "f.yaml", f"{head}  {spec.name}: {raw}\n"), bundled_kb))
            taken.add(agrees_file(write(tmp_path, "f.yaml", f"{head}  {spec.name}:\n    value: {raw}\n"), bundled_kb))
        assert taken == {True, False}, spec.name


# -- the entity, evidence, and the shape of the document ---------------------------------------

FACT = {"share_women": 0.5}


@pytest.mark.parametrize("key, value", [
    ("kind", "partner"), ("kind", "Partner"), ("kind", "nobody"), ("kind", ""), ("kind", "partner\n"), ("kind", 1),
    ("kind", ["partner"]), ("kind", None), ("kind", "association"), ("id", "P.1_x-2"), ("id", "p1\n"), ("id", " p1"),
    ("id", "-p"), ("id", "_p"), ("id", "p 1"), ("id", ""), ("id", "é"), ("id", "１"), ("id", 1), ("id", True),
    ("name", ""), ("name", " "), ("name", "名字"), ("name", 1), ("name", None), ("description", "about"),
    ("description", ""), ("description", " "), ("description", None), ("description", 1), ("extra", 1),
    ("facts", {}), ("facts", None), ("facts", []), ("facts", "x"), ("facts", {"Share_Women": 0.5}),
    ("facts", {"share_women ": 0.5}), ("facts", {"share-women": 0.5}), ("facts", {"": 0.5}),
    ("facts", {"member_count": 12}),
], ids=repr)
def test_entity_keys_are_checked_as_the_schema_checks_them(bundled_kb, tmp_path, key, value):
    agrees_everywhere(tmp_path, {**ENTITY, "facts": FACT, key: value}, bundled_kb)


@pytest.mark.parametrize("document", [
    {"kind": "partner", "id": "p1", "facts": FACT}, {"id": "p1", "name": "P", "facts": FACT}, ENTITY, {}, [ENTITY],
    "partner", 1, None, {**ENTITY, "kind": "association", "facts": {"member_count": 12}},
], ids=repr)
def test_a_document_missing_a_key_or_not_a_mapping_is_left_to_the_slow_path(bundled_kb, tmp_path, document):
    taken = agrees_everywhere(tmp_path, document, bundled_kb)
    assert taken == ({True} if isinstance(document, dict) and document.get("kind") == "association" else {False})


@pytest.mark.parametrize("key", ["source", "as_of", "reference", "note", "nope"])
@pytest.mark.parametrize("given", [
    "site_visit", " site_visit", "SITE_VISIT", "gossip", "2024-06-30", "2024-02-30", "2024-6-30", "2024-06-30\n",
    "DD report §4", "", " ", "\u00a0", 0, 1.5, True, None, ["site_visit"], {"x": 1},
])
def test_evidence_is_checked_as_the_schema_and_the_loader_check_it(bundled_kb, tmp_path, key, given):
    for value in (0.5, "45%"):
        agrees_everywhere(tmp_path, {**ENTITY, "facts": {"share_women": {"value": value, key: given}}}, bundled_kb)


def test_facts_keep_their_order_evidence_and_locations(bundled_kb, tmp_path):
    facts = {"share_rural": {"value": 0.25, "source": "site_visit", "as_of": "2024-06-30"}, "share_women": 0.5,
             "legal_form": {"value": "ngo", "note": "n", "reference": "r"}, "family_services": []}
    assert agrees_everywhere(tmp_path, {**ENTITY, "description": "d", "facts": facts}, bundled_kb) == {True}


# Text that JSON reads one way and the positional reader (YAML) another, or refuses
JSON_TEXTS = [
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": 0.5}}',
    '{"kind":"partner","id":"p1","name":"P","facts":{"share_women":0.5}}',
    '{\n\t"kind": "partner",\n\t"id": "p1",\n\t"name": "P",\n\t"facts": {"share_women": 0.5}\n}',
    '{\r\n "kind": "partner",\r\n "id": "p1",\r\n "name": "P",\r\n "facts": {}\r\n}\r\n',
    '  \n{"kind": "partner", "id": "p1", "name": "P", "facts": {}}  \n\n',
    '{"kind": "partner", "id": "p1", "name": "P"\n, "facts": {}}',
    '{"kind": "partner", "id": "p1", "name":\n"P", "facts": {"share_women":\n0.5}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts"\n: {}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts"\r: {}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts"' + " " * 199 + ': {}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts"' + " " * 1100 + ': {}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"' + "x" * 1100 + '": 1}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"\\u0073hare_women": 0.5}}',
    '{"kind": "partner", "id": "p1", "name": "P", "kind": "partner", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": 0.5, "share_women": 0.5}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": {"value": 0.5, "value": 0.4}}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": NaN}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": -Infinity}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"legal_form_notes": NaN}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": 1E400}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": 5e-1}}',
    '{"kind": "partner", "id": "p1", "name": "P\\ud83d\\ude00", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\\ud83d", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\\uDE00", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\\\\ud800", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\\u0000\\/\\b\\f\\t", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\u2028Q", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\u2029Q", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\x85Q", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\x7fQ", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\x9fQ", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\ufeffQ", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P\ufffeQ", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "é 漢字 😀", "facts": {}}',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": 0.5}} x',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"share_women": 0.5},}',
    '[{"kind": "partner", "id": "p1", "name": "P", "facts": {}}]',
    '{"kind": "partner", "id": "p1", "name": "P", "facts": {"family_services": ' + "[" * 5000 + "]" * 5000 + "}}",
    "", "null", "{}",
]


@pytest.mark.parametrize("text", JSON_TEXTS, ids=lambda text: repr(text[:90]))
def test_json_is_taken_only_where_the_positional_reader_reads_it_alike(bundled_kb, tmp_path, text):
    agrees_file(write(tmp_path, "f.json", text), bundled_kb)
    if "\n" not in text and "\r" not in text:
        agrees_row(text, bundled_kb)


def test_a_json_file_with_a_byte_order_mark_is_taken(bundled_kb, tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({**ENTITY, "facts": FACT}).encode())
    assert agrees_file(path, bundled_kb)


@pytest.mark.parametrize("name, text", [(c[1], c[2]) for c in FACTS_CASES], ids=[c[0] for c in FACTS_CASES])
def test_every_bad_facts_file_is_left_to_the_slow_path(mini_kb, tmp_path, name, text):
    assert not agrees_file(write(tmp_path, name, text), mini_kb)


@pytest.mark.parametrize("text", [
    "kind: partner\nid: p1\nname: P\nfacts: {share_women: 0.5}\n",
    "---\nkind: partner\nid: p1\nname: P\nfacts: {}\n...\n",
    "kind: partner\nid: p1\nname: P\nfacts: {}\n---\n", "kind: partner\nid: p1\nname: P\nfacts: {}\n...\n---\n",
    "%YAML 1.2\n---\nkind: partner\nid: p1\nname: P\nfacts: {}\n", "{kind: partner, id: p1, name: P, facts: {}}\n",
    "kind: partner\nid: p1\nname: P\nfacts: {}\nkind: partner\n", "&top kind: partner\nid: p1\nname: P\nfacts: {}\n",
    "kind: &k partner\nid: p1\nname: *k\nfacts: {}\n", "kind: partner\nid: p1\nname: P *k\nfacts: {}\n",
    "kind: partner\nid: p1\nname: P\nfacts: {}\n<<: {description: d}\n", "kind: partner\nid: p1\nname: P\nfacts:\n",
    "kind: partner\nid: '123'\nname: P\nfacts: {}\n", "kind: partner\nid: 123\nname: P\nfacts: {}\n",
    "kind: partner\nid: p1\nname: 2024-06-30\nfacts: {}\n", "kind: partner\nid: p1\nname: P\ndescription:\nfacts: {}\n",
    "kind: partner\nid: p1\nname: P\ndescription: |\n  two\n  lines\nfacts: {}\n",
    "kind: partner\nid: p1\nname: P\tQ\nfacts: {}\n", "kind: partner\nid: p1\nname: P\x07\nfacts: {}\n",
    "kind: partner\nid: p1\nname: P\x85Q\nfacts: {}\n", "kind: partner\r\nid: p1\r\nname: P\r\nfacts: {}\r\n",
    "kind: partner\nid: p1\nname: P\nfacts: {}\n" + "#" * 5000 + "\n", "[kind, id]\n", "just words\n",
    "kind: partner\nid: p1\nname: " + "[" * 3000 + "]" * 3000 + "\nfacts: {}\n",
], ids=lambda text: repr(text[:60]))
def test_yaml_is_taken_only_where_the_positional_reader_reads_it_alike(bundled_kb, tmp_path, text):
    agrees_file(write(tmp_path, "f.yaml", text), bundled_kb)


# the characters YAML or JSON treat specially, and the bounds of those YAML allows
CHARACTERS = [chr(c) for c in range(0x100)] + [
    "\u2027", "\u2028", "\u2029", "\u202a", "\ud7ff", "\ue000", "\ufefe", "\ufeff", "\ufffd", "\ufffe", "\uffff",
    "\U00010000", "\U0010ffff"]


@pytest.mark.parametrize("character", CHARACTERS, ids=lambda character: f"U+{ord(character):04X}")
def test_a_character_is_taken_only_where_the_positional_reader_takes_it(bundled_kb, tmp_path, character):
    for name in (f"P{character}Q", f'"P{character}Q"'):
        agrees_file(write(tmp_path, "f.yaml", f"kind: partner\nid: p1\nname: {name}\nfacts: {{}}\n"), bundled_kb)
    text = '{"kind": "partner", "id": "p1", "name": "P%sQ", "facts": {}}' % character
    agrees_file(write(tmp_path, "f.json", text), bundled_kb)


def with_partner_pack(kb, **changes):
    """``kb`` with its partner pack changed (a knowledge base built in memory is not checked)."""
    pack = next(pack for pack in kb.packs.values() if pack.entity == "partner")
    return replace(kb, packs=frozen_map({**kb.packs, pack.id: replace(pack, **changes)}))


def test_a_knowledge_base_built_in_memory_with_names_the_schema_refuses(bundled_kb, tmp_path):
    pack = next(pack for pack in bundled_kb.packs.values() if pack.entity == "partner")
    for name in ("x" * 1100, "bad-name"):  # too long for a YAML key; not a fact name
        spec = replace(pack.facts["share_women"], name=name)
        kb = with_partner_pack(bundled_kb, facts=frozen_map({**pack.facts, name: spec}))
        assert not agrees_file(write(tmp_path, "f.json", json.dumps({**ENTITY, "facts": {name: 0.5}})), kb)
        assert agrees_row(json.dumps({**ENTITY, "facts": {name: 0.5}}), kb) is (name != "bad-name")
    kb = with_partner_pack(bundled_kb, entity="Partner")  # not a kind the schema allows
    assert not agrees_row(json.dumps({**ENTITY, "kind": "Partner", "facts": {}}), kb)


# -- property: documents as every form writes them ---------------------------------------------

def valid_values(spec) -> st.SearchStrategy:
    low, high = spec.range or (None, None)
    if spec.type == "integer":
        high = largest_comparable(True) if high is None else min(int(high), largest_comparable(True))
        whole = st.integers(min_value=None if low is None else int(low), max_value=high)
        return st.one_of(whole, whole.filter(lambda n: abs(n) < 2**53).map(float))
    if spec.type in ("number", "percentage"):
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "enum":
        return st.sampled_from(spec.values)
    if spec.type == "enum_list":
        return st.lists(st.sampled_from(spec.values), unique=True)
    if spec.type == "date":
        return st.dates().map(lambda day: day.isoformat())
    return st.text()


VALID_EVIDENCE = {"source": st.sampled_from(EVIDENCE_SOURCES), "as_of": st.dates().map(lambda day: day.isoformat()),
                  "reference": st.text(min_size=1), "note": st.text(min_size=1)}


@st.composite
def documents(draw, kb):
    """A partner or association: mostly valid facts (bare or with evidence), sometimes one value,
    evidence field or entity key spoilt."""
    kind = draw(st.sampled_from(["partner", "association"]))
    specs = kb.facts_for(kind)
    facts = {}
    for name in draw(st.lists(st.sampled_from(sorted(specs)), max_size=12, unique=True)):
        value = draw(valid_values(specs[name]))
        keys = draw(st.lists(st.sampled_from(sorted(VALID_EVIDENCE)), unique=True, max_size=3))
        facts[name] = {"value": value, **{key: draw(VALID_EVIDENCE[key]) for key in keys}} \
            if keys or draw(st.booleans()) else value
    document = {"kind": kind, "id": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,8}", fullmatch=True)),
                "name": draw(st.text(min_size=1))}
    if draw(st.booleans()):
        document["description"] = draw(st.text(min_size=1))
    document["facts"] = facts
    spoil = draw(st.sampled_from(["none"] * 6 + ["value", "evidence", "entity", "unknown"]))
    if spoil == "value" and facts:
        name = draw(st.sampled_from(sorted(facts)))
        facts[name] = filled(draw(st.sampled_from(VALUES)), specs[name])
    elif spoil == "evidence" and facts:
        facts[draw(st.sampled_from(sorted(facts)))] = {"value": draw(st.sampled_from(VALUES)),
                                                         draw(st.sampled_from(["source", "as_of", "note", "x"])):
                                                         draw(st.sampled_from(VALUES))}
    elif spoil == "entity":
        document[draw(st.sampled_from(["kind", "id", "name", "description"]))] = draw(st.sampled_from(VALUES))
    elif spoil == "unknown":
        facts[draw(st.sampled_from(["member_count", "share_women", "nope"]))] = 1
    return document


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fast_path_takes_exactly_the_clean_documents_into_equal_entities(bundled_kb, tmp_path, data):
    document = data.draw(documents(bundled_kb))
    agrees_row(json.dumps(document, ensure_ascii=data.draw(st.booleans())), bundled_kb,
               line=data.draw(st.integers(1, 10**6)))
    indent = data.draw(st.sampled_from([None, 1, 2, "\t"]))
    separators = data.draw(st.sampled_from([None, (",", ":"), (" ,", " : ")]))
    agrees_file(write(tmp_path, "d.json", json.dumps(document, indent=indent, separators=separators,
                                                      ensure_ascii=data.draw(st.booleans()))), bundled_kb)
    try:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=data.draw(st.booleans()),
                              default_flow_style=data.draw(st.sampled_from([False, None, True])),
                              width=data.draw(st.sampled_from([80, 20, 10**6])))
    except yaml.YAMLError:
        return
    agrees_file(write(tmp_path, "d.yaml", text), bundled_kb)


# -- what a batch reads is taken ---------------------------------------------------------------

def _generate():
    spec = importlib.util.spec_from_file_location("generate", REPO / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _example_documents() -> list[dict]:
    paths = sorted([*EXAMPLES.glob("*.yaml"), *(EXAMPLES.parent / "associations").glob("*.yaml")])
    return [read_document(path, Collector()).data for path in paths]


def test_the_bundled_examples_are_taken_by_the_fast_path(bundled_kb, tmp_path):
    paths = sorted([*EXAMPLES.glob("*.yaml"), *(EXAMPLES.parent / "associations").glob("*.yaml")])
    assert len(paths) >= 10 and all(agrees_file(path, bundled_kb) for path in paths)
    for document in _example_documents():  # and as JSON files and JSON Lines rows
        assert agrees_everywhere(tmp_path, document, bundled_kb) == {True}


def test_benchmark_partners_are_taken_by_the_fast_path(bundled_kb, tmp_path):
    generate = _generate()
    folder = generate.write(bundled_kb, 150, tmp_path / "folder")
    assert all(agrees_file(path, bundled_kb) for path in sorted(folder.glob("*.yaml")))
    table = generate.write(bundled_kb, 150, tmp_path / "partners.jsonl")
    lines = table.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 150 and all(agrees_row(line, bundled_kb, number) for number, line in enumerate(lines, 1))
    for number, line in enumerate(lines[:50]):
        assert agrees_file(write(tmp_path, f"p{number}.json", json.dumps(json.loads(line), indent=2)), bundled_kb)


def test_evaluate_prints_the_same_with_and_without_the_fast_path(cli, bundled_kb, tmp_path):
    generate = _generate()
    folder = generate.write(bundled_kb, 20, tmp_path / "folder")
    documents = [{**document, "id": f"q{number}"}
                 for number, document in enumerate(generate.partners(bundled_kb, 30, seed=7))]
    documents[3]["facts"]["share_women"] = "45%"
    documents[5]["facts"]["nope"] = 1
    for document in documents[:10]:
        write(folder, f"{document['id']}.json", json.dumps(document, indent=2))
    documents[12]["kind"] = "Partner"
    write(tmp_path, "more.jsonl", "".join(json.dumps(document) + "\n" for document in documents[10:]))
    args = ("evaluate", folder, tmp_path / "more.jsonl", "--format", "jsonl", "--jobs", "1")
    fast = cli(*args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document_reader, "read", lambda *args: None)
        slow = cli(*args)
    assert (fast.status, fast.out, fast.err) == (slow.status, slow.out, slow.err)
    assert fast.status == 1 and fast.out.count("\n") == 47 and fast.err.count("BD") == 3
