"""durable_rules' decisions and the explanation trail must always agree.

Random condition trees (every node kind and operator) are compiled to durable_rules
and evaluated on random entities with random gaps; the engine raises if the two
disagree, and the property also checks the trail against a direct evaluation.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import model as m
from engine.diagnostics import Location
from engine.inference import Engine
from explain.trail import Truth
from tests.conftest import make_entity

HERE = Location("<generated>")
FACTS = {
    "share": m.FactSpec("share", "percentage", "d", "q", None, None, (0.0, 1.0), HERE),
    "share2": m.FactSpec("share2", "percentage", "d", "q", None, None, (0.0, 1.0), HERE),
    "count": m.FactSpec("count", "integer", "d", "q", None, None, (0, None), HERE),
    "flag": m.FactSpec("flag", "boolean", "d", "q", None, None, None, HERE),
    "tool": m.FactSpec("tool", "enum", "d", "q", None, ("a", "b", "c"), None, HERE),
    "groups": m.FactSpec("groups", "enum_list", "d", "q", None, ("w", "x", "y"), None, HERE),
    "since": m.FactSpec("since", "date", "d", "q", None, None, None, HERE),
}
SHARES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000001, 0.75, 1.0, 1e-7])
COUNTS = st.integers(0, 5)
DATES = st.sampled_from(["2000-01-01", "2010-06-30", "2020-12-31"])
ENUMS = st.sampled_from(["a", "b", "c"])
SUBSETS = st.lists(st.sampled_from(["w", "x", "y"]), unique=True, max_size=3).map(tuple)

_ids = iter(range(10**9))


def _node_id() -> str:
    return f"n{next(_ids)}"


def comparisons():
    numeric_ops = st.sampled_from(["at_least", "more_than", "at_most", "less_than", "equals", "not_equals"])
    def cmp(fact, op, value=None, other=None):
        return m.Comparison(_node_id(), "d", None, HERE, fact=fact, op=op, value=value, other_fact=other)
    return st.one_of(
        st.builds(lambda op, v: cmp("share", op, v), numeric_ops, SHARES),
        st.builds(lambda op: cmp("share", op, other="share2"), numeric_ops),
        st.builds(lambda op, v: cmp("count", op, v), numeric_ops, COUNTS),
        st.builds(lambda op, v: cmp("since", op, v), numeric_ops, DATES),
        st.builds(lambda v: cmp("flag", "is", v), st.booleans()),
        st.builds(lambda op, v: cmp("tool", op, v), st.sampled_from(["is", "is_not"]), ENUMS),
        st.builds(lambda op, v: cmp("tool", op, tuple(v)), st.sampled_from(["one_of", "not_one_of"]),
                  st.lists(ENUMS, min_size=1, max_size=3, unique=True)),
        st.builds(lambda op, v: cmp("groups", op, v), st.sampled_from(["includes", "excludes"]),
                  st.sampled_from(["w", "x", "y"])),
        st.builds(lambda op, v: cmp("groups", op, tuple(v)),
                  st.sampled_from(["includes_any", "includes_all", "includes_none"]),
                  st.lists(st.sampled_from(["w", "x", "y"]), min_size=1, max_size=3, unique=True)),
    )


def trees(max_leaves: int = 8):
    def extend(children):
        lists = st.lists(children, min_size=1, max_size=3).map(tuple)
        return st.one_of(
            lists.map(lambda cs: m.AllOf(_node_id(), "d", None, HERE, children=cs)),
            lists.map(lambda cs: m.AnyOf(_node_id(), "d", None, HERE, children=cs)),
            children.map(lambda c: m.Not(_node_id(), "d", None, HERE, child=c)),
            lists.flatmap(lambda cs: st.integers(1, len(cs)).map(
                lambda n: m.AtLeast(_node_id(), "d", None, HERE, count=n, children=cs))),
        )
    return st.recursive(comparisons(), extend, max_leaves=max_leaves)


def entities():
    optional = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731 - None means unknown
    return st.fixed_dictionaries({
        "share": optional(SHARES), "share2": optional(SHARES), "count": optional(COUNTS),
        "flag": optional(st.booleans()), "tool": optional(ENUMS), "groups": optional(SUBSETS),
        "since": optional(DATES),
    }).map(lambda d: make_entity({k: v for k, v in d.items() if v is not None}))


def conclusion(cid: str, kind: str, condition) -> m.Conclusion:
    return m.Conclusion(cid, kind, cid, "d", "1.0.0", "2026-01-01", "tests", None, condition, "p",
                        f"{cid}.yaml", 1, "0" * 64)


def graded(cid: str, level_trees) -> m.Conclusion:
    levels = tuple(m.Level(name, "d", None, tree, HERE) for name, tree in zip(("high", "middle"), level_trees))
    return m.Conclusion(cid, m.LEVEL, cid, "d", "1.0.0", "2026-01-01", "tests", None, None, "p",
                        f"{cid}.yaml", 1, "0" * 64, levels=levels, otherwise="low")


def knowledge_base(derived_tree, badge_tree, level_trees=None) -> m.KnowledgeBase:
    derived = conclusion("derived-one", m.DERIVED, derived_tree)
    ref = m.ConclusionRef(_node_id(), "d", None, HERE, conclusion="derived-one")
    badge = conclusion("badge-one", m.BADGE, m.AllOf(_node_id(), "d", None, HERE, children=(badge_tree, ref)))
    either = conclusion("badge-two", m.BADGE, m.AnyOf(_node_id(), "d", None, HERE, children=(ref, badge_tree)))
    rules = [derived, badge, either]
    if level_trees:
        rules.append(graded("level-one", level_trees))
        high_or_middle = m.ConclusionRef(_node_id(), "d", None, HERE, conclusion="level-one",
                                         outcomes=("high", "middle"))
        rules.append(conclusion("finding-one", m.DIAGNOSTIC,
                                m.AllOf(_node_id(), "d", None, HERE, children=(high_or_middle, ref))))
    pack = m.Pack("p", "p", "partner", "1.0.0", "", m.frozen_map(FACTS),
                  m.frozen_map({c.id: c for c in rules}), "")
    return m.KnowledgeBase("generated", "1.0.0", "", "", m.frozen_map({"p": pack}), m.frozen_map({}), "", ())


def direct(node, facts: dict) -> Truth:
    """An independent evaluation straight from the model, for the trail to match."""
    from explain.trail import combine, compare

    if isinstance(node, m.Comparison):
        if node.fact not in facts or (node.other_fact and node.other_fact not in facts):
            return Truth.UNKNOWN
        threshold = facts[node.other_fact] if node.other_fact else node.value
        return Truth.TRUE if compare(node.op, facts[node.fact], threshold) else Truth.FALSE
    kind = {m.AllOf: "all", m.AnyOf: "any", m.Not: "not", m.AtLeast: "at_least"}[type(node)]
    return combine(kind, [direct(c, facts) for c in m.children_of(node)], getattr(node, "count", None))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(derived_tree=trees(), badge_tree=trees(), population=st.lists(entities(), min_size=1, max_size=4))
def test_durable_rules_and_trail_agree(derived_tree, badge_tree, population):
    kb = knowledge_base(derived_tree, badge_tree)
    with Engine(kb) as engine:
        for entity in population:
            result = engine.evaluate(entity)  # raises EngineDisagreement on any mismatch
            facts = {k: v.value for k, v in entity.facts.items()}
            assert result.values["derived-one"] is direct(derived_tree, facts)
            inner = direct(badge_tree, facts)
            from explain.trail import combine
            assert result.values["badge-one"] is combine("all", [inner, result.values["derived-one"]])
            assert result.values["badge-two"] is combine("any", [result.values["derived-one"], inner])


def direct_level(level_trees, facts: dict) -> str:
    """A graded conclusion's outcome straight from its definition."""
    for name, tree in zip(("high", "middle"), level_trees):
        value = direct(tree, facts)
        if value is Truth.UNKNOWN:
            return "undetermined"
        if value is Truth.TRUE:
            return name
    return "low"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(derived_tree=trees(), badge_tree=trees(24), level_trees=st.lists(trees(16), min_size=2, max_size=2),
       population=st.lists(entities(), min_size=1, max_size=4))
