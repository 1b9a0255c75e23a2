"""The compiled node evaluation must agree with TrailBuilder's recursive one, node for node.

Random condition trees, graded levels and references between conclusions (borrowing the
strategies of test_agreement_property), the bundled knowledge base on its examples, rule
data written to defeat the code generator, and a knowledge base far larger than any real one.
"""
from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import model as m
from engine.compiler import compile_program
from engine.facts_loader import load_entities
from explain.node_values import NodeEvaluator
from explain.trail import TrailBuilder
from tests.conftest import REPO, make_entity
from tests.test_agreement_property import FACTS, HERE, _node_id, conclusion, entities, trees

TWO_VALUED = [m.DERIVED, m.BADGE, m.DIAGNOSTIC, m.RECOMMENDATION]
TREES, SMALL_TREES = trees(), trees(4)  # built once: making a recursive strategy is not free


def graded(cid: str, level_trees, names=("high", "middle", "low"), otherwise="none") -> m.Conclusion:
    levels = tuple(m.Level(name, "d", None, tree, HERE) for name, tree in zip(names, level_trees))
    return m.Conclusion(cid, m.LEVEL, cid, "d", "1.0.0", "2026-01-01", "tests", None, None, "p",
                        f"{cid}.yaml", 1, "0" * 64, levels=levels, otherwise=otherwise)


@st.composite
def conclusion_lists(draw) -> list[m.Conclusion]:
    """Conclusions, dependencies first: random trees joined with references to earlier
    conclusions (graded ones with or without outcomes) and with one subtree they share."""
    shared = draw(SMALL_TREES)
    made: list[m.Conclusion] = []

    def condition():
        parts = [draw(TREES)]
        for _ in range(draw(st.integers(0, 2)) if made else 0):
            target = draw(st.sampled_from(made))
            outcomes = draw(st.none() | st.lists(st.sampled_from(target.outcomes), min_size=1, unique=True))
            ref = m.ConclusionRef(_node_id(), "d", None, HERE, conclusion=target.id,
                                  outcomes=None if outcomes is None else tuple(outcomes))
            parts.append(m.Not(_node_id(), "d", None, HERE, child=ref) if draw(st.booleans()) else ref)
        if draw(st.booleans()):
            parts.append(shared)
        if len(parts) == 1:
            return parts[0]
        shape = draw(st.sampled_from([m.AllOf, m.AnyOf, m.AtLeast]))
        if shape is m.AtLeast:
            return m.AtLeast(_node_id(), "d", None, HERE, count=draw(st.integers(1, len(parts))),
                             children=tuple(parts))
        return shape(_node_id(), "d", None, HERE, children=tuple(parts))

    for i in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            made.append(graded(f"c{i}", [condition() for _ in range(draw(st.integers(1, 3)))]))
        else:
            made.append(conclusion(f"c{i}", draw(st.sampled_from(TWO_VALUED)), condition()))
    return made


def assert_agrees(evaluator: NodeEvaluator, conclusions, facts, entity, trails: bool = True) -> None:
    """Every node's truth, every outcome and (unless told not to) every trail, with the
    evaluation and without."""
    by_id = {c.id: c for c in conclusions}
    fast = TrailBuilder(entity, by_id, facts, evaluator(entity.values))
    slow = TrailBuilder(entity, by_id, facts)
    # in dependency order, so the recursive builder's memo keeps its recursion shallow
    assert evaluator(entity.values).outcomes == {c: slow.outcome(c)[1] for c in by_id}
    # .name: a plain "true" string would compare equal to Truth.TRUE; the members must come back
    assert [fast.outcome(c)[0].name for c in by_id] == [slow.outcome(c)[0].name for c in by_id]
    assert [fast.value(n).name for n in evaluator.nodes] == [slow.value(n).name for n in evaluator.nodes]
    if trails:
        assert [fast.trail(c) for c in by_id] == [slow.trail(c) for c in by_id]


def covers_every_node(evaluator: NodeEvaluator, conclusions) -> bool:
    return set(evaluator.index) == {id(node) for c in conclusions for node in c.nodes()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conclusions=conclusion_lists(), population=st.lists(entities(), min_size=1, max_size=4))
def test_compiled_values_equal_the_recursive_evaluation(conclusions, population):
    evaluator = NodeEvaluator(conclusions, FACTS)
    assert covers_every_node(evaluator, conclusions)
    for entity in population:
        assert_agrees(evaluator, conclusions, FACTS, entity)


