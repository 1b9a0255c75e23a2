"""Bad input is reported as ``path:line:col: CODE message`` on stderr, exit 1, nothing on stdout.

Facts files are written to a temporary folder and evaluated against the mini knowledge base
(tests/fixtures/mini_kb). Knowledge-base cases copy the mini knowledge base, break one thing,
and run ``badges check`` on the copy. Every case asserts the exact lines.
"""
from __future__ import annotations

import json

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import BUNDLED_KB, EXAMPLES, MINI_KB

HEAD = "kind: partner\nid: a\nname: A\n"
GOOD = HEAD + "facts:\n  share_poor: 0.6\n"

# (case id, file name, text, expected stderr lines with {p} for the file's path)
FACTS_CASES = [
    ("malformed-yaml", "f.yaml", "kind: partner\nid: a\nname: [A\nfacts: {}\n",
     ["{p}:4:6: BD002 expected ',' or ']', but got ':'"]),
    ("bad-indentation", "f.yaml", "kind: partner\nid: a\n  name: A\n",
     ["{p}:3:7: BD002 mapping values are not allowed here"]),
    ("unknown-fact", "f.yaml", HEAD + "facts:\n  share_pooor: 0.5\n",
     ["{p}:5:3: BD301 unknown fact 'share_pooor' (did you mean 'share_poor'?)"]),
    ("percent-sign", "f.yaml", HEAD + 'facts:\n  share_poor: "45%"\n',
     ["{p}:5:15: BD302 'share_poor' must be a number, found '45%'; write 0.45 for 45%"]),
    ("share-above-one", "f.yaml", HEAD + "facts:\n  share_poor: 1.7\n",
     ["{p}:5:15: BD303 'share_poor' is 1.7, outside [0, 1]; percentages are shares from 0 to 1 "
      "(write 0.45 for 45%)"]),
    ("below-range", "f.yaml", HEAD + "facts:\n  clients: -1\n",
     ["{p}:5:12: BD303 'clients' is -1, outside [0, ∞]"]),
    ("duplicate-key", "f.yaml", HEAD + "facts:\n  clients: 10\n  clients: 12\n",
     ["{p}:6:3: BD003 duplicate key 'clients' (first defined at line 5)"]),
    ("python-object", "f.yaml", HEAD + "facts:\n  clients: !!python/object:os.system {}\n",
     ["{p}:5:12: BD004 tag '!!python/object:os.system' is not allowed; write plain data"]),
    ("python-name", "f.yaml", HEAD + "facts:\n  clients: !!python/name:os.system\n",
     ["{p}:5:12: BD004 tag '!!python/name:os.system' is not allowed; write plain data"]),
    ("python-apply", "f.yaml", HEAD + 'facts: !!python/object/apply:os.system ["echo hi"]\n',
     ["{p}:4:8: BD004 tag '!!python/object/apply:os.system' is not allowed; write plain data"]),
    ("custom-tag", "f.yaml", HEAD + "facts:\n  notes: !secret x\n",
     ["{p}:5:10: BD004 tag '!secret' is not allowed; write plain data"]),
    ("binary-tag", "f.yaml", HEAD + "facts:\n  notes: !!binary aGVsbG8=\n",
     ["{p}:5:10: BD004 tag '!!binary' is not allowed; write plain data"]),
    ("merge-key", "f.yaml", HEAD + "facts:\n  <<: {clients: 3}\n",
     ["{p}:5:3: BD004 merge keys ('<<') are not allowed"]),
    ("alias", "f.yaml", HEAD + "facts:\n  clients: &n 10\n  loan_size: *n\n",
     ["{p}:6:14: BD009 alias '*n' is not allowed; write the value out in full"]),
    ("self-referencing-alias", "f.yaml", HEAD + "facts: &x\n  clients: 1\n  loop: *x\n",
     ["{p}:6:9: BD009 alias '*x' is not allowed; write the value out in full"]),
    ("empty-file", "f.yaml", "", ["{p}:1:1: BD005 file is empty; expected a mapping"]),
    ("only-comments", "f.yaml", "# nothing here\n", ["{p}:1:1: BD005 file is empty; expected a mapping"]),
    ("multi-document", "f.yaml", HEAD + "facts: {}\n---\nkind: partner\nid: b\nname: B\nfacts: {}\n",
     ["{p}:6:1: BD006 only one document per file is allowed"]),
    ("integer-key", "f.yaml", HEAD + "facts:\n  1: 3\n", ["{p}:5:3: BD007 keys must be plain strings"]),
    ("json-syntax", "f.json", '{\n  "kind": "partner",\n  "id": "a",\n  "name": "A",\n'
     '  "facts": {"share_poor": 0.5,}\n}\n',
     ["{p}:5:31: BD002 JSON syntax error: Expecting property name enclosed in double quotes"]),
    ("json-bad-value", "f.json", '{\n  "kind": "partner",\n  "id": "a",\n  "name": "A",\n'
     '  "facts": {"share_poor": "45%"}\n}\n',
     ["{p}:5:27: BD302 'share_poor' must be a number, found '45%'; write 0.45 for 45%"]),
    ("json-duplicate-key", "f.json", '{"kind": "partner", "id": "a", "name": "A", '
     '"facts": {"clients": 1, "clients": 2}}',
     ["{p}:1:69: BD003 duplicate key 'clients' (first defined at line 1)"]),
    ("json-nan", "f.json", '{"kind": "partner", "id": "a", "name": "A", "facts": {"share_poor": NaN}}',
     ["{p}:1:69: BD302 'share_poor' must be a number, found 'NaN'"]),
    ("json-lone-surrogate", "f.json", '{"kind": "partner", "id": "a", "name": "A \\ud83d", "facts": {}}',
     ["{p}:1:40: BD002 bad value: text holds an unpaired UTF-16 surrogate escape (\\ud800 to \\udfff)"]),
    ("values-shown-as-written", "f.yaml", HEAD + "facts:\n  tool: true\n  clients: [3, x]\n  groups: [women, false]\n",
     ["{p}:5:9: BD304 'tool' cannot be true; allowed: ppi, mpi, none",
      "{p}:6:12: BD302 'clients' must be a number, found [3, x]",
      "{p}:7:11: BD304 'groups' cannot include false; allowed: women, youth, refugees, farmers"]),
    ("wrong-enum", "f.yaml", HEAD + "facts:\n  tool: ppii\n",
     ["{p}:5:9: BD304 'tool' cannot be 'ppii'; allowed: ppi, mpi, none (did you mean 'ppi'?)"]),
    ("enum-list-repeats", "f.yaml", HEAD + "facts:\n  groups: [women, women, aliens]\n",
     ["{p}:5:11: BD304 'groups' cannot include 'aliens'; allowed: women, youth, refugees, farmers",
      "{p}:5:11: BD304 'groups' lists a value twice"]),
    ("impossible-date", "f.yaml", HEAD + "facts:\n  founded: 2021-02-30\n",
     ["{p}:5:12: BD305 '2021-02-30' is not a real date (use YYYY-MM-DD)"]),
    ("basic-format-date", "f.yaml", HEAD + 'facts:\n  founded: "20201231"\n',
     ["{p}:5:12: BD305 '20201231' is not a real date (use YYYY-MM-DD)"]),
    ("week-date", "f.yaml", HEAD + 'facts:\n  founded: "2020-W53-4"\n',
     ["{p}:5:12: BD305 '2020-W53-4' is not a real date (use YYYY-MM-DD)"]),
    ("evidence-date", "f.yaml", HEAD + "facts:\n  clients: {value: 3, source: site_visit, as_of: 2021-13-01}\n",
     ["{p}:5:50: BD305 '2021-13-01' is not a real date (use YYYY-MM-DD)"]),
    ("evidence-date-not-text", "f.yaml", HEAD + "facts:\n  clients: {value: 3, as_of: 5}\n",
     ["{p}:5:30: BD101 expected text, found the number 5"]),  # the partner was silently dropped
    ("evidence-source", "f.yaml", HEAD + "facts:\n  clients: {value: 3, source: rumour}\n",
     ["{p}:5:31: BD101 'rumour' is not allowed here; use one of: audited_report, site_visit, self_reported, "
      "third_party_rating, published_report, kiva_api"]),
    ("evidence-without-value", "f.yaml", HEAD + "facts:\n  clients: {source: site_visit}\n",
     ["{p}:5:12: BD101 missing required key 'value'"]),
    ("null-value", "f.yaml", HEAD + "facts:\n  clients: null\n",
     ["{p}:5:12: BD101 no value given (null); leave the key out when it is unknown"]),
    ("not-a-mapping", "f.yaml", "- kind: partner\n", ["{p}:1:1: BD101 expected a mapping, found a list"]),
    ("missing-name", "f.yaml", "kind: partner\nid: a\nfacts: {}\n", ["{p}:1:1: BD101 missing required key 'name'"]),
    ("unknown-top-key", "f.yaml", HEAD + "facts: {}\ncolour: red\n", ["{p}:5:1: BD101 unknown key 'colour'"]),
    ("unknown-kind", "f.yaml", "kind: partnr\nid: a\nname: A\nfacts: {}\n",
     ["{p}:1:7: BD306 no pack evaluates entities of kind 'partnr' (did you mean 'partner'?)"]),
    ("yes-is-not-true", "f.yaml", HEAD + "facts:\n  uses_tool: yes\n",
     ["{p}:5:14: BD302 'uses_tool' must be true or false, found 'yes'"]),
    ("quoted-boolean", "f.yaml", HEAD + 'facts:\n  uses_tool: "true"\n',
     ["{p}:5:14: BD302 'uses_tool' must be true or false, found 'true'"]),
    ("fraction-for-integer", "f.yaml", HEAD + "facts:\n  clients: 2.5\n",
     ["{p}:5:12: BD302 'clients' must be a whole number, found 2.5"]),
    ("underscored-number", "f.yaml", HEAD + "facts:\n  clients: 1_000\n",
     ["{p}:5:12: BD302 'clients' must be a number, found '1_000'"]),
    ("sexagesimal", "f.yaml", HEAD + "facts:\n  loan_size: 1:30\n",
     ["{p}:5:14: BD302 'loan_size' must be a number, found '1:30'"]),
    ("infinity", "f.yaml", HEAD + "facts:\n  loan_size: .inf\n",
     ["{p}:5:14: BD302 'loan_size' must be a finite number"]),
    ("integer-beyond-64-bits", "f.yaml", HEAD + "facts:\n  clients: 99999999999999999999\n",
     ["{p}:5:12: BD303 'clients' is too large: it must lie within ±9.22337e+18"]),
    ("number-beyond-float", "f.yaml", HEAD + "facts:\n  loan_size: 1" + "0" * 400 + "\n",
     ["{p}:5:14: BD303 'loan_size' is too large: it must lie within ±1.79769e+308"]),
    ("tagged-non-number", "f.yaml", HEAD + "facts:\n  clients: !!int ten\n",
     ["{p}:5:12: BD002 bad value: 'ten' is not a whole number"]),
    ("nested-too-deeply", "f.yaml", HEAD + "facts: " + "[" * 5000 + "]" * 5000 + "\n",
     ["{p}:1:1: BD002 nested too deeply"]),
    ("several-problems-at-once", "f.yaml",
     HEAD + 'facts:\n  share_poor: 1.7\n  tool: ppii\n  clients: -1\n  uses_tool: "true"\n',
     ["{p}:5:15: BD303 'share_poor' is 1.7, outside [0, 1]; percentages are shares from 0 to 1 (write 0.45 for 45%)",
      "{p}:6:9: BD304 'tool' cannot be 'ppii'; allowed: ppi, mpi, none (did you mean 'ppi'?)",
      "{p}:7:12: BD303 'clients' is -1, outside [0, ∞]",
      "{p}:8:14: BD302 'uses_tool' must be true or false, found 'true'"]),
]


