"""Same facts and same rule base give byte-identical output: across runs, file orders, and hash seeds."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO

ASSOCIATIONS = REPO / "examples" / "associations"


@pytest.fixture(autouse=True)
def _from_the_repository(monkeypatch):
    monkeypatch.chdir(REPO)


def _evaluate(cli, *paths, fmt="json") -> str:
    result = cli("evaluate", *paths, "--format", fmt)
    assert (result.status, result.err) == (0, ""), result.err
    return result.out


def test_evaluating_twice_gives_identical_bytes(cli):
    for fmt in ("json", "csv", "md", "table"):
        assert _evaluate(cli, "examples/partners", fmt=fmt) == _evaluate(cli, "examples/partners", fmt=fmt)


def test_file_order_does_not_change_any_result(cli):
    """Each partner's result is the same whichever partners were evaluated before it."""
    files = sorted(str(p.relative_to(REPO)) for p in EXAMPLES.glob("*.yaml"))
    forward = json.loads(_evaluate(cli, *files))
    backward = json.loads(_evaluate(cli, *reversed(files)))
    assert [r["entity"]["id"] for r in backward["results"]] == [r["entity"]["id"] for r in forward["results"]][::-1]
    assert backward["knowledge_base"] == forward["knowledge_base"]
    by_id = {r["entity"]["id"]: json.dumps(r, sort_keys=True) for r in forward["results"]}
    assert {r["entity"]["id"]: json.dumps(r, sort_keys=True) for r in backward["results"]} == by_id


def test_a_folder_reads_the_same_whatever_order_its_files_were_written(cli, tmp_path):
    files = sorted(EXAMPLES.glob("*.yaml"))
    outputs = []
    for order in (files, files[::-1]):
        folder = tmp_path / "partners"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for path in order:
            shutil.copy(path, folder / path.name)
        outputs.append(_evaluate(cli, folder))
    assert outputs[0] == outputs[1]


def _run(args: list[str], seed: str) -> str:
    badges = shutil.which("badges", path=str(Path(sys.executable).parent))
    assert badges, "the badges console script is not installed next to this Python"
    done = subprocess.run([badges, *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONHASHSEED": seed})
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


@pytest.mark.parametrize("args", [
    ["evaluate", "examples/partners", "--format", "json"],
    ["why", "examples/partners/crecer.yaml", "client-voice", "--format", "json", "--full"],
    ["why", "examples/partners/made-up-2-nyota-microcredit.yaml", "client-voice"],
], ids=["evaluate-json", "why-json", "why-tree"])
def test_hash_seed_does_not_change_output(args):
    outputs = {_run(args, seed) for seed in ("0", "1", "4242")}
    assert len(outputs) == 1


@pytest.mark.skipif(not ASSOCIATIONS.is_dir(), reason="no association examples")
def test_associations_are_deterministic_too(cli):
    assert _evaluate(cli, "examples/associations") == _evaluate(cli, "examples/associations")
