"""Golden files: rendered output compared whole with a file stored here.

``assert_golden(name, text)`` fails with a unified diff when ``text`` differs from
``tests/golden/<name>``. With ``BADGES_UPDATE_GOLDEN=1`` in the environment it
(re)writes the file instead, so a deliberate change of output is one command and a
reviewable diff.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent
UPDATE = os.environ.get("BADGES_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; create it with BADGES_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                            fromfile=f"golden/{name}", tofile="actual"))
        pytest.fail(f"output differs from golden/{name} (BADGES_UPDATE_GOLDEN=1 rewrites it):\n{diff}",
                    pytrace=False)
