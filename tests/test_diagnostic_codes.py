"""Every diagnostic code is documented and has a negative fixture that produces exactly that code.

A fixture is a folder ``tests/fixtures/diagnostics/<CODE>/`` with a ``case.yaml``:

    about: what the fixture breaks
    run: check {kb}          # a badges command line; {kb} is a copy of _base/kb with this
                             # fixture's kb/ files laid over it, {here} is the fixture folder,
                             # {tmp} a scratch folder
    remove: [p/facts.yaml]   # optional: paths deleted from the copy
    append: {p/facts.yaml: "..."}   # optional: text appended to files of the copy
    also: [BD220]            # optional: codes that are this code's cause, reported with it by design
"""
from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from engine.diagnostics import CODES, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "diagnostics"
BASE = FIXTURES / "_base" / "kb"
DOC = Path(__file__).parent.parent / "docs" / "diagnostics.md"
LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>BD\d{3}) ", re.MULTILINE)

# Registered codes that nothing emits yet: strict xfail, so the day one is emitted the fixture is due.
NOT_EMITTED: dict[str, str] = {}


def prepare(case_dir: Path, tmp_path: Path) -> tuple[list[str], dict]:
    case = yaml.safe_load((case_dir / "case.yaml").read_text())
    kb = tmp_path / "kb"
    shutil.copytree(BASE, kb)
    if (case_dir / "kb").is_dir():
        shutil.copytree(case_dir / "kb", kb, dirs_exist_ok=True)
    for rel in case.get("remove", []):
        (kb / rel).unlink()
    for rel, text in case.get("append", {}).items():
        with open(kb / rel, "a", encoding="utf-8") as out:
            out.write(text)
    args = [part.format(kb=kb, here=case_dir, tmp=tmp_path) for part in shlex.split(case["run"])]
    return args, case


def codes_in(text: str) -> set[str]:
    return {m["code"] for m in LINE.finditer(text)}


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_code_has_a_fixture_that_produces_exactly_it(code, tmp_path, cli, monkeypatch, request):
    if code in NOT_EMITTED:
        request.applymarker(pytest.mark.xfail(reason=NOT_EMITTED[code], strict=True))
    case_dir = FIXTURES / code
    assert (case_dir / "case.yaml").is_file(), f"{code} has no fixture: add {case_dir}/case.yaml"
    args, case = prepare(case_dir, tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli(*args)
    assert codes_in(result.err) == {code, *case.get("also", [])}, result.err
    assert "Traceback" not in result.err
    if CODES[code][0] is Severity.ERROR:
        assert result.status == 1, (result.status, result.err)


def test_every_fixture_names_a_registered_code():
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders - set(CODES) == set()


def test_the_base_knowledge_base_passes_strict_checks(cli):
    result = cli("check", BASE, "--strict")
    assert (result.status, result.err) == (0, "")


def test_docs_diagnostics_md_is_generated_from_the_registry():
    from engine.diagnostics_doc import catalogue_markdown

    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), \
        "docs/diagnostics.md is stale: run `badges check --codes > docs/diagnostics.md`"


def test_every_code_appears_in_the_catalogue_with_its_severity():
    text = DOC.read_text(encoding="utf-8")
    for code, (severity, meaning) in CODES.items():
        assert f"| {code} | {severity.value} | {meaning} |" in text
