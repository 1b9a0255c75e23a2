"""The ``badges`` command line: exit codes, exact output, and the JSON contract of issue 2.

Exit status: 0 success (whatever the outcomes), 1 invalid input or rule base, 2 usage error,
3 internal error. Exact outputs are golden files under tests/golden/evaluate/ (regenerate
with ``BADGES_UPDATE_GOLDEN=1 pytest tests/test_cli.py``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import BUNDLED_KB, EXAMPLES, MINI_KB, REPO
from tests.golden import assert_golden

INPUTS = "tests/golden/inputs"  # three partners: granted, not granted, undetermined (mini knowledge base)
MINI = "tests/fixtures/mini_kb"
SEVEN = {"anti-poverty-focus", "vulnerable-group-focus", "client-voice", "family-and-community-empowerment",
         "entrepreneurial-support", "facilitation-of-savings", "innovation"}


@pytest.fixture(autouse=True)
def _from_the_repository(monkeypatch):
    monkeypatch.chdir(REPO)  # relative paths in, relative paths out


def _ok(result) -> str:
    assert (result.status, result.err) == (0, ""), result.err
    return result.out


# -- evaluate -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("table", "txt"), ("json", "json"), ("csv", "csv"), ("md", "md")])
def test_evaluate_output(cli, fmt, ext):
    out = _ok(cli("evaluate", INPUTS, "--kb", MINI, "--format", fmt))
    assert_golden(f"evaluate/mini.{ext}", out)


def test_evaluate_default_format_is_the_table(cli):
    assert _ok(cli("evaluate", INPUTS, "--kb", MINI)) == _ok(cli("evaluate", INPUTS, "--kb", MINI, "--format", "table"))


def test_evaluate_outcomes_of_the_three_inputs(cli):
    rows = _ok(cli("evaluate", INPUTS, "--kb", MINI, "--format", "csv")).splitlines()[1:]
    outcomes = {tuple(row.split(",")[i] for i in (0, 3, 6)) for row in rows}
    assert outcomes == {
        ("granted", "focus", "granted"), ("granted", "reach", "granted"),
        ("not-granted", "focus", "not_granted"), ("not-granted", "reach", "not_granted"),
        ("unknown", "focus", "undetermined"), ("unknown", "reach", "undetermined"),
    }


def test_evaluate_json_contract(cli):
    """The shape later checks rely on (issue 2, 'CLI contract')."""
    data = json.loads(_ok(cli("evaluate", EXAMPLES, "--format", "json")))
    kb = data["knowledge_base"]
    assert {"name", "version", "sha256"} <= set(kb)
    assert re.fullmatch(r"[0-9a-f]{64}", kb["sha256"]) and re.fullmatch(r"\d+\.\d+\.\d+", kb["version"])
    files = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".json"))
    assert sorted(Path(r["entity"]["source"]).name for r in data["results"]) == files
    for result in data["results"]:
        assert {"id", "name", "source"} <= set(result["entity"])
        badges = {d["badge"] for d in result["decisions"] if d["badge"] in SEVEN}
        assert badges == SEVEN, result["entity"]["id"]
        for decision in result["decisions"]:
            assert {"badge", "name", "outcome", "rule", "trail"} <= set(decision)
            if decision["badge"] in SEVEN:
                assert decision["outcome"] in ("granted", "not_granted", "undetermined")
            rule = decision["rule"]
            assert {"id", "version", "file", "line"} <= set(rule) and rule["id"] == decision["badge"]
            lines = (BUNDLED_KB / rule["file"]).read_text(encoding="utf-8").splitlines()
            assert lines[rule["line"] - 1].startswith(f"id: {rule['id']}")
            assert decision["trail"]["outcome"] == decision["outcome"]
            assert decision["trail"]["root"]["id"]


def test_evaluate_several_paths_keep_their_order(cli):
    out = _ok(cli("evaluate", f"{INPUTS}/unknown.json", f"{INPUTS}/granted.yaml", "--kb", MINI, "--format", "csv"))
    assert [row.split(",")[0] for row in out.splitlines()[1:]] == ["unknown", "unknown", "granted", "granted"]


def test_evaluate_bundled_examples_table(cli):
    out = _ok(cli("evaluate", EXAMPLES))
    for name in ("AMK", "CRECER", "Fonkoze", "NWTF", "PRIZMA", "Pro Mujer"):
        assert name in out


# -- why -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["tree", "json", "md"])
@pytest.mark.parametrize("full", [(), ("--full",)])
def test_why_every_format(cli, fmt, full):
    out = _ok(cli("why", f"{INPUTS}/unknown.json", "focus", "--kb", MINI, "--format", fmt, *full))
    assert out.endswith("\n") and "fo-root" in out


def test_why_full_shows_the_conditions_that_did_not_decide(cli):
    short = _ok(cli("why", f"{INPUTS}/granted.yaml", "focus", "--kb", MINI))
    full = _ok(cli("why", f"{INPUTS}/granted.yaml", "focus", "--kb", MINI, "--full"))
    assert "fo-small-loans" not in short and "--full shows them" in short
    assert "fo-small-loans" in full


def test_why_json_names_entity_knowledge_base_and_trail(cli):
    data = json.loads(_ok(cli("why", f"{INPUTS}/not-granted.yaml", "focus", "--kb", MINI, "--format", "json")))
    assert data["entity"]["id"] == "not-granted"
    assert data["entity"]["source"] == f"{INPUTS}/not-granted.yaml"
    assert data["knowledge_base"]["name"] == "Mini knowledge base for engine tests"
    assert (data["trail"]["conclusion"], data["trail"]["outcome"]) == ("focus", "not_granted")
    assert data["trail"]["rule"]["file"] == "demo/badges/focus.yaml"


def test_why_explains_a_derived_conclusion_too(cli):
    out = _ok(cli("why", f"{INPUTS}/granted.yaml", "poverty-focus", "--kb", MINI, "--format", "json"))
    assert json.loads(out)["trail"]["outcome"] == "holds"


def test_why_unknown_badge_is_a_usage_error_with_a_suggestion(cli):
    result = cli("why", f"{INPUTS}/granted.yaml", "focs", "--kb", MINI)
    assert (result.status, result.out) == (2, "")
    assert result.err.splitlines()[-1] == (
        "badges why: error: unknown badge or conclusion for a partner 'focs' (did you mean 'focus'?); "
        "choose from: focus, reach (or one of 2 derived conclusions)")


def test_why_unknown_bundled_badge_suggests_the_right_one(cli):
    result = cli("why", "examples/partners/crecer.yaml", "client-vioce")
    assert (result.status, result.out) == (2, "")
    assert "(did you mean 'client-voice'?)" in result.err


# -- check and test -------------------------------------------------------------------------------

def test_check_clean_knowledge_base(cli):
    result = cli("check", MINI)
    assert (result.status, result.err) == (0, "")
    assert result.out.startswith(f"{MINI}: OK: Mini knowledge base for engine tests v0.1.0")


def test_check_bundled_knowledge_base(cli):
    result = cli("check")
    assert result.status == 0, result.err
    assert ": OK: " in result.out


def test_check_json_format(cli):
    data = json.loads(_ok(cli("check", MINI, "--format", "json")))
    assert data["ok"] is True and data["diagnostics"] == []


def test_rule_tests_pass(cli):
    out = _ok(cli("test"))
    assert re.fullmatch(r"[1-9]\d* passed, 0 failed", out.splitlines()[-1])


# -- usage errors and internal errors ------------------------------------------------------------

@pytest.mark.parametrize("args", [
    (),
    ("frobnicate",),
    ("evaluate",),
    ("evaluate", INPUTS, "--format", "xml"),
    ("why", f"{INPUTS}/granted.yaml"),
    ("why", f"{INPUTS}/granted.yaml", "focus", "--format", "csv"),
    ("evaluate", INPUTS, "--kb"),
    ("check", MINI, "--no-such-option"),
], ids=["no-command", "unknown-command", "no-paths", "bad-format", "no-badge", "why-bad-format", "kb-without-dir",
        "unknown-option"])
def test_usage_errors_exit_2(cli, args):
    result = cli(*args)
    assert (result.status, result.out) == (2, "")
    assert result.err.startswith("usage: badges") and "error:" in result.err


def test_unknown_pack_is_a_usage_error(cli):
    result = cli("evaluate", INPUTS, "--kb", MINI, "--pack", "dem")
    assert (result.status, result.out) == (2, "")
    assert "unknown pack 'dem' (did you mean 'demo'?)" in result.err


@pytest.mark.parametrize("argv", [["--help"], ["-h", "why"], ["--debug", "--help", "evaluate"]])
def test_help_exits_0_and_lists_every_command(cli, argv):
    from engine.cli import COMMANDS

    result = cli(*argv)
    assert result.status == 0 and all(f"    {name} " in result.out for name in COMMANDS)


def test_a_mistyped_command_is_refused_with_every_command_listed(cli):
    from engine.cli import COMMANDS

    result = cli("evaluat", "x.yaml")
    assert result.status == 2 and "invalid choice: 'evaluat'" in result.err
    assert all(f"'{name}'" in result.err for name in COMMANDS)


def test_a_command_s_own_help_shows_its_arguments(cli):
    result = cli("evaluate", "--help")
    assert result.status == 0 and "--jobs" in result.out and "usage: badges evaluate" in result.out


def test_internal_error_is_reported_without_a_traceback(cli, monkeypatch):
    from engine.inference import Engine

    def broken(self, entity):
        raise RuntimeError("simulated defect")

    monkeypatch.setattr(Engine, "evaluate", broken)
    result = cli("evaluate", INPUTS, "--kb", MINI)
    assert (result.status, result.out) == (3, "")
    assert result.err.startswith("badges: internal error: RuntimeError: simulated defect\n")
    assert "Traceback" not in result.err


def test_engine_and_trail_disagreeing_is_an_internal_error(cli, monkeypatch):
    from engine.inference import Engine

    decide = Engine.decide

    def wrong(self, entity):
        outcomes = decide(self, entity)
        outcomes["focus"] = "granted" if outcomes["focus"] != "granted" else "not_granted"
        return outcomes

    monkeypatch.setattr(Engine, "decide", wrong)
    result = cli("evaluate", f"{INPUTS}/unknown.json", "--kb", MINI)
    assert (result.status, result.out) == (3, "")
    assert result.err.startswith("badges: internal error: EngineDisagreement: decision and explanation disagree "
                                 "for 'unknown': focus: durable_rules says granted, the trail says undetermined")


def test_debug_shows_the_traceback(cli, monkeypatch):
    from engine.inference import Engine

    monkeypatch.setattr(Engine, "evaluate", lambda self, entity: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli("--debug", "evaluate", INPUTS, "--kb", MINI)


def test_console_script_runs_outside_the_process():
    """The installed ``badges`` entry point, as a user runs it (exit code and streams)."""
    import shutil
    import subprocess
    import sys

    badges = shutil.which("badges", path=str(Path(sys.executable).parent))
    assert badges, "the badges console script is not installed next to this Python"
    done = subprocess.run([badges, "evaluate", INPUTS, "--kb", MINI, "--format", "csv"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (REPO / "tests/golden/evaluate/mini.csv").read_text(encoding="utf-8")
    bad = subprocess.run([badges, "evaluate", "nope.yaml"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (bad.returncode, bad.stdout, bad.stderr) == (1, "", "nope.yaml:0:0: BD008 no such file or folder\n")


@pytest.mark.parametrize("facts, status", [("made-up-1-progreso-andino.yaml", 0), ("missing.yaml", 1)])
def test_the_installed_command_ends_with_mains_status_and_all_of_its_output(cli, facts, status):
    """``console_main`` (the ``badges`` script) ends through ``leave``: same status, same output."""
    import subprocess
    import sys

    path = EXAMPLES / facts
    done = subprocess.run([sys.executable, "-c", "import sys; from engine.cli import console_main; "
                           "sys.argv[0] = 'badges'; console_main()", "evaluate", str(path), "--format", "csv"],
                          capture_output=True, text=True, cwd=REPO)
    expected = cli("evaluate", path, "--format", "csv")
    assert (done.returncode, done.stdout, done.stderr) == (status, expected.out, expected.err)


@pytest.mark.parametrize("argv", [["why", "examples/partners/crecer.yaml", "client-voice", "--format", "json"],
                                  ["check", "--format", "json"]])
def test_a_command_whose_reader_went_away_ends_quietly(argv):
    """Output built in full and written at the end meets a closed stdout as a stream does: 141, no traceback."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "from engine.cli import console_main; console_main()", *argv]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO) as process:
        process.stdout.close()  # before the command has started: its one write meets a closed pipe
        err = process.stderr.read()
        status = process.wait(timeout=60)
    assert (status, err) == (141, b"")
