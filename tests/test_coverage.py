"""`badges test`: failures side by side, and --coverage per condition node (text and JSON)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

BASE = Path(__file__).parent / "fixtures" / "diagnostics" / "_base" / "kb"

WRONG_TEST = """\
  - id: reach-wrong
    description: Expects the badge, but women are 30% and the partner is small.
    conclusion: reach
    facts: {uses_tool: true, tool: ppi, share_women: 0.3, clients: 50}
    expect: granted
    deciding: [re-youth, me-real]
"""

UNTESTED_BADGE = (BASE / "p" / "badges" / "reach.yaml").read_text().split("condition:")[0].replace(
    "id: reach", "id: lonely") + """condition:
  id: lo-root
  description: Founded before 2000.
  cite: {source: src, section: Two}
  fact: founded
  op: less_than
  value: 2000-01-01
"""


@pytest.fixture
def kb(tmp_path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(BASE, root)
    return root


def test_passing_suite_exits_0_and_counts(cli):
    result = cli("test", BASE)
    assert (result.status, result.out, result.err) == (0, "2 passed, 0 failed\n", "")


def test_a_failure_shows_expected_and_actual_trails_side_by_side(cli, kb):
    with open(kb / "p" / "tests" / "reach.yaml", "a") as out:
        out.write(WRONG_TEST)
    result = cli("test", kb)
    assert result.status == 1
    lines = result.out.splitlines()
    assert lines[0].endswith("reach.yaml:14:5: FAIL reach-wrong: reach expected granted, got not_granted")
    assert lines[1] == "    not among the deciding conditions: re-youth, me-real"
    assert lines[2].split() == ["expected", "│", "actual"]
    assert lines[3].split() == ["reach:", "granted", "≠", "reach:", "not_granted"]
    rows = {line.split()[0]: line for line in lines[4:] if line.strip()}
    # the nodes the test wanted deciding are flagged, the ones that decided are marked
    assert re.search(r"\(must decide\) +≠ +\? re-youth  groups = unknown", rows["re-youth"])
    assert re.search(r"\(must decide\) +≠ +✔ me-real", rows["me-real"])
    assert rows["re-size"].endswith("✘ re-size  clients = 50 (needs > 100)  ◂ decides")
    assert "│" in rows["re-women"] and "◂ decides" not in rows["re-women"]
    # both columns line up: the separator is in the same column on every row
    table = [line for line in lines[2:] if line.strip() and not line.startswith("2 passed")]
    assert len({line.index("│") if "│" in line else line.index("≠") for line in table}) == 1
    assert lines[-1] == "2 passed, 1 failed"


def test_coverage_counts_each_value_per_node(cli):
    result = cli("test", BASE, "--coverage")
    assert result.status == 0
    rows = {line.split()[0]: line.split()[1:] for line in result.out.splitlines()
            if line.startswith("  ") and line.split()[0] not in ("node",)}
    # two tests: one grants (everything true), one has no tool (uses false, the rest unknown)
    assert rows["me-uses"] == ["1", "1", "0", "never", "unknown"]
    assert rows["me-real"] == ["1", "0", "1", "never", "false"]
    assert rows["re-youth"] == ["0", "1", "1", "never", "true"]
    assert "12 condition nodes: 0 driven true, false and unknown; 12 missing a value; 0 reached by no test" \
        in result.out


def test_coverage_lists_the_nodes_no_test_reaches(cli, kb):
    (kb / "p" / "badges" / "lonely.yaml").write_text(UNTESTED_BADGE)
    result = cli("test", kb, "--coverage")
    assert result.status == 0
    [row] = [line.split() for line in result.out.splitlines() if line.startswith("  lo-root ")]
    assert row == ["lo-root", "0", "0", "0", "not", "reached", "by", "any", "test"]
    tail = result.out.split("Not reached by any test:\n")[1].splitlines()
    assert tail == [f"  {kb / 'p' / 'badges' / 'lonely.yaml'}:10:3: lo-root (lonely)"]


def test_coverage_as_json(cli, kb):
    (kb / "p" / "badges" / "lonely.yaml").write_text(UNTESTED_BADGE)
    data = json.loads(cli("test", kb, "--coverage", "--format", "json").out)
    assert (data["passed"], data["failed"]) == (2, 0)
    nodes = {n["id"]: n for n in data["coverage"]["nodes"]}
    assert nodes["lo-root"] == {"id": "lo-root", "conclusion": "lonely", "path": "p/badges/lonely.yaml",
                                "line": 10, "true": 0, "false": 0, "unknown": 0, "reached": False}
    assert (nodes["re-youth"]["true"], nodes["re-youth"]["false"], nodes["re-youth"]["unknown"]) == (0, 1, 1)
    assert data["coverage"]["summary"] == {"nodes": 13, "complete": 0, "reached": 12}
    assert data["tests"][0] == {"id": "reach-granted", "conclusion": "reach", "expect": "granted",
                                "outcome": "granted", "passed": True, "missing_deciding": [],
                                "path": "p/tests/reach.yaml", "line": 2}


def test_json_without_coverage_has_no_coverage_key_and_fails_with_a_failing_test(cli, kb):
    with open(kb / "p" / "tests" / "reach.yaml", "a") as out:
        out.write(WRONG_TEST)
    result = cli("test", kb, "--format", "json")
    data = json.loads(result.out)
    assert result.status == 1 and "coverage" not in data
    assert data["tests"][2]["missing_deciding"] == ["re-youth", "me-real"]
    assert data["tests"][2]["trail"]["outcome"] == "not_granted" and "trail" not in data["tests"][0]


def test_the_bundled_rule_tests_reach_every_badge(cli):
    data = json.loads(cli("test", "--coverage", "--format", "json").out)
    reached = {n["conclusion"] for n in data["coverage"]["nodes"] if n["reached"]}
    for badge in ("anti-poverty-focus", "client-voice", "vulnerable-group-focus", "innovation",
                  "family-and-community-empowerment", "entrepreneurial-support", "facilitation-of-savings"):
        assert badge in reached


def test_graded_conclusions_show_their_levels_side_by_side_and_in_coverage(cli, tmp_path):
    root = tmp_path / "graded"
    shutil.copytree(Path(__file__).parent / "fixtures" / "graded_kb", root)
    tests = root / "assoc" / "tests" / "area-one.yaml"
    tests.write_text(tests.read_text().replace("expect: strong", "expect: weak", 1))
    result = cli("test", root, "--coverage")
    assert result.status == 1
    rows = result.out.splitlines()
    assert rows[2].split() == ["area-one:", "weak", "≠", "area-one:", "strong"]
    assert re.search(r"level strong: a1-strong  \(must decide\) +│ +✔ a1-strong  level strong: all of 3  ◂ decides",
                     result.out)
    coverage = result.out.split("Coverage:")[1]
    assert "a1-strong " in coverage and "a1-developing " in coverage  # every level's tree is covered
