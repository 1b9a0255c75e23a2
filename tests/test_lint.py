"""Static analysis (engine/lint.py): what each kind of rule means, not just whether it parses.

Each case writes one extra badge into a copy of the fixture knowledge base and checks the
codes the analysis reports (and the words that tell an author where to look).
"""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from engine.kb_loader import load_knowledge_base
from engine.lint import lint

BASE = Path(__file__).parent / "fixtures" / "diagnostics" / "_base" / "kb"

HEADER = """\
id: extra
kind: badge
name: Extra
description: A badge written by the test.
version: 1.0.0
effective: 2026-01-01
owner: Tests
cite: {source: src, section: Three}
condition:
"""


def leaf(node_id: str, fact: str, op: str, value: str) -> str:
    return (f"- id: {node_id}\n  description: {node_id}.\n  cite: {{source: src, section: Three}}\n"
            f"  fact: {fact}\n  op: {op}\n  {value}\n")


def group(node_id: str, kind: str, children: list[str], extra: str = "") -> str:
    body = "".join(textwrap.indent(child, "  ") for child in children)
    return (f"id: {node_id}\ndescription: {node_id}.\ncite: {{source: src, section: Three}}\n{extra}"
            f"{kind}:\n{body}")


def kb_with(tmp_path: Path, condition: str, *, files: dict[str, str] | None = None):
    root = tmp_path / "kb"
    shutil.copytree(BASE, root)
    (root / "p" / "badges" / "extra.yaml").write_text(HEADER + textwrap.indent(condition, "  "))
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return load_knowledge_base(root)


def codes(kb) -> list[str]:
    return [d.code for d in lint(kb)]


def test_the_fixture_knowledge_base_is_clean():
    assert lint(load_knowledge_base(BASE)) == []


