"""Every citation in the bundled knowledge base names a known source, and every quote is verbatim.

Quotes are compared with white space collapsed and curly quotes read as straight ones; the
seed files live in ``<repo>/../shared/seeds`` (DOMAIN.md in ``<repo>/../shared``).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.diagnostics import Collector
from engine.source import read_document
from tests.conftest import BUNDLED_KB, SEEDS

SHARED = SEEDS.parent
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "\u00a0": " "})


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(_QUOTES)).strip()


def _cites(node, path=()):
    """(path, cite mapping) for every ``cite`` anywhere in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "cite" and isinstance(value, dict):
                yield path + (key,), value
            else:
                yield from _cites(value, path + (key,))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _cites(item, path + (i,))


def _all_cites():
    found = []
    for file in sorted(BUNDLED_KB.rglob("*.yaml")):
        collector = Collector()
        document = read_document(file, collector)
        assert document is not None, [d.format() for d in collector.items]
        for path, cite in _cites(document.data):
            found.append((str(document.at(path)).replace(str(BUNDLED_KB) + "/", ""), cite))
    return found


CITES = _all_cites()
SOURCES = {s["id"]: s["file"] for s in read_document(BUNDLED_KB / "sources.yaml", Collector()).data["sources"]}
QUOTED = [(where, cite) for where, cite in CITES if cite.get("quote")]


def _source_text(file: str) -> str:
    for folder in (SEEDS, SHARED):
        if (folder / file).is_file():
            return normalise((folder / file).read_text(encoding="utf-8"))
    pytest.skip(f"source file {file} not found beside the repository ({SEEDS})")


def test_the_knowledge_base_cites_its_sources():
    assert len(CITES) > 100 and len(QUOTED) > 20


def test_every_cite_names_a_known_source():
    unknown = [f"{where}: {cite.get('source')}" for where, cite in CITES if cite.get("source") not in SOURCES]
    assert unknown == []


def test_every_source_file_exists():
    if not SEEDS.is_dir():
        pytest.skip(f"the source documents are not beside the repository ({SEEDS}); CI has them")
    missing = [file for file in SOURCES.values() if not any((d / file).is_file() for d in (SEEDS, SHARED))]
    assert missing == []


@pytest.mark.parametrize("source", sorted({c["source"] for _, c in QUOTED if c["source"] in SOURCES}))
def test_every_quote_is_verbatim(source):
    text = _source_text(SOURCES[source])
    wrong = [f"{where}: “{cite['quote']}”" for where, cite in QUOTED
             if cite["source"] == source and normalise(cite["quote"]) not in text]
    assert wrong == [], f"quotes not found in {SOURCES[source]}:\n" + "\n".join(wrong)


def test_normalise_is_tolerant_only_of_spacing_and_quote_marks():
    assert normalise("the ‘client’s\n  voice’") == normalise("the 'client's voice'")
    assert normalise("Client Voice") != normalise("client voice")
