"""Batch evaluation: parallel workers, input order, bad entities reported while the rest go on,
every decision made by durable_rules."""
from __future__ import annotations

import json

import pytest

from engine import batch
from engine.diagnostics import Collector, Location

FACTS = [  # mini_kb facts, varied so that outcomes differ from row to row
    {"share_poor": 0.7, "uses_tool": True, "tool": "ppi", "groups": ["women"]},
    {"share_poor": 0.1, "uses_tool": False},
    {},
    {"clients": 40, "groups": ["youth", "farmers"], "loan_size": 120.0, "income_per_capita": 900.0},
]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 4, so that a few dozen entities already go through the worker pool."""
    monkeypatch.setattr(batch, "CHUNK", 4)


def _jsonl(tmp_path, count: int, bad: dict[int, dict] | None = None):
    path = tmp_path / "partners.jsonl"
    lines = []
    for i in range(count):
        doc = {"kind": "partner", "id": f"e{i:03d}", "name": f"Entity {i}", "facts": FACTS[i % len(FACTS)]}
        doc = (bad or {}).get(i, doc)
        lines.append(json.dumps(doc))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table", "md"])
def test_two_workers_write_the_same_bytes_as_one(cli, tmp_path, mini_kb, small_chunks, fmt):
    from tests.conftest import MINI_KB

    path = _jsonl(tmp_path, 30)
    one = cli("evaluate", path, "--kb", MINI_KB, "--format", fmt, "--jobs", "1")
    two = cli("evaluate", path, "--kb", MINI_KB, "--format", fmt, "--jobs", "2")
    assert (one.status, one.err) == (0, "")
    assert (two.status, two.out, two.err) == (0, one.out, "")


def test_streamed_json_is_exactly_the_portfolio_document(cli, mini_kb, tmp_path, small_chunks):
    from engine.facts_loader import load_entities
    from engine.inference import Engine
    from explain.portfolio import to_json
    from tests.conftest import MINI_KB

    path = _jsonl(tmp_path, 10)
    with Engine(mini_kb) as engine:
        expected = to_json(mini_kb, [engine.evaluate(e) for e in load_entities([path], mini_kb)])
    assert cli("evaluate", path, "--kb", MINI_KB, "--format", "json", "--jobs", "2").out == expected


def test_results_come_in_input_order(mini_kb, tmp_path):
    path = _jsonl(tmp_path, 40)
    tasks = list(batch.evaluate_stream(batch.input_items([path], mini_kb, Collector(), rows=3), mini_kb,
                                       _entity_id, jobs=2, chunk=3))
    assert len(tasks) > 1 and all(1 <= len(outcomes) <= 3 for outcomes in tasks)  # one list per task
    assert [o.payload for outcomes in tasks for o in outcomes] == [f"e{i:03d}" for i in range(40)]


def _entity_id(kb, result):
    return result.entity.id


def test_the_input_is_read_as_the_workers_need_it_not_all_at_once(mini_kb, tmp_path):
    """Memory stays flat: only a bounded number of chunks is ever in flight."""
    path = _jsonl(tmp_path, 200)
    pulled = []

    def items():
        for item in batch.input_items([path], mini_kb, Collector()):
            pulled.append(item)
            yield item

    stream = batch.evaluate_stream(items(), mini_kb, _entity_id, jobs=2, chunk=5)
    first = next(stream)
    assert len(pulled) <= 5 * (2 * batch.IN_FLIGHT_PER_JOB + 2)
    assert len(first) + sum(len(outcomes) for outcomes in stream) == 200


def test_a_bad_entity_is_reported_and_the_others_still_evaluated(cli, tmp_path, small_chunks):
    from tests.conftest import MINI_KB

    bad = {3: {"kind": "partner", "id": "e003", "name": "Bad", "facts": {"share_poor": 1.7}},
           17: {"kind": "partner", "id": "e017", "name": "Bad", "facts": {"tol": "ppi"}},
           20: {"kind": "partner", "id": "e001", "name": "Twin", "facts": {}}}
    path = _jsonl(tmp_path, 24, bad)
    result = cli("evaluate", path, "--kb", MINI_KB, "--format", "jsonl", "--jobs", "2")
    assert result.status == 1
    ids = [json.loads(line)["entity"]["id"] for line in result.out.splitlines()]
    assert ids == [f"e{i:03d}" for i in range(24) if i not in bad]
    assert result.err.splitlines() == [  # every problem, sorted by place
        f"{path}:4:74: BD303 'share_poor' is 1.7, outside [0, 1]; percentages are shares from 0 to 1 (write 0.45 for 45%)",
        f"{path}:18:60: BD301 unknown fact 'tol' (did you mean 'tool'?)",
        f"{path}:21:1: BD307 entity id 'e001' is also used by {path}:2",
    ]


def test_when_nothing_could_be_evaluated_stdout_stays_empty(cli, tmp_path):
    from tests.conftest import MINI_KB

    path = tmp_path / "bad.yaml"
    path.write_text("kind: partner\nid: x\nname: X\nfacts: {share_poor: 2}\n")
    result = cli("evaluate", path, "--kb", MINI_KB, "--format", "json")
    assert (result.status, result.out) == (1, "")
    assert result.err == f"{path}:4:21: BD303 'share_poor' is 2, outside [0, 1]; percentages are shares " \
                         "from 0 to 1 (write 0.45 for 45%)\n"


def test_an_empty_table_still_gives_a_valid_document(cli, tmp_path):
    from tests.conftest import MINI_KB

    path = tmp_path / "none.csv"
    path.write_text("kind,id,name\n")
    result = cli("evaluate", path, "--kb", MINI_KB, "--format", "json")
    assert result.status == 0 and json.loads(result.out)["results"] == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_no_decision_without_durable_rules(cli, tmp_path, monkeypatch, small_chunks, jobs):
    """Every decision goes through durable_rules: with its core failing, nothing is decided."""
    import durable_rules_engine

    from engine import durable_backend
    from tests.conftest import MINI_KB

    def refuse(*args):
        raise durable_rules_engine.error("simulated failure of the durable_rules core")

    monkeypatch.setattr(durable_backend._core, "assert_fact", refuse)
    path = _jsonl(tmp_path, 20)
    result = cli("evaluate", path, "--kb", MINI_KB, "--format", "jsonl", "--jobs", jobs)
    monkeypatch.undo()
    assert result.status == 3
    assert result.out == ""
    assert "durable_rules refused a fact: simulated failure of the durable_rules core" in result.err
    assert "Traceback" not in result.err


def test_every_row_of_a_folder_csv_and_jsonl_mix_is_evaluated_in_order(cli, tmp_path):
    from tests.conftest import MINI_KB

    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("b", "a"):
        (folder / f"{name}.yaml").write_text(f"kind: partner\nid: f{name}\nname: F{name}\nfacts: {{}}\n")
    table = tmp_path / "t.csv"
    table.write_text("kind,id,name,tool\npartner,c1,C1,ppi\npartner,c2,C2,\n")
    result = cli("evaluate", folder, table, _jsonl(tmp_path, 2), "--kb", MINI_KB, "--format", "jsonl")
    assert result.status == 0, result.err
    rows = [json.loads(line)["entity"] for line in result.out.splitlines()]
    assert [r["id"] for r in rows] == ["fa", "fb", "c1", "c2", "e000", "e001"]
    assert rows[2]["source"] == f"{table}:2"


def test_jobs_must_be_positive(cli):
    result = cli("evaluate", "examples/partners", "--jobs", "0")
    assert result.status == 2 and "--jobs must be at least 1" in result.err


@pytest.mark.parametrize("spill", [10**9, 100])
def test_unique_ids_remember_the_first_place(monkeypatch, spill):
    monkeypatch.setattr(batch.UniqueIds, "SPILL", spill)  # in memory, and moved to SQLite past 100
    with batch.UniqueIds() as seen:
        for i in range(5000):
            assert seen.first_use(("partner", f"id{i}"), ("big.csv", i + 2)) is None
        assert seen.first_use(("partner", "id1234"), ("other.csv", 9)) == Location("big.csv", 1236, 1)
        assert seen.first_use(("association", "id1234"), ("other.csv", 10)) is None
        assert (seen._db is not None) == (spill == 100)


def test_unique_ids_come_back_into_memory_when_the_database_cannot_take_more(monkeypatch):
    import sqlite3

    monkeypatch.setattr(batch.UniqueIds, "SPILL", 10)
    with batch.UniqueIds() as seen:
        seen.first_uses([(("p", f"id{i}"), ("t.csv", i)) for i in range(20)])

        class Full:  # what a full disk makes of the temporary database's writes
            total_changes = 0

            def __init__(self, db):
                self.db = db

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def executemany(self, *args):
                raise sqlite3.OperationalError("database or disk is full")

            def execute(self, *args):
                return self.db.execute(*args)

            def close(self):
                self.db.close()

        seen._db = Full(seen._db)
        assert seen.first_uses([(("p", "id3"), ("t.csv", 30)), (("p", "new"), ("t.csv", 31))]) \
            == [Location("t.csv", 3, 1), None]
        assert seen._db is None
        assert seen.first_use(("p", "new"), ("t.csv", 32)) == Location("t.csv", 31, 1)


def test_the_decision_log_holds_every_decision_a_parallel_batch_printed(cli, tmp_path, monkeypatch, small_chunks):
    from tests.conftest import MINI_KB

    monkeypatch.setenv("BADGES_NOW", "2026-11-25T12:00:00Z")
    log = tmp_path / "decisions.jsonl"
    result = cli("evaluate", _jsonl(tmp_path, 12), "--kb", MINI_KB, "--format", "jsonl", "--jobs", "2",
                 "--log", log)
    assert result.status == 0, result.err
    printed = sum(len(json.loads(line)["decisions"]) for line in result.out.splitlines())
    assert len(log.read_text().splitlines()) == printed
    assert cli("verify", log, "--kb", MINI_KB).status == 0


def test_a_progress_bar_on_a_terminal_leaves_the_output_file_intact(tmp_path):
    """stderr a terminal, stdout a file: the bar is drawn on the terminal, the results go to the file."""
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import MINI_KB, REPO

    path = _jsonl(tmp_path, 40)
    command = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())",
               "evaluate", str(path), "--kb", str(MINI_KB), "--format", "csv", "--jobs", "2"]
    plain = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    controller, terminal = pty.openpty()
    with open(tmp_path / "out.csv", "w") as out:
        drawn = subprocess.run(command, stdout=out, stderr=terminal, cwd=REPO)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert plain.returncode == drawn.returncode == 0 and plain.stderr == ""
    assert (tmp_path / "out.csv").read_text() == plain.stdout
    assert b"evaluating" in shown  # the bar was drawn on the terminal


@pytest.mark.parametrize("spill", [10**9, 3])
def test_ids_checked_together_find_repeats_before_and_among_them(monkeypatch, spill):
    monkeypatch.setattr(batch.UniqueIds, "SPILL", spill)
    here = [("t.csv", line) for line in range(20)]
    at = [Location("t.csv", line, 1) for line in range(20)]
    with batch.UniqueIds() as seen:
        assert seen.first_uses([(("p", f"id{i}"), here[i]) for i in range(5)]) == [None] * 5
        found = seen.first_uses([(("p", "new"), here[5]), (("p", "id2"), here[6]), (("p", "new"), here[7]),
                                 (("a", "id2"), here[8]), (("p", "id2"), here[9]), (("p", "new2"), here[10])])
        assert found == [None, at[2], at[5], None, at[2], None]
        assert seen.first_uses([(("p", "new"), here[11]), (("p", "new2"), here[12])]) == [at[5], at[10]]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_several_rows_a_block_cannot_read_are_each_reported(cli, tmp_path, jobs):
    """Two rows of the wrong width in one block: each is reported, the other rows evaluated."""
    from tests.conftest import MINI_KB

    rows = [f"partner,p{i},P{i}" for i in range(6)]
    rows[1] += ",extra"
    rows[4] = "partner,p4"
    path = tmp_path / "t.csv"
    path.write_text("kind,id,name\n" + "\n".join(rows) + "\n")
    result = cli("evaluate", path, "--kb", MINI_KB, "--format", "jsonl", "--jobs", jobs)
    assert result.status == 1
    assert [json.loads(line)["entity"]["id"] for line in result.out.splitlines()] == ["p0", "p2", "p3", "p5"]
    assert result.err.splitlines() == [f"{path}:3:4: BD311 row has 4 cell(s), the header has 3",
                                       f"{path}:6:3: BD311 row has 2 cell(s), the header has 3"]


def test_spawned_workers_write_what_one_process_writes(cli, tmp_path, monkeypatch, small_chunks):
    """Where processes cannot fork, workers are spawned and read the knowledge base again: CSV
    rows, which a worker sends as numbers the main process turns into text, come out the same."""
    from engine import fork_pool
    from tests.conftest import MINI_KB

    path = _jsonl(tmp_path, 12)
    one = cli("evaluate", path, "--kb", MINI_KB, "--format", "csv", "--jobs", "1")
    monkeypatch.setattr(fork_pool, "available", lambda: False)
    original, pools = batch._in_spawned_pool, []

    def in_spawned_pool(pending, jobs, make, args):
        pools.append(jobs)
        yield from original(pending, jobs, make, args)

    monkeypatch.setattr(batch, "_in_spawned_pool", in_spawned_pool)
    spawned = cli("evaluate", path, "--kb", MINI_KB, "--format", "csv", "--jobs", "2")
    assert one.status == 0 and one.out.count("\n") > 12
    assert spawned == one and pools == [2]  # spawned workers did it, not this process


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_reader_that_stops_early_ends_the_batch_quietly(tmp_path, jobs):
    """`badges evaluate big.csv | head`: once stdout's reader is gone the batch stops, with
    no error message, and the status a command SIGPIPE ends gets."""
    import subprocess
    import sys

    from tests.conftest import MINI_KB, REPO

    path = _jsonl(tmp_path, 3_000)
    command = [sys.executable, "-c", "from engine.cli import console_main; console_main()",
               "evaluate", str(path), "--kb", str(MINI_KB), "--format", "csv", "--jobs", jobs]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO) as process:
        assert process.stdout.readline().startswith(b"entity_id,")
        process.stdout.close()
        err = process.stderr.read()
        status = process.wait(timeout=60)
    assert (status, err) == (141, b"")


def test_a_worker_the_system_kills_is_reported_plainly(cli, tmp_path, monkeypatch, small_chunks):
    """A worker that ends without answering (the out-of-memory killer, say) stops the batch with
    a message saying so: not a traceback, not a defect report."""
    import os

    from tests.conftest import MINI_KB

    payload = batch.Evaluator._payload

    def dies_on_e005(self, entity):
        if entity.id == "e005":
            os._exit(9)
        return payload(self, entity)

    monkeypatch.setattr(batch.Evaluator, "_payload", dies_on_e005)
    result = cli("evaluate", _jsonl(tmp_path, 20), "--kb", MINI_KB, "--format", "csv", "--jobs", "2")
    assert result.status == 3
    assert result.err.startswith("badges: a worker process (pid ")
    assert "ended without finishing its work (exit status 9). Run again" in result.err
    assert "defect" not in result.err and "Traceback" not in result.err


def test_facts_paths_lists_each_facts_file_once_in_order(tmp_path):
    """Folders give their facts files sorted (not other files, nor folders named like one); a
    file met again, by another name or through a link, is read once, where first met."""
    from engine.facts_loader import facts_paths

    folder, elsewhere = tmp_path / "partners", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    for name in ("b.yaml", "a.json", "c.yml", "notes.txt"):
        (folder / name).write_text("kind: partner\n")
    (folder / "d.yaml").mkdir()  # a folder, not a facts file
    (elsewhere / "e.yaml").write_text("kind: partner\n")
    (folder / "z-link.yaml").symlink_to(elsewhere / "e.yaml")  # the same file as elsewhere/e.yaml
    (folder / "aa-link.yaml").symlink_to(folder / "b.yaml")  # the same file as b.yaml, met first
    (tmp_path / "linked").symlink_to(folder)  # the same folder under another name

    collector = Collector()
    found = facts_paths([elsewhere / "e.yaml", folder, tmp_path / "linked", folder / "c.yml"], collector)
    assert [str(p.relative_to(tmp_path)) for p in found] == [
        "elsewhere/e.yaml", "partners/a.json", "partners/aa-link.yaml", "partners/c.yml"]
    assert collector.items == []


def test_facts_paths_reports_a_missing_path_and_a_folder_without_facts(tmp_path):
    from engine.facts_loader import facts_paths

    (tmp_path / "empty").mkdir()
    collector = Collector()
    assert facts_paths([tmp_path / "empty", tmp_path / "missing.yaml"], collector) == []
    assert [(d.code, d.message) for d in collector.items] == [
        ("BD008", "folder holds no facts files (.yaml, .yml, .json)"), ("BD008", "no such file or folder")]