CASES = [
    # (name, condition tree, expected codes, words the first message must contain)
    ("interval contradiction under all",
     group("x-root", "all", [leaf("x-hi", "share_women", "at_least", "value: 0.6"),
                             leaf("x-lo", "share_women", "less_than", "value: 0.5")]),
     ["BD222", "BD220"], ["'share_women at_least 0.6' at line", "'share_women less_than 0.5' at line",
                          "under the same 'all'"]),
    ("touching bounds are satisfiable",
     group("x-root", "all", [leaf("x-hi", "share_women", "at_least", "value: 0.5"),
                             leaf("x-lo", "share_women", "at_most", "value: 0.5")]),
     [], []),
    ("open touching bounds are not",
     group("x-root", "all", [leaf("x-hi", "share_women", "more_than", "value: 0.5"),
                             leaf("x-lo", "share_women", "at_most", "value: 0.5")]),
     ["BD222", "BD220"], ["x-root"]),
    ("integers between 3 and 4 exclusive do not exist",
     group("x-root", "all", [leaf("x-hi", "clients", "more_than", "value: 3"),
                             leaf("x-lo", "clients", "less_than", "value: 4")]),
     ["BD222", "BD220"], ["clients more_than 3"]),
    ("equals and not_equals the same number",
     group("x-root", "all", [leaf("x-a", "clients", "equals", "value: 7"),
                             leaf("x-b", "clients", "not_equals", "value: 7")]),
     ["BD222", "BD220"], []),
    ("dates: after 2020 and before 2019",
     group("x-root", "all", [leaf("x-a", "founded", "more_than", "value: 2020-01-01"),
                             leaf("x-b", "founded", "less_than", "value: 2019-01-01")]),
     ["BD222", "BD220"], ["founded more_than 2020-01-01"]),
    ("is true and is false",
     group("x-root", "all", [leaf("x-a", "uses_tool", "is", "value: true"),
                             leaf("x-b", "uses_tool", "is", "value: false")]),
     ["BD222", "BD220"], ["uses_tool is true", "uses_tool is false"]),
    ("enum is ppi and one_of [mpi, none]",
     group("x-root", "all", [leaf("x-a", "tool", "is", "value: ppi"),
                             leaf("x-b", "tool", "one_of", "value: [mpi, none]")]),
     ["BD222", "BD220"], []),
    ("enum_list includes and excludes the same value",
     group("x-root", "all", [leaf("x-a", "groups", "includes", "value: youth"),
                             leaf("x-b", "groups", "includes_none", "value: [youth, women]")]),
     ["BD222", "BD220"], []),
    ("enum_list includes_any and excludes one of them is fine",
     group("x-root", "all", [leaf("x-a", "groups", "includes_any", "value: [youth, women]"),
                             leaf("x-b", "groups", "excludes", "value: youth")]),
     [], []),
    ("fact against fact: less and more at once",
     group("x-root", "all", [leaf("x-a", "loan_size", "less_than", "other_fact: income"),
                             leaf("x-b", "income", "less_than", "other_fact: loan_size")]),
     ["BD222", "BD220"], []),
    ("a fact less than itself",
     leaf("x-root", "loan_size", "less_than", "other_fact: loan_size")[2:].replace("\n  ", "\n"),
     ["BD222", "BD220"], ["'loan_size less_than loan_size' is false for every value"]),
    ("a percentage below zero on its own",
     leaf("x-root", "share_women", "less_than", "value: 0")[2:].replace("\n  ", "\n"),
     ["BD222", "BD220"], ["false for every value share_women can take", "percentage from 0 to 1"]),
    ("one_of every value always holds",
     leaf("x-root", "tool", "one_of", "value: [ppi, mpi, none]")[2:].replace("\n  ", "\n"),
     ["BD221"], ["always holds whenever tool is known"]),
    ("a percentage at most 1 always holds",
     leaf("x-root", "share_women", "at_most", "value: 1")[2:].replace("\n  ", "\n"),
     ["BD221"], []),
    ("any of x < 0.5 or x >= 0.5 always holds",
     group("x-root", "any", [leaf("x-a", "share_women", "less_than", "value: 0.5"),
                             leaf("x-b", "share_women", "at_least", "value: 0.5")]),
     ["BD221"], ["'share_women less_than 0.5' at line", "or 'share_women at_least 0.5'"]),
    ("not of a tautology can never hold",
     group("x-root", "all", [leaf("x-a", "share_women", "at_least", "value: 0.3"),
                             "- id: x-not\n  description: n.\n  cite: {source: src, section: Three}\n  not:\n"
                             + textwrap.indent(leaf("x-b", "tool", "one_of", "value: [ppi, mpi, none]")[2:]
                                               .replace("\n  ", "\n"), "    ")]),
     ["BD222", "BD220", "BD221"], []),
    ("at_least 2 of three where two can never hold",
     group("x-root", "of", [leaf("x-a", "share_women", "at_least", "value: 0.3"),
                            leaf("x-b", "share_women", "less_than", "value: 0"),
                            leaf("x-c", "clients", "less_than", "value: 0")], extra="at_least: 2\n"),
     ["BD222", "BD220", "BD220", "BD220"], ["condition 'x-root' can never hold", "only 1 can ever hold (x-a)"]),
]


@pytest.mark.parametrize("name, condition, expected, words", CASES, ids=[c[0] for c in CASES])
def test_reasoning_about_conditions(tmp_path, name, condition, expected, words):
    found = lint(kb_with(tmp_path, condition))
    assert [d.code for d in found] == expected, [d.format() for d in found]
    for word in words:
        assert word in found[0].message, found[0].message


def test_a_derived_conclusion_that_never_holds_stops_the_rules_that_need_it(tmp_path):
    derived = (BASE / "p" / "derived" / "measures.yaml").read_text().replace(
        "op: one_of\n      value: [ppi, mpi]", "op: one_of\n      value: [ppi, mpi]\n    - id: me-never\n"
        "      description: n.\n      cite: {source: src, section: One}\n      fact: uses_tool\n"
        "      op: is\n      value: false")
    kb = kb_with(tmp_path, leaf("x-root", "clients", "at_least", "value: 1")[2:].replace("\n  ", "\n"),
                 files={"p/derived/measures.yaml": derived})
    found = lint(kb)
    assert [(d.code, d.subject) for d in found] == [
        ("BD222", "reach"), ("BD222", "measures"), ("BD220", "me-root")], [d.format() for d in found]
    assert "it needs 'measures' (node 're-measures'), which can never hold" in found[0].message
    assert "can never be granted" in found[0].message


