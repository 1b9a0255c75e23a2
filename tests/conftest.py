from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MINI_KB = REPO / "tests" / "fixtures" / "mini_kb"
BUNDLED_KB = REPO / "knowledge_base"
EXAMPLES = REPO / "examples" / "partners"
SEEDS = REPO.parent / "shared" / "seeds"


@pytest.fixture(scope="session", autouse=True)
def private_kb_cache(tmp_path_factory):
    """Commands cache knowledge bases in a folder of the test run's, never the user's own
    (subprocesses inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BADGES_CACHE_DIR", str(tmp_path_factory.mktemp("kb-cache")))
        yield


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def cli():
    """Run the badges CLI in-process; returns exit status, stdout and stderr.

    It swaps stdout and stderr with a MonkeyPatch of its own, so undoing that never
    undoes the calling test's own patches (its environment variables, say).
    """
    from engine.cli import main

    def run(*args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        streams = pytest.MonkeyPatch()
        streams.setattr(sys, "stdout", out)
        streams.setattr(sys, "stderr", err)
        try:
            status = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse usage errors
            status = exit_.code
        finally:
            streams.undo()
        return Run(status, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(scope="session")
def mini_kb():
    from engine import load_knowledge_base

    return load_knowledge_base(MINI_KB)


@pytest.fixture(scope="session")
def bundled_kb():
    from engine import load_knowledge_base

    return load_knowledge_base(BUNDLED_KB)


def make_entity(facts: dict, kind: str = "partner", entity_id: str = "e1"):
    """An in-memory entity from bare, already-normalised values."""
    from engine.diagnostics import Location
    from engine.model import Entity, Evidence, FactValue, frozen_map

    return Entity(kind, entity_id, entity_id, None, "<memory>",
                  frozen_map({k: FactValue(k, v, Evidence(), Location("<memory>")) for k, v in facts.items()}))