@pytest.mark.parametrize("kind, folder", [("partner", "partners"), ("association", "associations")])
def test_bundled_knowledge_base_on_its_examples(bundled_kb, kind, folder):
    program = compile_program(bundled_kb, kind)
    evaluator = NodeEvaluator(program.conclusions, program.facts)
    assert covers_every_node(evaluator, program.conclusions)
    examples = load_entities([REPO / "examples" / folder], bundled_kb)
    assert examples
    # and with every fact unknown, where every level and reference is undetermined
    for entity in examples + [make_entity({}, kind)]:
        assert_agrees(evaluator, program.conclusions, program.facts, entity)


HOSTILE = ("it's", 'say "hi"', "back\\slash\\", "two\nlines", "cr\rlf", "\u2028sep", "# not a comment",
           "__import__('os').system('false')", "'''", '"""', "x') or __import__('os') or ('")


def test_hostile_rule_data_is_embedded_as_data():
    """Quotes, backslashes, line breaks and code in ids, fact names and values stay strings."""
    tool, groups = HOSTILE[-1], HOSTILE[3]  # fact names are rule data too
    facts = {tool: m.FactSpec(tool, "enum", "d", "q", None, HOSTILE, None, HERE),
             groups: m.FactSpec(groups, "enum_list", "d", "q", None, HOSTILE, None, HERE)}
    leaves = [m.Comparison(text, "d", None, HERE, fact=tool, op="is", value=text) for text in HOSTILE]
    leaves += [m.Comparison(_node_id(), "d", None, HERE, fact=groups, op=op, value=HOSTILE)
               for op in ("includes_any", "includes_all", "includes_none")]
    leaves.append(m.Comparison(_node_id(), "d", None, HERE, fact=groups, op="includes", value=HOSTILE[0]))
    level = graded(HOSTILE[7], [m.AnyOf(HOSTILE[8], "d", None, HERE, children=tuple(leaves))],
                   names=HOSTILE[1:2], otherwise=HOSTILE[2])
    ref = m.ConclusionRef(HOSTILE[9], "d", None, HERE, conclusion=level.id, outcomes=(HOSTILE[1],))
    conclusions = [level, conclusion(HOSTILE[4], m.BADGE, ref)]
    evaluator = NodeEvaluator(conclusions, facts)

    tree = ast.parse(evaluator.source)
    assert {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)} == {"get"}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert all(name in ("values", "get") or (name[0] in "nfo" and name[1:].isdigit()) for name in names)
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert strings <= set(HOSTILE) | {m.UNDETERMINED, "granted", "not_granted"}
    lines = evaluator.source.splitlines()
    for i, node in enumerate(evaluator.nodes):  # each node on one line, its id in a comment
        [line] = [text for text in lines if text.startswith(f"    n{i} = ")]
        assert line.endswith(f"  # {node.id!r}")

    for text in HOSTILE:
        entity = make_entity({tool: text, groups: (text,)})
        assert evaluator(entity.values).value(leaves[HOSTILE.index(text)]).name == "TRUE"
        assert_agrees(evaluator, conclusions, facts, entity)


class Sly(str):
    """A string whose repr() is code: why literals are checked by exact type."""

    def __repr__(self) -> str:
        return "__import__('os')"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [0.5], None, Sly("a")])
def test_values_that_are_not_plain_literals_are_refused(value):
    leaf = m.Comparison("leaf", "d", None, HERE, fact="share", op="at_least", value=value)
    with pytest.raises(TypeError):
        NodeEvaluator([conclusion("c", m.BADGE, leaf)], FACTS)


def test_a_reference_must_follow_the_conclusion_it_reads():
    ref = m.ConclusionRef("ref", "d", None, HERE, conclusion="later")
    later = conclusion("later", m.DERIVED, m.Comparison("leaf", "d", None, HERE, fact="flag", op="is", value=True))
    with pytest.raises(ValueError, match="not compiled before it"):
        NodeEvaluator([conclusion("first", m.BADGE, ref), later], FACTS)


def test_a_very_large_knowledge_base_compiles():
    """Thousands of children under one node and a long chain of references stay flat code."""
    leaves = tuple(m.Comparison(_node_id(), "d", None, HERE, fact="count", op="at_least", value=i % 7)
                   for i in range(5000))
    chain = [conclusion("c0", m.DERIVED, m.AtLeast(_node_id(), "d", None, HERE, count=2500, children=leaves))]
    for i in range(1, 2000):
        ref = m.ConclusionRef(_node_id(), "d", None, HERE, conclusion=chain[-1].id)
        chain.append(conclusion(f"c{i}", m.DERIVED, m.Not(_node_id(), "d", None, HERE, child=ref)))
    evaluator = NodeEvaluator(chain, FACTS)
    for facts in ({}, {"count": 3}, {"count": 6}):  # trails of 2,000 nested conclusions would recurse too deep
        assert_agrees(evaluator, chain, FACTS, make_entity(facts), trails=False)
