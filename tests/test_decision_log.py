"""The decision log: what a record holds, the hash chain, atomic and concurrent appends."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.decision_log import GENESIS, canonical, content_id, read_log, record_hash, sha256_text

from .conftest import MINI_KB, REPO

NOW = "2026-11-25T09:30:00Z"

ALPHA = """\
kind: partner
id: alpha
name: Alpha <Lenders> “Ñ”
facts:
  share_poor: {value: 0.6, source: site_visit, as_of: 2026-03-31, reference: "visit report § 2"}
  uses_tool: true
  tool: ppi
  clients: 1500
  groups: [women, farmers]
  founded: 2010-05-01
  loan_size: 100
  income_per_capita: 2000
"""

BETA = """\
kind: partner
id: beta
name: Beta
facts:
  tool: mpi
"""


def write_partners(folder: Path) -> Path:
    """Two mini-KB partners: alpha is granted 'focus', beta is mostly unknown."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha.yaml").write_text(ALPHA, encoding="utf-8")
    (folder / "beta.yaml").write_text(BETA, encoding="utf-8")
    return folder


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]


@pytest.fixture
def partners(tmp_path):
    return write_partners(tmp_path / "partners")


@pytest.fixture(autouse=True)
def pinned_clock():
    """BADGES_NOW set for the whole test (the cli fixture undoes monkeypatch's changes after each run)."""
    saved = os.environ.get("BADGES_NOW")
    os.environ["BADGES_NOW"] = NOW
    yield
    if saved is None:
        os.environ.pop("BADGES_NOW", None)
    else:
        os.environ["BADGES_NOW"] = saved


def test_one_record_per_reported_decision_holding_what_an_auditor_needs(cli, partners, tmp_path):
    log = tmp_path / "decisions.jsonl"
    run = cli("evaluate", partners, "--kb", MINI_KB, "--log", log)
    assert run.status == 0, run.err
    records = log_lines(log)
    assert [(r["entity"]["id"], r["conclusion"]["id"]) for r in records] == [
        ("alpha", "focus"), ("alpha", "reach"), ("beta", "focus"), ("beta", "reach")]
    focus = records[0]
    assert focus["timestamp"] == "2026-11-25T09:30:00.000Z"
    assert focus["entity"] == {"kind": "partner", "id": "alpha", "name": "Alpha <Lenders> “Ñ”",
                               "source": str(partners / "alpha.yaml")}
    # facts as read: normalised values, evidence kept, every fact in the mapping form
    assert focus["facts"]["share_poor"] == {"value": 0.6, "source": "site_visit", "as_of": "2026-03-31",
                                            "reference": "visit report § 2"}
    assert focus["facts"]["loan_size"] == {"value": 100.0}
    assert focus["facts"]["groups"] == {"value": ["women", "farmers"]}
    assert focus["facts_sha256"] == sha256_text(canonical(focus["facts"]))
    assert focus["outcome"] == "granted" and focus["trail"]["outcome"] == "granted"
    assert focus["rule"] == {"id": "focus", "version": "1.2.0", "file": "demo/badges/focus.yaml", "line": 1,
                             "sha256": focus["trail"]["rule"]["sha256"]}
    assert focus["trail"]["root"]["id"] == "fo-root"
    kb = focus["knowledge_base"]
    assert kb["root"] == str(MINI_KB.resolve()) and len(kb["sha256"]) == 64
    expected_files = sorted(p.relative_to(MINI_KB).as_posix() for p in MINI_KB.rglob("*.yaml"))
    assert [f["path"] for f in kb["files"]] == expected_files
    assert all(len(f["sha256"]) == 64 for f in kb["files"])
    assert focus["software"]["durable_rules"] == "2.0.28" and focus["software"]["badges"]
    assert records[1]["outcome"] == "granted" and records[2]["outcome"] == "undetermined"


def test_records_are_chained_canonical_lines(cli, partners, tmp_path):
    log = tmp_path / "decisions.jsonl"
    cli("evaluate", partners, "--kb", MINI_KB, "--log", log)
    cli("evaluate", partners / "beta.yaml", "--kb", MINI_KB, "--log", log)  # a second batch continues the chain
    raw = log.read_text(encoding="ascii").splitlines()
    records = [json.loads(line) for line in raw]
    assert len(records) == 6
    assert [r["prev"] for r in records] == [GENESIS] + [r["hash"] for r in records[:-1]]
    for line, record in zip(raw, records):
        assert line == canonical(record)
        assert record["hash"] == record_hash(record)
        assert record["id"] == content_id(record)
        assert record["facts_sha256"] == sha256_text(canonical(record["facts"]))
    assert read_log(log).problems == ()


def test_records_written_as_text_are_the_canonical_json_of_what_they_hold(cli, tmp_path):
    """Workers write each record's canonical text (decision_log.RecordText): with hostile names and
    evidence it must still be exactly the canonical JSON of the record, hash and id included."""
    facts = tmp_path / "hostile.yaml"
    facts.write_text('kind: partner\nid: q.x-1\nname: "Ünïcode \\"quoted\\" \\\\ back\\nslash"\n'
                     'facts:\n  share_poor: {value: 0.6, source: site_visit, note: "a \\"note\\" é"}\n'
                     '  uses_tool: true\n', encoding="utf-8")
    log = tmp_path / "decisions.jsonl"
    assert cli("evaluate", facts, "--kb", MINI_KB, "--log", log).status == 0
    for line in log.read_text(encoding="ascii").splitlines():
        record = json.loads(line)
        assert line == canonical(record) and record["hash"] == record_hash(record)
        assert record["id"] == content_id(record)
        assert record["entity"]["name"] == 'Ünïcode "quoted" \\ back\nslash'


