"""libyaml reads every YAML file exactly as PyYAML's own reader does (engine/source.py fast path)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine import source
from engine.diagnostics import Collector

REPO = Path(__file__).resolve().parent.parent
FILES = sorted([*REPO.glob("knowledge_base/**/*.yaml"), *REPO.glob("examples/**/*.yaml"),
                *REPO.glob("tests/fixtures/**/*.yaml")])


def _signature(node):
    where = (node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return node.tag, node.value, where
    if isinstance(node, yaml.SequenceNode):
        return node.tag, where, [_signature(child) for child in node.value]
    return node.tag, where, [(_signature(key), _signature(value)) for key, value in node.value]


def _slow(text: str):
    loader = source._Loader(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return [_signature(n) for n in nodes], [(a, m.line, m.column) for a, m in loader.aliases]
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


@pytest.mark.skipif(source._libyaml is None, reason="PyYAML without libyaml")
def test_every_yaml_file_reads_the_same_through_libyaml():
    assert len(FILES) > 50
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        fast = source._compose_fast(text)
        slow = _slow(text)
        if fast is None:  # libyaml refused it: PyYAML must refuse it too, and says why
            assert slow is None or yaml.reader.Reader.NON_PRINTABLE.search(text), path
            continue
        nodes, aliases = fast
        assert ([_signature(n) for n in nodes], [(a, m.line, m.column) for a, m in aliases]) == slow, path


@pytest.mark.parametrize("text, code", [
    ("a: 1\nb: [1, 2\n", "BD002"),  # libyaml fails: PyYAML's message is the one reported
    ("a: &x 1\nb: *x\n", "BD009"),
    ("a: 1\n---\nb: 2\n", "BD006"),
    ("a: \x07\n", "BD002"),  # a control character: only PyYAML's reader is asked
])
def test_problems_are_reported_as_before(text, code):
    collector = Collector()
    assert source.parse_text(text, "x.yaml", collector) is None
    assert [d.code for d in collector.items] == [code]