def test_a_contradiction_across_a_derived_conclusion_names_both_files(tmp_path):
    condition = group("x-root", "all", [
        "- id: x-ref\n  description: r.\n  cite: {source: src, section: Three}\n  conclusion: measures\n",
        leaf("x-no-tool", "uses_tool", "is", "value: false")])
    found = lint(kb_with(tmp_path, condition))
    assert [d.code for d in found] == ["BD222", "BD220"]
    assert "'uses_tool is true' at derived/measures.yaml line" in found[0].message


def test_unused_derived_conclusions_facts_and_placeholders(tmp_path):
    lonely = (BASE / "p" / "derived" / "measures.yaml").read_text().replace("id: measures", "id: lonely") \
        .replace("me-", "lo-").replace("description: Uses a recognised poverty tool.", "description: TODO")
    facts = (BASE / "p" / "facts.yaml").read_text() + (
        "  - name: spare\n    type: boolean\n    description: Not used.\n    question: Unused?\n")
    kb = kb_with(tmp_path, leaf("x-root", "clients", "at_least", "value: 1")[2:].replace("\n  ", "\n"),
                 files={"p/derived/lonely.yaml": lonely, "p/facts.yaml": facts})
    found = {(d.code, d.subject) for d in lint(kb)}
    assert found == {("BD252", "lonely"), ("BD253", "spare"), ("BD254", "lonely")}


def test_comparing_facts_in_different_units(tmp_path):
    facts = (BASE / "p" / "facts.yaml").read_text().replace("unit: USD\n    range: [0, null]\n    description: "
                                                              "Income", "unit: KES\n    range: [0, null]\n"
                                                              "    description: Income")
    kb = kb_with(tmp_path, leaf("x-root", "clients", "at_least", "value: 1")[2:].replace("\n  ", "\n"),
                 files={"p/facts.yaml": facts})
    [finding] = lint(kb)
    assert finding.code == "BD230" and "loan_size (USD) with income (KES)" in finding.message


LEVELS = """\
id: grade
kind: level
name: Grade
description: A graded conclusion written by the test.
version: 1.0.0
effective: 2026-01-01
owner: Tests
cite: {source: src, section: Four}
levels:
  - outcome: strong
    description: First level.
    cite: {source: src, section: Four}
    condition:
      id: gr-strong
      description: First level's condition.
      cite: {source: src, section: Four}
      fact: clients
      op: FIRST
  - outcome: developing
    description: Second level.
    cite: {source: src, section: Four}
    condition:
      id: gr-developing
      description: Second level's condition.
      cite: {source: src, section: Four}
      fact: clients
      op: at_least
      value: 10
otherwise: weak
"""


@pytest.mark.parametrize("first, expected", [
    ("at_least\n      value: 1000", []),
    # a first level that holds for every known value hides the levels after it
    ("at_least\n      value: 0", [("BD221", "gr-strong"), ("BD222", "grade")]),
    # a level that can never hold can never be the outcome
    ("less_than\n      value: 0", [("BD222", "grade"), ("BD220", "gr-strong")]),
])
def test_levels_that_can_never_be_reached(tmp_path, first, expected):
    root = tmp_path / "kb"
    shutil.copytree(BASE, root)
    (root / "p" / "levels").mkdir()
    (root / "p" / "levels" / "grade.yaml").write_text(LEVELS.replace("FIRST", first))
    found = lint(load_knowledge_base(root))
    assert [(d.code, d.subject) for d in found] == expected, [d.format() for d in found]
    messages = " ".join(d.message for d in found)
    if expected and expected[-1][0] == "BD222":
        assert "level 'developing' of 'grade' can never be reached: level 'strong' before it always holds" in messages
    if expected and expected[0][0] == "BD222":
        assert "level 'strong' of 'grade' can never be reached: condition 'gr-strong' can never hold" in messages