def test_levels_and_large_trees_agree(derived_tree, badge_tree, level_trees, population):
    """Graded conclusions, references to them, and trees too large for one durable_rules rule."""
    from explain.trail import combine

    kb = knowledge_base(derived_tree, badge_tree, level_trees)
    with Engine(kb) as engine:
        for entity in population:
            result = engine.evaluate(entity)
            facts = {k: v.value for k, v in entity.facts.items()}
            level = direct_level(level_trees, facts)
            assert result.outcomes["level-one"] == level
            inner = Truth.UNKNOWN if level == "undetermined" else Truth.TRUE if level != "low" else Truth.FALSE
            expected = combine("all", [inner, result.values["derived-one"]])
            assert result.outcomes["finding-one"] == {Truth.TRUE: "found", Truth.FALSE: "not_found",
                                                      Truth.UNKNOWN: "undetermined"}[expected]
            assert result.values["badge-two"] is combine("any", [result.values["derived-one"],
                                                                 direct(badge_tree, facts)])


def test_a_tree_too_large_for_one_rule_is_split_into_parts():
    """durable_rules rejects a rule of more than 31 expression slots (error 113); the compiler splits."""
    from engine.compiler import compile_program
    from engine.rule_limits import cost

    leaves = [m.Comparison(_node_id(), "d", None, HERE, fact="tool", op="is", value=v) for v in ("a", "b", "c")]
    pairs = tuple(m.AllOf(_node_id(), "d", None, HERE, children=(leaves[i % 3], leaves[(i + 1) % 3]))
                  for i in range(20))
    big = m.AtLeast(_node_id(), "d", None, HERE, count=3, children=pairs[:8])
    kb = knowledge_base(m.AnyOf(_node_id(), "d", None, HERE, children=pairs), big)
    program = compile_program(kb, "partner")
    assert any(meaning.sets_field for meaning in program.rule_names.values())
    assert all(cost(rule["all"][0]["m"]) <= 31 for rule in program.definition.values())
    with Engine(kb) as engine:
        for tool in ("a", "b", "c"):
            result = engine.evaluate(make_entity({"tool": tool}))
            assert result.outcomes["derived-one"] == "does_not_hold"
