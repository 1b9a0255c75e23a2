"""Golden files for ``badges why``: the terminal tree (width 100, no colour), Markdown and JSON.

Each case renders one (partner, badge) pair from the bundled examples and compares the whole
output with ``tests/golden/why/<case>.<ext>``; a mismatch shows a unified diff. After a
deliberate change to the renderers or the knowledge base, regenerate and review the diff::

    BADGES_UPDATE_GOLDEN=1 pytest tests/test_golden.py
"""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO
from tests.golden import assert_golden

# case -> (facts file relative to the repository, badge, extra arguments, expected outcome)
CASES = {
    "granted": ("examples/partners/made-up-1-progreso-andino.yaml", "client-voice", (), "granted"),
    "not-granted": ("examples/partners/made-up-2-nyota-microcredit.yaml", "client-voice", (), "not_granted"),
    "undetermined": ("examples/partners/crecer.yaml", "client-voice", (), "undetermined"),
    "undetermined-full": ("examples/partners/crecer.yaml", "client-voice", ("--full",), "undetermined"),
    "not-granted-full": ("examples/partners/made-up-2-nyota-microcredit.yaml", "client-voice", ("--full",),
                         "not_granted"),
}
FORMATS = {"tree": "txt", "md": "md", "json": "json"}


@pytest.fixture(autouse=True)
def _from_the_repository(monkeypatch):
    # paths in the output are the ones given on the command line: keep them relative
    monkeypatch.chdir(REPO)


def _redacted(out: str, fmt: str) -> str:
    """The JSON with the digest of the whole knowledge base blanked: it changes with any rule file."""
    if fmt != "json":
        return out
    data = json.loads(out)
    assert re.fullmatch(r"[0-9a-f]{64}", data["knowledge_base"]["sha256"])
    data["knowledge_base"]["sha256"] = "<sha256 of the knowledge base>"
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_why(cli, case, fmt):
    facts, badge, extra, _ = CASES[case]
    result = cli("why", facts, badge, "--format", fmt, *extra)
    assert (result.status, result.err) == (0, "")
    assert_golden(f"why/{case}.{FORMATS[fmt]}", _redacted(result.out, fmt))


@pytest.mark.parametrize("case", CASES)
def test_cases_cover_the_outcome_they_are_named_for(cli, case):
    """Guards the golden set itself: a knowledge-base change must not silently turn every case alike."""
    facts, badge, _, outcome = CASES[case]
    result = cli("why", facts, badge, "--format", "json")
    assert json.loads(result.out)["trail"]["outcome"] == outcome


def test_tree_is_plain_text_at_width_100(cli):
    facts, badge, extra, _ = CASES["undetermined-full"]
    out = cli("why", facts, badge, *extra).out
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