# -- badges check: the command around the analysis ---------------------------------------------------
def kb_with_two_warnings(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(BASE, root)
    with open(root / "p" / "facts.yaml", "a") as out:
        out.write("  - name: spare_a\n    type: boolean\n    description: Unused.\n    question: A?\n"
                  "  - name: spare_b\n    type: boolean\n    description: Unused.\n    question: B?\n")
    return root


def test_warnings_pass_unless_strict(cli, tmp_path):
    root = kb_with_two_warnings(tmp_path)
    relaxed = cli("check", root)
    assert relaxed.status == 0 and relaxed.out.endswith("2 warning(s)\n")
    assert [line.split(": ")[1].split()[0] for line in relaxed.err.splitlines()] == ["BD253", "BD253"]
    strict = cli("check", root, "--strict")
    assert strict.status == 1
    assert strict.out == f"{root}: FAILED: 0 error(s), 2 warning(s) (--strict: warnings count as errors)\n"


def test_max_errors_caps_the_list_and_says_how_many_more(cli, tmp_path):
    result = cli("check", kb_with_two_warnings(tmp_path), "--max-errors", "1")
    lines = result.err.splitlines()
    assert len(lines) == 2 and "BD253 fact 'spare_a'" in lines[0]
    assert lines[1] == "... and 1 more (--max-errors 0 shows all)"
    assert cli("check", BASE, "--max-errors", "-1").status == 2


def test_json_lists_every_diagnostic_sorted(cli, tmp_path):
    import json

    root = kb_with_two_warnings(tmp_path)
    (root / "p" / "badges" / "extra.yaml").write_text(HEADER + "  " + leaf(
        "x-root", "share_women", "at_least", "value: 45")[2:].replace("\n  ", "\n  "))
    result = cli("check", root, "--format", "json")
    data = json.loads(result.out)
    assert result.status == 1 and result.err == ""
    assert (data["ok"], data["errors"], data["warnings"]) == (False, 1, 0)  # the loader stops before lint
    assert [d["code"] for d in data["diagnostics"]] == ["BD211"]
    assert data["diagnostics"][0]["line"] == 15 and "write 0.45 for 45%" in data["diagnostics"][0]["message"]


def test_a_knowledge_base_that_does_not_load_says_the_deeper_checks_wait(cli, tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(BASE, root)
    (root / "p" / "badges" / "extra.yaml").write_text(HEADER + "  " + leaf(
        "x-root", "share_womn", "at_least", "value: 0.5")[2:].replace("\n  ", "\n  "))
    result = cli("check", root)
    assert result.status == 1
    assert result.err.splitlines()[-1] == \
        "badges check: the knowledge base did not load; fix these first, then the deeper checks run"
    assert "(did you mean 'share_women'?)" in result.err


def test_two_packs_for_one_entity_kind_cannot_share_a_conclusion_id(tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(BASE, root)
    (root / "kb.yaml").write_text((root / "kb.yaml").read_text().replace("packs: [p]", "packs: [p, q]"))
    (root / "q" / "derived").mkdir(parents=True)
    (root / "q" / "pack.yaml").write_text("id: q\nname: Second pack\nentity: partner\nversion: 1.0.0\n")
    (root / "q" / "facts.yaml").write_text((root / "p" / "facts.yaml").read_text())
    (root / "q" / "derived" / "measures.yaml").write_text(
        (root / "p" / "derived" / "measures.yaml").read_text().replace("me-", "mq-"))
    duplicates = [d for d in lint(load_knowledge_base(root)) if d.code == "BD203"]
    assert [d.format().split("/kb/")[1] for d in duplicates] == [
        "q/derived/measures.yaml:1:1: BD203 conclusion 'measures' is also defined by pack 'p' "
        "(p/derived/measures.yaml) for the same kind of entity; rename one of them"]