_DIAGNOSTIC = re.compile(r"^\S.*:\d+:\d+: BD\d{3} ")


def _expect_invalid(result, lines: list[str]) -> None:
    assert (result.status, result.out) == (1, ""), result.err
    assert result.err.splitlines() == lines
    assert "Traceback" not in result.err


def _expect_check_fails(result, lines: list[str]) -> None:
    """``badges check`` prints a one-line verdict on stdout; the diagnostics go to stderr."""
    assert result.status == 1, result.err
    assert [line for line in result.err.splitlines() if _DIAGNOSTIC.match(line)] == lines
    assert "Traceback" not in result.err + result.out


@pytest.mark.parametrize("name, text, expected", [c[1:] for c in FACTS_CASES], ids=[c[0] for c in FACTS_CASES])
def test_bad_facts_file(cli, tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = cli("evaluate", path, "--kb", MINI_KB)
    _expect_invalid(result, [line.format(p=path) for line in expected])


@pytest.mark.parametrize("command", ["evaluate", "why"])
def test_bad_facts_file_is_refused_by_every_command(cli, tmp_path, command):
    path = tmp_path / "f.yaml"
    path.write_text(HEAD + "facts:\n  share_poor: 1.7\n")
    args = [path, "focus"] if command == "why" else [path]
    result = cli(command, *args, "--kb", MINI_KB)
    _expect_invalid(result, [f"{path}:5:15: BD303 'share_poor' is 1.7, outside [0, 1]; percentages are shares "
                             "from 0 to 1 (write 0.45 for 45%)"])


def test_bad_facts_against_bundled_knowledge_base(cli, tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(HEAD + 'facts:\n  share_women: 1.7\n  share_rural: "45%"\n  share_womem: 0.5\n')
    _expect_invalid(cli("evaluate", path), [
        f"{path}:5:16: BD303 'share_women' is 1.7, outside [0, 1]; percentages are shares from 0 to 1 "
        "(write 0.45 for 45%)",
        f"{path}:6:16: BD302 'share_rural' must be a number, found '45%'; write 0.45 for 45%",
        f"{path}:7:3: BD301 unknown fact 'share_womem' (did you mean 'share_women'?)",
    ])


def test_undecodable_file(cli, tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"kind: partner\nid: a\nname: \xff\n")
    _expect_invalid(cli("evaluate", path, "--kb", MINI_KB), [
        f"{path}:0:0: BD001 cannot read file: 'utf-8' codec can't decode byte 0xff in position 26: "
        "invalid start byte"])


def test_folder_with_one_bad_file_evaluates_the_others_and_exits_1(cli, tmp_path):
    """Issue 6: a bad entity is reported with its diagnostics, the rest are still evaluated (each
    record complete), and the exit status is 1."""
    (tmp_path / "a-good.yaml").write_text(GOOD)
    bad = tmp_path / "b-bad.yaml"
    bad.write_text(HEAD.replace("id: a", "id: b") + "facts:\n  share_poor: 1.7\n")
    result = cli("evaluate", tmp_path, "--kb", MINI_KB, "--format", "json")
    assert result.status == 1
    assert result.err.splitlines() == [
        f"{bad}:5:15: BD303 'share_poor' is 1.7, outside [0, 1]; percentages are shares from 0 to 1 "
        "(write 0.45 for 45%)"]
    assert [r["entity"]["id"] for r in json.loads(result.out)["results"]] == ["a"]


def test_missing_path(cli, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    missing = tmp_path / "nope.yaml"
    _expect_invalid(cli("evaluate", tmp_path / "good.yaml", missing, "--kb", MINI_KB),
                    [f"{missing}:0:0: BD008 no such file or folder"])


def test_empty_folder(cli, tmp_path):
    _expect_invalid(cli("evaluate", tmp_path, "--kb", MINI_KB),
                    [f"{tmp_path}:0:0: BD008 folder holds no facts files (.yaml, .yml, .json)"])


def test_why_needs_one_file_not_a_folder(cli, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    _expect_invalid(cli("why", tmp_path, "focus", "--kb", MINI_KB),
                    [f"{tmp_path}:0:0: BD008 expected one facts file"])


def test_two_entities_with_one_id(cli, tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(GOOD)
    second.write_text(GOOD)
    result = cli("evaluate", tmp_path, "--kb", MINI_KB, "--format", "csv")
    assert result.status == 1
    assert result.err.splitlines() == [f"{second}:1:1: BD307 entity id 'a' is also used by {first}"]
    assert {row.split(",")[0] for row in result.out.splitlines()[1:]} == {"a"}  # the first one only


def test_one_file_named_twice_is_one_entity(cli, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(GOOD)
    result = cli("evaluate", path, tmp_path, path, "--kb", MINI_KB, "--format", "csv")
    assert (result.status, result.err) == (0, "")
    assert len(result.out.splitlines()) == 1 + 2  # header, two badges of one partner


def _facts_of(path: Path) -> dict:
    from engine import load_knowledge_base
    from engine.facts_loader import load_entities

    [entity] = load_entities([path], load_knowledge_base(MINI_KB))
    return {name: fact.value for name, fact in entity.facts.items()}


def test_json_indented_with_tabs_is_read(tmp_path):
    path = tmp_path / "f.json"
    path.write_text('{\n\t"kind": "partner",\n\t"id": "a",\n\t"name": "A",\n\t"facts": {"share_poor": 6E-1}\n}\n')
    assert _facts_of(path) == {"share_poor": 0.6}


def test_json_with_a_byte_order_mark_and_escaped_emoji_is_read(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b'\xef\xbb\xbf{"kind": "partner", "id": "a", "name": "A \\ud83d\\ude00 \\/ \\u00e9", '
                     b'"facts": {"clients": 3}}')
    from engine import load_knowledge_base
    from engine.facts_loader import load_entities

    [entity] = load_entities([path], load_knowledge_base(MINI_KB))
    assert (entity.name, entity.facts["clients"].value) == ("A \U0001F600 / \u00e9", 3)


def test_yaml_1_2_numbers_are_numbers(tmp_path):
    """``1e-7`` is a number in YAML 1.2 (PyYAML alone reads it as text), ``012`` is twelve."""
    path = tmp_path / "f.yaml"
    path.write_text(HEAD + "facts:\n  share_poor: 1e-7\n  clients: 012\n  loan_size: 0x10\n  income_per_capita: 0o10\n")
    assert _facts_of(path) == {"share_poor": 1e-7, "clients": 12, "loan_size": 16.0, "income_per_capita": 8.0}


# -- knowledge bases: a copy of the mini knowledge base with one thing broken ----------------------

# (case id, file, text to replace (once), replacement, expected stderr lines, relative to the copy)
KB_CASES = [
    ("unknown-fact", "demo/badges/reach.yaml", "fact: clients\n      op: equals", "fact: client\n      op: equals",
     ["demo/badges/reach.yaml:35:13: BD201 unknown fact 'client' (did you mean 'clients'?)"]),
    ("op-for-wrong-type", "demo/badges/reach.yaml", "op: is_not", "op: more_than",
     ["demo/badges/reach.yaml:30:11: BD204 'more_than' does not apply to enum fact 'tool'; "
      "use one of: is, is_not, one_of, not_one_of"]),
    ("at-least-too-big", "demo/badges/focus.yaml", "at_least: 2", "at_least: 4",
     ["demo/badges/focus.yaml:21:17: BD208 at_least 4 of 3 condition(s) can never hold; use a number from 1 to 3"]),
    ("at-least-zero", "demo/badges/focus.yaml", "at_least: 2", "at_least: 0",
     ["demo/badges/focus.yaml:21:17: BD208 at_least 0 of 3 condition(s) always holds; use a number from 1 to 3"]),
    ("cycle", "demo/derived/measures-poverty.yaml", "      fact: uses_tool\n      op: is\n      value: true",
     "      conclusion: poverty-focus",
     ["demo/derived/poverty-focus.yaml:10:3: BD207 derived conclusions form a cycle: "
      "poverty-focus → measures-poverty → poverty-focus"]),
    ("unknown-source", "demo/badges/reach.yaml", "cite: {source: test-source, section: Four}\n  any:",
     "cite: {source: test-sourc, section: Four}\n  any:",
     ["demo/badges/reach.yaml:12:18: BD209 unknown source 'test-sourc' (did you mean 'test-source'?)"]),
    ("duplicate-node-id", "demo/badges/reach.yaml", "id: re-exact", "id: re-not-none",
     ["demo/badges/reach.yaml:32:11: BD203 node id 're-not-none' is already used at {root}/demo/badges/reach.yaml:26:11"]),
    ("missing-description", "demo/badges/reach.yaml", "      description: Exactly 500 clients.\n", "",
     ["demo/badges/reach.yaml:32:7: BD101 missing required key 'description'"]),
    ("missing-version", "demo/badges/reach.yaml", "version: 1.0.0\n", "",
     ["demo/badges/reach.yaml:1:1: BD101 missing required key 'version'"]),
    ("id-not-file-name", "demo/badges/reach.yaml", "id: reach", "id: reaches",
     ["demo/badges/reach.yaml:1:5: BD213 id 'reaches' does not match the file name 'reach.yaml'"]),
    ("pack-id-not-folder", "demo/pack.yaml", "id: demo", "id: dem",
     ["demo/pack.yaml:1:5: BD213 pack id 'dem' does not match its folder 'demo'"]),
    ("unknown-conclusion", "demo/badges/focus.yaml", "conclusion: poverty-focus", "conclusion: poverty-fokus",
     ["demo/badges/focus.yaml:14:7: BD202 unknown conclusion 'poverty-fokus' (did you mean 'poverty-focus'?)"]),
    ("badge-used-as-derived", "demo/badges/focus.yaml", "conclusion: poverty-focus", "conclusion: reach",
     ["demo/badges/focus.yaml:14:7: BD210 'reach' is a badge; move the shared logic into a derived conclusion"]),
    ("value-of-wrong-type", "demo/badges/reach.yaml", "value: 500", "value: many",
     ["demo/badges/reach.yaml:37:14: BD205 integer fact 'clients' is compared with 'many'; use a number"]),
    ("value-not-allowed", "demo/badges/reach.yaml", "value: none", "value: nothing",
     ["demo/badges/reach.yaml:31:14: BD206 'nothing' is not a value of fact 'tool' (allowed: ppi, mpi, none)"]),
    ("threshold-out-of-range", "demo/badges/reach.yaml", "value: 500", "value: -5",
     ["demo/badges/reach.yaml:37:14: BD211 -5 is outside the range of 'clients' [0, ∞]"]),
    ("other-fact-of-other-type", "demo/badges/focus.yaml", "other_fact: income_per_capita", "other_fact: clients",
     ["demo/badges/focus.yaml:28:23: BD214 cannot compare number fact 'loan_size' with integer fact 'clients'"]),
    ("fact-declared-twice", "demo/facts.yaml", "  - name: notes\n", "  - name: founded\n",
     ["demo/facts.yaml:40:11: BD215 fact 'founded' is declared twice"]),
    ("two-node-kinds", "demo/badges/reach.yaml", "      fact: clients\n      op: equals",
     "      conclusion: poverty-focus\n      fact: clients\n      op: equals",
     ["demo/badges/reach.yaml:32:7: BD102 node 're-exact' needs exactly one of all, any, not, at_least, "
      "conclusion, fact (found: conclusion, fact)"]),
    ("missing-pack-folder", "kb.yaml", "packs: [demo]", "packs: [demo, extra]",
     ["kb.yaml:3:15: BD212 pack folder 'extra' not found"]),
    ("kind-not-folder", "demo/badges/reach.yaml", "kind: badge", "kind: derived",
     ["demo/badges/reach.yaml:2:7: BD101 a file under badges/ must have kind 'badge'"]),
    ("impossible-effective-date", "demo/badges/reach.yaml", "effective: 2026-01-01", "effective: 2026-02-30",
     ["demo/badges/reach.yaml:6:12: BD305 '2026-02-30' is not a real date"]),
    ("yaml-syntax", "demo/badges/reach.yaml", "name: Reach", "name: [Reach",
     ["demo/badges/reach.yaml:4:12: BD002 expected ',' or ']', but got ':'"]),
    ("python-tag", "demo/badges/reach.yaml", "name: Reach", "name: !!python/object/apply:os.system [ls]",
     ["demo/badges/reach.yaml:3:7: BD004 tag '!!python/object/apply:os.system' is not allowed; write plain data"]),
    ("alias", "demo/badges/reach.yaml", "owner: tests", "owner: *someone",
     ["demo/badges/reach.yaml:7:8: BD009 alias '*someone' is not allowed; write the value out in full"]),
]


def _broken_copy(tmp_path: Path, rel: str, old: str, new: str) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(MINI_KB, root)
    target = root / rel
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the fixture changed: {old!r} no longer occurs once in {rel}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return root


@pytest.mark.parametrize("rel, old, new, expected", [c[1:] for c in KB_CASES], ids=[c[0] for c in KB_CASES])
def test_broken_knowledge_base(cli, tmp_path, rel, old, new, expected):
    root = _broken_copy(tmp_path, rel, old, new)
    _expect_check_fails(cli("check", root), [f"{root}/" + line.format(root=root) for line in expected])


def test_broken_knowledge_base_refuses_evaluation(cli, tmp_path):
    root = _broken_copy(tmp_path, "demo/badges/focus.yaml", "at_least: 2", "at_least: 4")
    facts = tmp_path / "f.yaml"
    facts.write_text(GOOD)
    _expect_invalid(cli("evaluate", facts, "--kb", root), [
        f"{root}/demo/badges/focus.yaml:21:17: BD208 at_least 4 of 3 condition(s) can never hold; "
        "use a number from 1 to 3"])


def test_missing_citation_is_a_warning(cli, tmp_path):
    root = _broken_copy(tmp_path, "demo/badges/reach.yaml",
                        "cite: {source: test-source, section: Four}\n  any:", "any:")
    result = cli("check", root)
    assert result.status == 0
    assert result.err.splitlines() == [f"{root}/demo/badges/reach.yaml:10:7: BD251 node 're-root' has no "
                                       "citation ('cite')"]
    assert result.out.endswith("1 warning(s)\n")


def test_missing_knowledge_base_folder(cli, tmp_path):
    _expect_check_fails(cli("check", tmp_path / "nope"), [f"{tmp_path / 'nope'}:0:0: BD001 knowledge base folder not found"])


def test_one_problem_in_a_derived_conclusion_is_reported_once(cli, tmp_path):
    root = _broken_copy(tmp_path, "demo/derived/poverty-focus.yaml", "value: 0.5", "value: 50")
    _expect_check_fails(cli("check", root), [
        f"{root}/demo/derived/poverty-focus.yaml:23:14: BD211 50 is outside the range of 'share_poor' [0, 1] "
        "(percentages are shares: write 0.45 for 45%)"])


@pytest.mark.parametrize("value", [".inf", ".nan", pytest.param("1" + "0" * 400, id="huge")])
def test_threshold_durable_rules_cannot_compare_is_refused(cli, tmp_path, value):
    root = _broken_copy(tmp_path, "demo/badges/reach.yaml", "value: 500", f"value: {value}")
    result = cli("check", root)
    assert result.status == 1 and "Traceback" not in result.err
    assert " BD205 " in result.err or " BD211 " in result.err


# -- rule tests stored beside a pack -----------------------------------------------------------------

def test_malformed_rule_tests(cli, tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(MINI_KB, root)
    (root / "demo" / "tests").mkdir()
    tests = root / "demo" / "tests" / "t.yaml"
    tests.write_text(
        "tests:\n"
        "  - {id: t-unknown, conclusion: fokus, facts: {}, expect: granted}\n"
        "  - {id: t-expect, conclusion: focus, facts: {}, expect: holds}\n"
        "  - {id: t-node, conclusion: focus, facts: {}, expect: undetermined, deciding: [fo-rot]}\n"
        "  - {id: t-fact, conclusion: poverty-focus, facts: {share_poor: 1.5}, expect: undetermined}\n"
        "  - {id: t-twice, conclusion: poverty-focus, facts: {}, expect: undetermined}\n"
        "  - {id: t-twice, conclusion: poverty-focus, facts: {}, expect: undetermined}\n")
    _expect_invalid(cli("test", root), [
        f"{tests}:2:33: BD401 unknown conclusion 'fokus' (did you mean 'focus'?)",
        f"{tests}:3:58: BD402 a badge conclusion's outcome is one of: granted, not_granted, undetermined",
        f"{tests}:4:81: BD401 unknown node 'fo-rot' (did you mean 'fo-root'?)",
        f"{tests}:5:65: BD303 'share_poor' is 1.5, outside [0, 1]; percentages are shares from 0 to 1 "
        "(write 0.45 for 45%)",
        f"{tests}:7:5: BD203 rule test id 't-twice' is also used at {tests}:6:5",
    ])


def test_failing_rule_test_exits_1_with_the_reason(cli, tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(MINI_KB, root)
    (root / "demo" / "tests").mkdir()
    tests = root / "demo" / "tests" / "t.yaml"
    tests.write_text("tests:\n  - {id: t-wrong, conclusion: reach, facts: {clients: 500}, expect: not_granted}\n")
    result = cli("test", root)
    assert result.status == 1
    assert result.out.splitlines()[0] == f"{tests}:2:5: FAIL t-wrong: reach expected not_granted, got granted"
    assert result.out.splitlines()[-1] == "0 passed, 1 failed"


# -- the bundled data ------------------------------------------------------------------------------

def test_bundled_kb_and_example_partners_are_valid(cli):
    check = cli("check", BUNDLED_KB)
    assert check.status == 0, check.err
    evaluate = cli("evaluate", EXAMPLES, "--format", "csv")
    assert (evaluate.status, evaluate.err) == (0, "")
