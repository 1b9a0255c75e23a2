"""`badges diff`: who a rule edit affects, between two folders or against a git revision."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

BASE = Path(__file__).parent / "fixtures" / "diagnostics" / "_base"
PARTNERS = {
    "amina.yaml": "kind: partner\nid: amina\nname: Amina\nfacts: {uses_tool: true, tool: ppi, share_women: 0.55, "
                  "loan_size: 100, income: 900, groups: [women], founded: 2010-01-01, clients: 500}\n",
    "bora.yaml": "kind: partner\nid: bora\nname: Bora\nfacts: {uses_tool: true, tool: mpi, share_women: 0.7, "
                 "loan_size: 1000, income: 500, groups: [youth], founded: 2015-01-01, clients: 200}\n",
    "chui.yaml": "kind: partner\nid: chui\nname: Chui\nfacts: {uses_tool: false}\n",
}


def raise_women_threshold(kb: Path, to: str = "0.6", was: str = "0.5") -> None:
    badge = kb / "p" / "badges" / "reach.yaml"
    text = badge.read_text()
    assert f"op: at_least\n          value: {was}" in text
    badge.write_text(text.replace(f"op: at_least\n          value: {was}", f"op: at_least\n          value: {to}"))


@pytest.fixture
def world(tmp_path) -> Path:
    shutil.copytree(BASE / "kb", tmp_path / "old")
    shutil.copytree(BASE / "kb", tmp_path / "new")
    (tmp_path / "partners").mkdir()
    for name, text in PARTNERS.items():
        (tmp_path / "partners" / name).write_text(text)
    return tmp_path


def test_a_raised_threshold_names_the_partner_it_costs_the_badge(cli, world):
    raise_women_threshold(world / "new")
    result = cli("diff", world / "old", world / "new", world / "partners", "--format", "json")
    assert result.status == 0, result.err
    data = json.loads(result.out)
    assert (data["entities"], data["changed"]) == (3, 1)
    [change] = data["changes"]
    assert (change["entity"]["id"], change["conclusion"], change["from"], change["to"]) == \
        ("amina", "reach", "granted", "not_granted")
    # the node that moved, and the nodes above it that moved with it
    assert change["conditions"] == [{"id": "re-root", "from": "true", "to": "false"},
                                    {"id": "re-outreach", "from": "true", "to": "false"},
                                    {"id": "re-women", "from": "true", "to": "false"}]
    assert data["summary"] == {"reach": [{"from": "granted", "to": "not_granted", "entities": 1}]}


def test_csv_and_table_carry_the_same_change(cli, world):
    raise_women_threshold(world / "new")
    rows = list(csv.DictReader(io.StringIO(cli("diff", world / "old", world / "new", world / "partners",
                                               "--format", "csv").out)))
    assert [(r["entity_id"], r["conclusion"], r["from"], r["to"], r["changed_conditions"]) for r in rows] == [
        ("amina", "reach", "granted", "not_granted",
         "re-root: true → false; re-outreach: true → false; re-women: true → false")]
    table = cli("diff", world / "old", world / "new", world / "partners").out
    assert "│ Amina " in table and "granted → not_granted │ 1" in table
    assert table.rstrip().endswith("3 entities evaluated under both; 1 outcome(s) change for 1 entities.")


def test_no_change_reports_none(cli, world):
    result = cli("diff", world / "old", world / "new", world / "partners", "--format", "json")
    assert json.loads(result.out)["changes"] == []
    table = cli("diff", world / "old", world / "new", world / "partners").out
    assert "Outcomes that change" not in table and "0 outcome(s) change" in table


def test_a_new_badge_and_a_new_fact_show_as_absent_before(cli, world):
    (world / "new" / "p" / "facts.yaml").write_text((world / "new" / "p" / "facts.yaml").read_text() + (
        "  - name: green_loans\n    type: boolean\n    description: Offers green loans.\n    question: Green loans?\n"))
    badge = (world / "new" / "p" / "badges" / "reach.yaml").read_text().split("condition:")[0].replace(
        "id: reach", "id: green")
    (world / "new" / "p" / "badges" / "green.yaml").write_text(badge + (
        "condition:\n  id: gr-root\n  description: Offers green loans.\n  cite: {source: src, section: Two}\n"
        "  fact: green_loans\n  op: is\n  value: true\n"))
    (world / "partners" / "chui.yaml").write_text(PARTNERS["chui.yaml"].replace("{uses_tool: false}",
                                                                                "{uses_tool: false, green_loans: true}"))
    data = json.loads(cli("diff", world / "old", world / "new", world / "partners", "--format", "json").out)
    moves = {(c["entity"]["id"], c["conclusion"]): (c["from"], c["to"]) for c in data["changes"]}
    assert moves == {("amina", "green"): ("absent", "undetermined"), ("bora", "green"): ("absent", "undetermined"),
                     ("chui", "green"): ("absent", "granted")}
    assert data["facts_unknown_to_old"] == {"chui": ["green_loans"]}
    chui = [c for c in data["changes"] if c["entity"]["id"] == "chui"][0]
    assert chui["conditions"] == [{"id": "gr-root", "from": None, "to": "true"}]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=Policy", "-c", "user.email=policy@example.org",
                    *args], check=True, capture_output=True)


@pytest.fixture
def repo(world) -> Path:
    """A git repository whose knowledge base (under rules/kb) is committed twice: the threshold is raised."""
    root = world / "repo"
    shutil.copytree(BASE / "kb", root / "rules" / "kb")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "rules v1")
    raise_women_threshold(root / "rules" / "kb")
    git(root, "commit", "-q", "-am", "raise the women threshold")
    return root


def test_old_rev_reads_the_knowledge_base_folder_at_a_git_revision(cli, repo, world):
    result = cli("diff", "--old-rev", "HEAD~1", repo / "rules" / "kb", world / "partners", "--format", "json")
    assert result.status == 0, result.err
    data = json.loads(result.out)
    assert data["old"]["label"].startswith(f"{repo / 'rules' / 'kb'} at HEAD~1 (")
    assert [(c["entity"]["id"], c["from"], c["to"]) for c in data["changes"]] == [("amina", "granted", "not_granted")]


def test_old_rev_against_uncommitted_edits(cli, repo, world):
    raise_women_threshold(repo / "rules" / "kb", to="0.75", was="0.6")  # working tree: 0.75, HEAD: 0.6
    data = json.loads(cli("diff", "--old-rev", "HEAD", repo / "rules" / "kb", world / "partners",
                          "--format", "json").out)
    assert [(c["entity"]["id"], c["from"], c["to"]) for c in data["changes"]] == [("bora", "granted", "not_granted")]


@pytest.mark.parametrize("rev, message", [
    ("no-such-rev", "git does not know the revision 'no-such-rev'"),
])
def test_old_rev_errors_are_located_diagnostics(cli, repo, world, rev, message):
    result = cli("diff", "--old-rev", rev, repo / "rules" / "kb", world / "partners")
    assert result.status == 1 and result.out == ""
    assert result.err == f"{repo / 'rules' / 'kb'}:0:0: BD502 {message}\n"


def test_old_rev_outside_git(cli, world):
    outside = world / "new"
    result = cli("diff", "--old-rev", "HEAD", outside, world / "partners")
    if subprocess.run(["git", "-C", str(outside), "rev-parse"], capture_output=True).returncode == 0:
        pytest.skip("the temporary folder is inside a git repository on this machine")
    assert result.status == 1 and "BD502 the knowledge base folder is not inside a git repository" in result.err


def test_folder_missing_at_the_revision(cli, repo, world):
    shutil.copytree(BASE / "kb", repo / "rules" / "kb2")
    result = cli("diff", "--old-rev", "HEAD", repo / "rules" / "kb2", world / "partners")
    assert result.status == 1 and "BD502 'rules/kb2/' does not exist at revision 'HEAD'" in result.err


@pytest.mark.parametrize("args", [["a", "b"], ["--old-rev", "HEAD", "only-kb"]])
def test_too_few_paths_is_a_usage_error(cli, args):
    result = cli("diff", *args)
    assert result.status == 2 and "badges diff: error: name" in result.err


def test_invalid_partner_files_stop_the_diff(cli, world):
    (world / "partners" / "bad.yaml").write_text("kind: partner\nid: bad\nname: Bad\nfacts: {share_women: 55}\n")
    result = cli("diff", world / "old", world / "new", world / "partners")
    assert result.status == 1 and "BD303" in result.err and result.out == ""


def test_a_value_the_old_fact_schema_refuses_is_unknown_to_it_and_others_carry_over(cli, world):
    """Facts declared alike in both knowledge bases keep their values; one whose old range refuses the
    value is unknown to the old rules (and listed), not a crash and not a 'no'."""
    facts = world / "old" / "p" / "facts.yaml"
    facts.write_text(facts.read_text().replace("  - name: clients\n    type: integer\n    range: [0, null]",
                                               "  - name: clients\n    type: integer\n    range: [0, 300]"))
    data = json.loads(cli("diff", world / "old", world / "new", world / "partners", "--format", "json").out)
    assert data["facts_unknown_to_old"] == {"amina": ["clients"]}  # 500 clients; bora's 200 carry over


def test_same_facts_names_the_facts_declared_alike(tmp_path):
    from engine import load_knowledge_base
    from engine.impact import same_facts

    shutil.copytree(BASE / "kb", tmp_path / "old")
    facts = tmp_path / "old" / "p" / "facts.yaml"
    facts.write_text(facts.read_text().replace("range: [0, null]\n    description: Active clients.",
                                               "range: [0, 300]\n    description: Active clients."))
    old, new = load_knowledge_base(tmp_path / "old"), load_knowledge_base(BASE / "kb")
    alike = same_facts(old, new, "partner")
    assert "clients" not in alike and {"loan_size", "uses_tool", "tool"} <= alike
    assert alike == set(new.facts_for("partner")) - {"clients"}


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_workers_find_what_one_process_finds(cli, world, monkeypatch, fmt):
    """Many partners are compared by worker processes, a chunk each: the same changes, in the same
    order, with the same facts unknown to the old schema."""
    from engine import fork_pool, impact

    for i in range(9):  # 12 partners, some of them changing
        source = ["amina.yaml", "bora.yaml", "chui.yaml"][i % 3]
        text = (world / "partners" / source).read_text().replace("id: ", f"id: x{i}-", 1)
        (world / "partners" / f"x{i}.yaml").write_text(text)
    raise_women_threshold(world / "new")
    facts = world / "old" / "p" / "facts.yaml"
    facts.write_text(facts.read_text().replace("  - name: clients\n    type: integer\n    range: [0, null]",
                                               "  - name: clients\n    type: integer\n    range: [0, 300]"))
    args = ("diff", world / "old", world / "new", world / "partners", "--format", fmt, "--jobs")
    one = cli(*args, "1")
    monkeypatch.setattr(impact, "CHUNK", 5)
    original, tasks = fork_pool.ordered_map, []

    def ordered_map(function, task_list, *rest, **named):
        def counted():
            for task in task_list:
                tasks.append(len(task))
                yield task
        return original(function, counted(), *rest, **named)

    monkeypatch.setattr(fork_pool, "ordered_map", ordered_map)
    workers = cli(*args, "2")
    assert tasks == [5, 5, 2] and one.status == 0 and "x3-amina" in one.out  # a copy of amina changes too
    assert workers == one


def test_jobs_must_be_at_least_one(cli, world):
    result = cli("diff", world / "old", world / "new", world / "partners", "--jobs", "0")
    assert result.status == 2 and "--jobs must be at least 1" in result.err


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_portfolio_is_read_as_it_is_compared_not_all_at_once(world, monkeypatch, jobs):
    """Memory stays flat: a task of entities is read only when a bounded number are in flight."""
    from engine import batch, impact
    from engine.kb_loader import load_knowledge_base

    for i in range(40):
        text = (world / "partners" / "amina.yaml").read_text().replace("id: ", f"id: m{i:02d}-", 1)
        (world / "partners" / f"m{i:02d}.yaml").write_text(text)
    raise_women_threshold(world / "new")
    monkeypatch.setattr(impact, "CHUNK", 2)
    original, pulled, ahead = batch.tasks, [], []

    def tasks(items, size):
        for task in original(items, size):
            pulled.append(task)
            yield task

    answered = batch.UniqueIds.first_use

    def first_use(self, key, where):  # called once per entity answered, in input order
        ahead.append(len(pulled) * 2 - len(ahead))
        return answered(self, key, where)

    monkeypatch.setattr(batch, "tasks", tasks)
    monkeypatch.setattr(batch.UniqueIds, "first_use", first_use)
    told = []
    found = impact.compare(load_knowledge_base(world / "old"), load_knowledge_base(world / "new"),
                           [world / "partners"], jobs=jobs, advance=told.append)
    assert found.entities == 43 and len(ahead) == 43 and sum(told) == 43  # told.append: the progress bar's advance
    assert sum(c.entity.id.startswith("m") for c in found.changes) == 40  # every copy of amina changes
    assert max(ahead) <= 2 * (2 * jobs * batch.IN_FLIGHT_PER_JOB + 2)  # entities read and not yet answered


def test_a_path_that_is_not_there_stops_diff_before_any_work(world, monkeypatch):
    from engine import impact
    from engine.diagnostics import InvalidInput
    from engine.kb_loader import load_knowledge_base

    def no_work(*args):
        raise AssertionError("nothing should be compared")

    monkeypatch.setattr(impact, "_Comparer", no_work)
    with pytest.raises(InvalidInput) as caught:
        impact.compare(load_knowledge_base(world / "old"), load_knowledge_base(world / "new"),
                       [world / "partners", world / "missing.yaml"], jobs=2)
    assert [(d.code, d.message) for d in caught.value.diagnostics] == [("BD008", "no such file or folder")]


def test_where_workers_cannot_fork_diff_compares_in_this_process(cli, world, monkeypatch):
    from engine import batch, fork_pool, impact

    raise_women_threshold(world / "new")
    args = ("diff", world / "old", world / "new", world / "partners", "--format", "json", "--jobs")
    one = cli(*args, "1")
    monkeypatch.setattr(impact, "CHUNK", 1)  # three tasks: workers if they could be had
    monkeypatch.setattr(fork_pool, "available", lambda: False)
    monkeypatch.setattr(batch, "_in_spawned_pool", None)  # diff has no spawn factory: never called
    assert cli(*args, "2") == one and one.status == 0 and '"changed": 0' not in one.out
