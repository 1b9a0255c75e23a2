"""``badges verify``: the chain check (tampering, each with its line) and re-evaluation of every record."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import MINI_KB
from .test_decision_log import pinned_clock, write_partners  # noqa: F401 - the fixture pins BADGES_NOW

GIT = ("git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false")


@pytest.fixture
def kb_copy(tmp_path):
    """A copy of the mini knowledge base outside any git work tree."""
    return Path(shutil.copytree(MINI_KB, tmp_path / "kb"))


@pytest.fixture
def logged(cli, tmp_path, kb_copy):
    """A log of four decisions (alpha and beta × focus and reach) made with ``kb_copy``."""
    log = tmp_path / "decisions.jsonl"
    run = cli("evaluate", write_partners(tmp_path / "partners"), "--kb", kb_copy, "--log", log)
    assert run.status == 0, run.err
    return log


def lines_of(log: Path) -> list[bytes]:
    return log.read_bytes().splitlines(keepends=True)


def edit_share(line: bytes) -> bytes:
    record = json.loads(line)
    record["facts"]["share_poor"]["value"] = 0.1
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def test_an_untouched_log_reproduces(cli, logged, kb_copy):
    run = cli("verify", logged, "--kb", kb_copy)
    assert run.status == 0, run.out + run.err
    head = json.loads(lines_of(logged)[-1])["hash"]
    assert run.out.splitlines()[0] == f"{logged}: 4 record(s), chain intact, last hash {head}"
    assert f"{logged}:1: reproduced     alpha · focus: granted [rule base: --kb {kb_copy}]" in run.out
    assert f"{logged}:3: reproduced     beta · focus: undetermined" in run.out
    assert run.out.endswith("OK: 4 decision(s): 4 reproduced, 0 differs, 0 cannot verify; chain intact\n")


def test_the_rule_base_is_found_by_its_recorded_folder_when_unchanged(cli, logged, kb_copy):
    run = cli("verify", logged)
    assert run.status == 0, run.out
    assert f"[rule base: folder {kb_copy}]" in run.out


# Each way of tampering, with the problem and the line verify must name.
TAMPERING = {
    "edited value": (lambda ls: ls[:1] + [edit_share(ls[1])] + ls[2:], "BD603", 2,
                     "record edited: its content does not match its hash"),
    "re-spaced line": (lambda ls: ls[:1] + [ls[1].replace(b'{"', b'{ "', 1)] + ls[2:], "BD603", 2,
                       "record edited: the line is not in the form the log writes"),
    "deleted line": (lambda ls: ls[:1] + ls[2:], "BD604", 2, "broken link: the record before this one is missing"),
    "deleted first line": (lambda ls: ls[1:], "BD604", 1, "records deleted"),
    "swapped lines": (lambda ls: ls[:1] + [ls[2], ls[1]] + ls[3:], "BD605", 2,
                      "out of order: in the chain it follows line 3, which comes after it"),
    "truncated last line": (lambda ls: ls[:3] + [ls[3][:200]], "BD606", 4, "truncated record"),
    "garbage line": (lambda ls: ls[:2] + [b"{oops\n"] + ls[3:], "BD602", 3, "not a decision record"),
    "blank line": (lambda ls: ls[:2] + [b"\n"] + ls[2:], "BD602", 3, "empty line"),
}


@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_is_found_with_its_line(cli, logged, kb_copy, name):
    change, code, line, words = TAMPERING[name]
    logged.write_bytes(b"".join(change(lines_of(logged))))
    run = cli("verify", logged, "--kb", kb_copy)
    assert run.status == 1
    problems = run.err.splitlines()
    assert problems and problems[0].startswith(f"{logged}:{line}:1: {code} "), run.err
    assert words in problems[0]
    assert "chain BROKEN" in run.out.splitlines()[0] and run.out.rstrip().endswith("chain broken")


def test_an_edited_fact_also_shows_how_the_decision_differs(cli, logged, kb_copy):
    lines = lines_of(logged)
    logged.write_bytes(edit_share(lines[0]) + b"".join(lines[1:]))
    run = cli("verify", logged, "--kb", kb_copy)
    assert run.err == f"{logged}:1:1: BD603 record edited: its content does not match its hash\n"
    # re-evaluated from the edited facts (share 0.1), against the trail that was recorded (0.6)
    assert f"{logged}:1: differs        alpha · focus: granted → not_granted" in run.out
    assert "    node pf-share: fact value 0.6 → 0.1" in run.out
    assert "    node pf-share: value true → false" in run.out


def test_a_changed_rule_base_makes_a_record_differ_with_the_trail_difference(cli, logged, kb_copy):
    rule = kb_copy / "demo" / "derived" / "poverty-focus.yaml"
    rule.write_text(rule.read_text().replace("value: 0.5", "value: 0.7"))
    run = cli("verify", logged, "--kb", kb_copy)
    assert run.status == 1
    out = run.out.splitlines()
    at = out.index(next(ln for ln in out if ln.startswith(f"{logged}:1: ")))
    assert out[at].startswith(f"{logged}:1: differs") and "alpha · focus: granted → not_granted" in out[at]
    details = out[at + 1:out.index(next(ln for ln in out if ln.startswith(f"{logged}:2: ")))]
    assert details[:3] == ["    outcome granted → not_granted", "    node fo-root: value true → false",
                           "    node fo-focus: value true → false"]
    assert "    conclusion poverty-focus: outcome holds → does_not_hold" in details
    assert "    node pf-share: value true → false" in details
    assert "    node pf-share: threshold 0.5 → 0.7" in details
    assert "    node fo-outreach: value true → false" not in details  # unchanged nodes are not listed
    assert any(d.startswith("    note: evaluated with a different rule base") for d in out[at + 1:])
    assert f"{logged}:2: reproduced     alpha · reach" in run.out  # reach does not read that rule


def test_a_rule_base_found_nowhere_cannot_verify_and_says_why(cli, logged, kb_copy):
    (kb_copy / "demo" / "badges" / "reach.yaml").write_text(
        (kb_copy / "demo" / "badges" / "reach.yaml").read_text().replace("Exactly 500", "Exactly five hundred"))
    run = cli("verify", logged, "--format", "json")
    assert run.status == 1
    data = json.loads(run.out)
    assert data["ok"] is False and data["chain"]["intact"] is True
    assert data["summary"] == {"reproduced": 0, "differs": 0, "cannot verify": 4}
    why = data["records"][0]["why"]
    assert why.startswith("rule base unavailable: the bundled rule base now has sha256")
    assert f"the folder {kb_copy} now has sha256" in why
    assert "git: the knowledge base was not in a git work tree when the decision was made" in why


def test_json_report(cli, logged, kb_copy):
    run = cli("verify", logged, "--kb", kb_copy, "--format", "json")
    data = json.loads(run.out)
    assert run.status == 0 and data["ok"] is True
    first = data["records"][0]
    assert {k: first[k] for k in ("line", "conclusion", "recorded_outcome", "status", "outcome")} == {
        "line": 1, "conclusion": "focus", "recorded_outcome": "granted", "status": "reproduced",
        "outcome": "granted"}
    assert first["entity"] == {"kind": "partner", "id": "alpha", "name": "Alpha <Lenders> “Ñ”"}
    assert data["chain"] == {"intact": True, "records": 4, "head": json.loads(lines_of(logged)[-1])["hash"],
                             "problems": []}


def test_facts_that_no_longer_fit_the_rule_base_cannot_verify(cli, logged):
    run = cli("verify", logged, "--kb", MINI_KB.parent.parent.parent / "knowledge_base")
    assert run.status == 1
    assert f"{logged}:1: cannot verify  alpha · focus: the rule base has no conclusion 'focus'" in run.out


def test_missing_log_is_an_input_error(cli, tmp_path):
    run = cli("verify", tmp_path / "nope.jsonl")
    assert run.status == 1 and run.out == ""
    assert run.err == f"{tmp_path / 'nope.jsonl'}:0:0: BD601 cannot read the decision log: No such file or directory\n"


def test_empty_log_verifies(cli, tmp_path):
    log = tmp_path / "empty.jsonl"
    log.write_bytes(b"")
    run = cli("verify", log)
    assert run.status == 0
    assert run.out.endswith("OK: 0 decision(s): 0 reproduced, 0 differs, 0 cannot verify; chain intact\n")


# -- rule bases rebuilt from git history ------------------------------------------------------

def git(repo: Path, *args: str) -> str:
    return subprocess.run((*GIT, *args), cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo_kb(tmp_path):
    """The mini knowledge base committed in a fresh git repository (as ``rules/``)."""
    repo = tmp_path / "repo"
    shutil.copytree(MINI_KB, repo / "rules")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "rules v1")
    return repo / "rules"


def change_threshold_and_commit(kb: Path) -> None:
    rule = kb / "demo" / "derived" / "poverty-focus.yaml"
    rule.write_text(rule.read_text().replace("value: 0.5", "value: 0.7"))
    git(kb.parent, "commit", "-q", "-am", "rules v2")


def test_records_name_each_rule_file_revision(cli, tmp_path, repo_kb):
    log = tmp_path / "decisions.jsonl"
    cli("evaluate", write_partners(tmp_path / "partners"), "--kb", repo_kb, "--log", log)
    identity = json.loads(lines_of(log)[0])["knowledge_base"]
    head = git(repo_kb.parent, "rev-parse", "HEAD").strip()
    assert identity["git"] == {"head": head, "prefix": "rules/"}
    assert {(f["revision"], f["dirty"]) for f in identity["files"]} == {(head, False)}


def test_a_rule_base_changed_since_is_rebuilt_from_git(cli, tmp_path, repo_kb, monkeypatch):
    log = tmp_path / "decisions.jsonl"
    cli("evaluate", write_partners(tmp_path / "partners"), "--kb", repo_kb, "--log", log)
    first = git(repo_kb.parent, "rev-parse", "HEAD").strip()
    change_threshold_and_commit(repo_kb)
    run = cli("verify", log)
    assert run.status == 0, run.out
    assert f"{log}:1: reproduced     alpha · focus: granted [rule base: git {first[:12]}]" in run.out
    # moved elsewhere: the repository is found from the current directory
    moved = shutil.move(str(repo_kb.parent), str(tmp_path / "moved"))
    monkeypatch.chdir(moved)
    run = cli("verify", log)
    assert run.status == 0, run.out
    assert f"[rule base: git {first[:12]}]" in run.out


def test_uncommitted_rule_changes_cannot_be_rebuilt(cli, tmp_path, repo_kb):
    rule = repo_kb / "demo" / "badges" / "reach.yaml"
    rule.write_text(rule.read_text().replace("Exactly 500", "Exactly five hundred"))
    log = tmp_path / "decisions.jsonl"
    cli("evaluate", write_partners(tmp_path / "partners"), "--kb", repo_kb, "--log", log)
    files = {f["path"]: f for f in json.loads(lines_of(log)[0])["knowledge_base"]["files"]}
    assert files["demo/badges/reach.yaml"]["dirty"] is True and files["kb.yaml"]["dirty"] is False
    change_threshold_and_commit(repo_kb)
    run = cli("verify", log)
    assert run.status == 1
    assert ("git: demo/badges/reach.yaml had uncommitted changes when the decision was made, "
            "so git does not hold the content that was used") in run.out


def test_a_forged_record_cannot_steer_git_or_the_file_system(cli, tmp_path, repo_kb):
    """A record re-hashed by a forger, naming a path outside the rule base and an option for a revision."""
    from engine.decision_log import GENESIS, canonical, record_hash

    log = tmp_path / "decisions.jsonl"
    cli("evaluate", write_partners(tmp_path / "partners") / "alpha.yaml", "--kb", repo_kb, "--log", log)
    record = json.loads(lines_of(log)[0])
    record["knowledge_base"]["files"][0]["path"] = "../../escaped.yaml"
    record["knowledge_base"]["files"][1]["revision"] = "--output=" + str(tmp_path / "written")
    record["prev"] = GENESIS
    record["hash"] = record_hash(record)
    log.write_text(canonical(record) + "\n")
    run = cli("verify", log)
    assert run.status == 1
    assert run.err.startswith(f"{log}:1:1: BD602 not a decision record: knowledge_base/files/")
    assert run.out.splitlines()[0].startswith(f"{log}: 0 record(s), chain BROKEN (1 problem(s))")
    assert not (tmp_path / "written").exists() and not (tmp_path.parent / "escaped.yaml").exists()



def test_rebuilding_never_writes_outside_its_folder(tmp_path, repo_kb):
    from engine.kb_identity import Unavailable, rebuild_from_git

    head = git(repo_kb.parent, "rev-parse", "HEAD").strip()
    identity = {"git": {"head": head, "prefix": "rules/"},
                "files": [{"path": "../kb.yaml", "sha256": "0" * 64, "revision": head, "dirty": False}]}
    with pytest.raises(Unavailable, match=r"\.\./kb\.yaml is not a path inside the knowledge base"):
        rebuild_from_git(identity, tmp_path / "into", [repo_kb])
    assert not (tmp_path / "kb.yaml").exists()


def test_an_engine_failure_on_one_record_is_reported_not_fatal(cli, logged, kb_copy, monkeypatch):
    from engine.durable_backend import DurableRulesError
    from engine.inference import Engine

    evaluate = Engine.evaluate

    def fail_for_beta(self, entity):
        if entity.id == "beta":
            raise DurableRulesError("Could not assert fact, error code: 303")
        return evaluate(self, entity)

    monkeypatch.setattr(Engine, "evaluate", fail_for_beta)
    run = cli("verify", logged, "--kb", kb_copy)
    assert run.status == 1
    assert f"{logged}:1: reproduced     alpha · focus: granted" in run.out
    assert (f"{logged}:3: cannot verify  beta · focus: the engine failed on this record "
            "(DurableRulesError: Could not assert fact, error code: 303)") in run.out