def test_same_facts_same_rules_same_clock_give_byte_identical_logs(cli, partners, tmp_path):
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    cli("evaluate", partners, "--kb", MINI_KB, "--log", first)
    cli("evaluate", partners, "--kb", MINI_KB, "--log", second)
    assert first.read_bytes() == second.read_bytes()


def test_decision_id_names_the_decision_not_the_moment(cli, partners, tmp_path):
    log = tmp_path / "decisions.jsonl"
    cli("evaluate", partners / "alpha.yaml", "--kb", MINI_KB, "--log", log)
    os.environ["BADGES_NOW"] = "2027-01-01T00:00:00+02:00"
    cli("evaluate", partners / "alpha.yaml", "--kb", MINI_KB, "--log", log)
    first, _, again, _ = log_lines(log)
    assert again["timestamp"] == "2026-12-31T22:00:00.000Z"
    assert first["id"] == again["id"] and first["hash"] != again["hash"]


def test_a_bad_pinned_clock_is_a_usage_error(cli, partners, tmp_path):
    os.environ["BADGES_NOW"] = "yesterday"
    log = tmp_path / "decisions.jsonl"
    run = cli("evaluate", partners, "--kb", MINI_KB, "--log", log)
    assert run.status == 2 and "BADGES_NOW='yesterday' is not an ISO 8601 time" in run.err
    assert not log.exists() and run.out == ""


def test_unwritable_log_is_reported_and_no_output_is_written(cli, partners, tmp_path):
    log = tmp_path / "missing-folder" / "decisions.jsonl"
    run = cli("evaluate", partners, "--kb", MINI_KB, "--log", log)
    assert run.status == 1 and run.out == ""
    assert run.err == f"{log}:0:0: BD601 cannot open the decision log: No such file or directory; nothing was added\n"


def test_a_log_that_cannot_be_locked_is_reported(cli, partners, tmp_path, monkeypatch):
    import fcntl

    def refuse(fd, operation):
        raise OSError(37, "No locks available")

    log = tmp_path / "decisions.jsonl"
    monkeypatch.setattr(fcntl, "flock", refuse)
    run = cli("evaluate", partners, "--kb", MINI_KB, "--log", log, "--jobs", "1")
    assert run.status == 1 and run.out == ""
    assert run.err == (f"{log}:0:0: BD601 cannot lock and read the decision log: No locks available; "
                       "nothing was added\n")
    assert log.read_bytes() == b""


@pytest.mark.parametrize("tail, code, line", [
    (b'{"hash": "abc"', "BD606", 2),  # an append was cut short: no newline at the end
    (b"not json\n", "BD602", 2),
])
def test_a_damaged_log_is_never_appended_to(cli, partners, tmp_path, tail, code, line):
    log = tmp_path / "decisions.jsonl"
    cli("evaluate", partners / "beta.yaml", "--kb", MINI_KB, "--log", log)
    damaged = log.read_bytes().splitlines(keepends=True)[0] + tail
    log.write_bytes(damaged)
    run = cli("evaluate", partners, "--kb", MINI_KB, "--log", log)
    assert run.status == 1 and run.out == ""
    assert run.err.startswith(f"{log}:{line}:1: {code} ") and "nothing was added" in run.err
    assert log.read_bytes() == damaged


def test_full_disk_leaves_the_log_as_it_was(partners, tmp_path):
    """A write that fails part way (here: the file size limit) is cut back; nothing half-written."""
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b"")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))  # less than one record
        from engine.cli import main
        sys.exit(main(["evaluate", {str(partners)!r}, "--kb", {str(MINI_KB)!r}, "--log", {str(log)!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, BADGES_NOW=NOW), timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"{log}:0:0: BD601 cannot write the decision log: File too large; nothing was added\n"
    assert log.read_bytes() == b""


WRITER = """
import sys, time
from pathlib import Path
from engine import Engine, load_entities, load_knowledge_base
from engine.decision_log import append_records, build_records

kb_dir, facts, log, me, other = sys.argv[1:]
kb = load_knowledge_base(kb_dir)
with Engine(kb) as engine:
    [record] = build_records(kb, engine.evaluate_all(load_entities([facts], kb)))[:1]
Path(me).touch()
while not Path(other).exists():  # start appending together
    time.sleep(0.01)
for _ in range(100):
    append_records(log, [record])
"""


def test_concurrent_writers_never_interleave_or_fork_the_chain(partners, tmp_path):
    log = tmp_path / "decisions.jsonl"
    ready = [tmp_path / "ready-1", tmp_path / "ready-2"]
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(MINI_KB), str(partners / name), str(log),
                          str(ready[i]), str(ready[1 - i])], cwd=REPO, env=dict(os.environ, BADGES_NOW=NOW))
        for i, name in enumerate(("alpha.yaml", "beta.yaml"))
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    reading = read_log(log)
    assert reading.problems == ()
    assert len(reading.links) == 200
    assert sorted(e.record["entity"]["id"] for e in reading.entries()) == ["alpha"] * 100 + ["beta"] * 100
