"""Every example in docs/authoring.md runs, in order, against a git-tracked copy of the knowledge base.

The guide's fenced blocks are its script:

- ```yaml file=PATH      writes a new file;
- ```yaml before=PATH    names text that must occur once in PATH; the next
- ```yaml after=PATH     block replaces it;
- ```console             runs each ``$ badges ...`` / ``$ git ...`` line; the lines after it are the
                         output expected (a line ``...`` skips any lines, ``...`` inside a line skips text).

Other blocks (```yaml, ```text) are illustrations and are checked for nothing but parsing.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.diagnostics import Collector
from engine.source import parse_text

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "authoring.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
GIT_ENV = {"GIT_AUTHOR_NAME": "Policy", "GIT_AUTHOR_EMAIL": "policy@example.org",
           "GIT_COMMITTER_NAME": "Policy", "GIT_COMMITTER_EMAIL": "policy@example.org"}


def blocks() -> list[tuple[str, dict, str]]:
    """(language, attributes, body) of every fenced block, in order."""
    found = []
    for match in FENCE.finditer(GUIDE.read_text(encoding="utf-8")):
        words = match["info"].split()
        language = words[0] if words else ""
        attributes = dict(word.split("=", 1) for word in words[1:] if "=" in word)
        found.append((language, attributes, match["body"]))
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Expected lines appear in order; ``...`` lines skip any number of lines, ``...`` in a line any text."""
    def pattern(line: str) -> re.Pattern:
        return re.compile("^" + ".*".join(re.escape(part) for part in line.split("...")) + "$")

    def walk(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i] == "...":
            return any(walk(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and bool(pattern(expected[i]).match(actual[j])) and walk(i + 1, j + 1)

    return walk(0, 0)


def commands(body: str) -> list[tuple[str, list[str]]]:
    runs: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            runs.append((line[2:], []))
        else:
            runs[-1][1].append(line)
    return runs


@pytest.fixture
def workspace(tmp_path) -> Path:
    """The repository as a policy editor sees it (rules, example partners, schemas) in its own git repository.

    The working directory is changed with os.chdir, not monkeypatch: the ``cli`` fixture undoes its
    monkeypatches after every command, which would put later commands back in this repository.
    """
    for folder in ("knowledge_base", "examples/partners", "schemas"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "rules as shipped")
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def _git(where: Path, *args: str) -> str:
    """Run git in ``where`` only (never in this repository), as the editor would."""
    assert where.resolve() != REPO and REPO not in where.resolve().parents
    done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_every_example_in_the_authoring_guide_runs(cli, workspace):
    pending: dict[str, str] = {}
    ran = 0
    for language, attributes, body in blocks():
        if "file" in attributes:
            path = workspace / attributes["file"]
            assert not path.exists(), f"{path} already exists: the guide says to create it"
            path.write_text(body, encoding="utf-8")
            _schema_header_resolves(path, body)
        elif "before" in attributes:
            text = (workspace / attributes["before"]).read_text(encoding="utf-8")
            assert text.count(body) == 1, f"not exactly once in {attributes['before']}:\n{body}"
            pending[attributes["before"]] = body
        elif "after" in attributes:
            path = workspace / attributes["after"]
            path.write_text(path.read_text(encoding="utf-8").replace(pending.pop(attributes["after"]), body),
                            encoding="utf-8")
        elif language == "console":
            for command, expected in commands(body):
                assert Path.cwd() == workspace
                actual = _run(cli, command, workspace)
                assert matches(expected, actual), f"$ {command}\n--- expected\n" + "\n".join(expected) + \
                    "\n--- actual\n" + "\n".join(actual)
                ran += 1
        elif language == "yaml":
            assert parse_text(body, "<guide>", Collector()) is not None
    assert not pending, f"a 'before' block without its 'after': {pending}"
    assert ran >= 10
    # the eighth badge was committed on its own: new YAML files only, nothing edited, no code
    added = _git(workspace, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert [line.split()[0] for line in added if line] == ["A", "A", "A"], added


def _run(cli, command: str, workspace: Path) -> list[str]:
    words = shlex.split(command)
    if words[0] == "git":
        return _git(workspace, *words[1:]).splitlines()
    assert words[0] == "badges", f"the guide may only run badges and git: {command}"
    result = cli(*words[1:])
    assert "Traceback" not in result.err
    return (result.err + result.out).splitlines()


def _schema_header_resolves(path: Path, body: str) -> None:
    header = re.match(r"# yaml-language-server: \$schema=(\S+)", body)
    if header:
        assert (path.parent / header[1]).resolve().is_file(), f"{header[1]} does not resolve from {path}"
