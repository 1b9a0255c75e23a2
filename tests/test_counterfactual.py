"""What would it take: domains, minimal change sets proved on the engine, and the "To qualify" section."""
from __future__ import annotations

import json
import shutil
from itertools import combinations

import pytest

from engine.diagnostics import Location
from engine.model import FactSpec
from tests.conftest import EXAMPLES, MINI_KB, REPO, make_entity

GRADED_KB = REPO / "tests" / "fixtures" / "graded_kb"


def spec(type_, values=None, range_=None):
    return FactSpec("f", type_, "", "", None, tuple(values) if values else None, range_, Location("<test>"))


# ---------------------------------------------------------------- domains

DOMAIN_CASES = [
    # type, values, op, threshold, holds for, fails for, describe, witness from the first failing value
    ("percentage", None, "at_least", 0.5, [0.5, 0.9], [0.41], "at least 50%", 0.5),
    ("percentage", None, "more_than", 0.5, [0.51], [0.5], "more than 50%", 0.51),
    ("percentage", None, "less_than", 0.3, [0.29], [0.3, 0.8], "less than 30%", 0.29),
    ("integer", None, "more_than", 1000, [1001], [1000, 3], "more than 1000", 1001),
    ("number", None, "equals", 12.5, [12.5], [3.0], "exactly 12.5", 12.5),
    ("number", None, "not_equals", 3.0, [2.0], [3.0], "other than 3", 4.0),
    ("date", None, "at_most", "2020-12-31", ["2020-01-01"], ["2021-01-01"], "at most 2020-12-31", "2020-12-31"),
    ("boolean", None, "is", True, [True], [False], "true", True),
    ("enum", ["a", "b", "c"], "is_not", "c", ["a", "b"], ["c"], "a or b", "a"),
    ("enum", ["a", "b", "c"], "one_of", ("a", "b"), ["a"], ["c"], "a or b", "a"),
    ("enum", list("abcdef"), "not_one_of", ("e", "f"), ["a"], ["f"], "anything but e, f", "a"),
    ("enum", list("abcdef"), "one_of", ("b", "c", "d"), ["d"], ["a"], "one of b, c, d", "b"),
    ("enum", ["a", "b", "c", "d"], "is", "b", ["b"], ["a"], "b", "b"),
    ("enum_list", ["a", "b", "c"], "includes", "b", [("a", "b")], [("a",)], "including b", ("a", "b")),
    ("enum_list", ["a", "b", "c"], "includes_any", ("b", "c"), [("c",)], [("a",)], "including one of b, c", ("a", "b")),
    ("enum_list", ["a", "b", "c"], "includes_none", ("a",), [()], [("a", "c")], "without a", ("c",)),
]


@pytest.mark.parametrize("type_,values,op,threshold,holds,fails,words,witness", DOMAIN_CASES)
def test_comparison_domains(type_, values, op, threshold, holds, fails, words, witness):
    from explain.fact_domains import comparison_domains, failing_domains

    range_ = (0.0, 1.0) if type_ == "percentage" else None
    fact = spec(type_, values, range_)
    [domain] = comparison_domains(fact, op, threshold)
    assert all(domain.contains(v) for v in holds)
    assert not any(domain.contains(v) for v in fails)
    assert domain.describe() == words
    assert domain.witness(fails[0]) == witness and domain.contains(witness)
    # the failing domains hold exactly where the comparison fails
    failing = failing_domains(fact, op, threshold)
    assert all(any(d.contains(v) for d in failing) for v in fails)
    assert not any(d.contains(v) for d in failing for v in holds)


def test_includes_all_fails_by_missing_any_member():
    from explain.fact_domains import failing_domains

    failing = failing_domains(spec("enum_list", ["a", "b", "c"]), "includes_all", ("a", "b"))
    assert sorted(d.describe() for d in failing) == ["without a", "without b"]


@pytest.mark.parametrize("first,second,empty", [
    (("at_least", 0.5), ("less_than", 0.4), True),
    (("at_least", 0.5), ("at_most", 0.5), False),
    (("more_than", 0.5), ("at_most", 0.5), True),
    (("at_least", 0.2), ("not_equals", 0.2), False),
])
def test_numeric_intersection(first, second, empty):
    from explain.fact_domains import comparison_domains

    fact = spec("percentage", range_=(0.0, 1.0))
    [a], [b] = comparison_domains(fact, *first), comparison_domains(fact, *second)
    assert (a.intersect(b) is None) is empty


def test_integer_interval_without_a_whole_number_is_empty():
    from explain.fact_domains import comparison_domains

    fact = spec("integer")
    [a], [b] = comparison_domains(fact, "more_than", 3), comparison_domains(fact, "less_than", 4)
    assert a.intersect(b) is None


def test_list_requirements_that_contradict_are_empty():
    from explain.fact_domains import comparison_domains

    fact = spec("enum_list", ["a", "b"])
    [needs], [without] = comparison_domains(fact, "includes_any", ("a",)), comparison_domains(fact, "excludes", "a")
    assert needs.intersect(without) is None


# ---------------------------------------------------------------- the search, proved on the engine

def _answers(kb, entity):
    from engine.inference import Engine
    from explain.counterfactual import Counterfactuals

    with Engine(kb) as engine:
        result = engine.evaluate(entity)
        return result, Counterfactuals(engine).for_result(result)


def _outcome(kb, entity, conclusion_id):
    from engine.inference import Engine

    with Engine(kb) as engine:
        return engine.evaluate(entity).trails[conclusion_id].outcome


def _with(entity, changes):
    from dataclasses import replace

    from engine.model import Evidence, FactValue, frozen_map

    facts = dict(entity.facts)
    facts.update({c.fact: FactValue(c.fact, c.value, Evidence(), Location("<test>")) for c in changes})
    return replace(entity, facts=frozen_map(facts))


def _texts(answer):
    from explain.render_qualify import change_text

    return [[change_text(c) for c in s.changes] for s in answer.change_sets]


def test_every_suggestion_grants_and_no_smaller_part_of_it_does(bundled_kb):
    """For each example partner: every shown change set grants; leaving out any of its changes does not."""
    from engine.facts_loader import load_entities

    checked = 0
    for entity in load_entities([EXAMPLES], bundled_kb):
        result, answers = _answers(bundled_kb, entity)
        for cid, answer in answers.items():
            assert answer.outcome == result.trails[cid].outcome != answer.target
            assert answer.possible and answer.unproved == 0
            sizes = [len(s.changes) for s in answer.change_sets]
            assert sizes == sorted(sizes)
            for change_set in answer.change_sets:
                assert _outcome(bundled_kb, _with(entity, change_set.changes), cid) == answer.target
                for smaller in combinations(change_set.changes, len(change_set.changes) - 1):
                    assert _outcome(bundled_kb, _with(entity, smaller), cid) != answer.target
                checked += 1
    assert checked > 50


def test_suggestions_are_capped_and_the_rest_counted(bundled_kb):
    entity = make_entity({})
    _, answers = _answers(bundled_kb, entity)
    innovation = answers["innovation"]
    assert len(innovation.change_sets) == 5 and innovation.more >= 1
    assert innovation.total == 5 + innovation.more


def test_granted_conclusions_get_no_section(bundled_kb):
    from engine.facts_loader import load_entities

    [entity] = load_entities([EXAMPLES / "made-up-1-progreso-andino.yaml"], bundled_kb)
    result, answers = _answers(bundled_kb, entity)
    granted = [d.conclusion.id for d in result.decisions if d.outcome == "granted"]
    assert granted and not set(granted) & set(answers)


def test_mini_kb_alternatives_in_order(mini_kb):
    _, answers = _answers(mini_kb, make_entity({}))
    assert _texts(answers["reach"]) == [
        ["supply clients: exactly 500"],
        ["supply groups: including women, farmers (checked with [women, farmers])"],
        ["supply groups: without refugees (checked with [])"],
        ["supply tool: ppi or mpi"],
    ]


def test_known_facts_are_overturned_and_unknown_ones_supplied(mini_kb):
    entity = make_entity({"clients": 10, "tool": "none"})
    _, answers = _answers(mini_kb, entity)
    first, *_ = answers["reach"].change_sets
    [change] = first.changes
    assert (change.fact, change.action, change.known, change.current, change.value) == ("clients", "change", True, 10, 500)
    assert first.overturns == 1
    supplied = [c for s in answers["reach"].change_sets for c in s.changes if c.fact == "groups"]
    assert supplied and all(c.action == "supply" and not c.known for c in supplied)


def test_fact_against_fact_moves_one_side_against_the_other(mini_kb):
    """focus needs two of three outreach signs; one is loan_size < income_per_capita."""
    entity = make_entity({"loan_size": 500.0, "income_per_capita": 300.0, "clients": 2000, "groups": ("refugees",),
                          "founded": "2001-01-01", "uses_tool": True, "tool": "ppi", "share_poor": 0.7})
    _, answers = _answers(mini_kb, entity)
    assert _texts(answers["focus"]) == [
        ["change groups: [refugees] → including one of women, youth (checked with [women, refugees])"],
        ["change income_per_capita: 300 → more than 500 (checked with 501)"],
        ["change loan_size: 500 → less than 300 (checked with 299)"],
    ]


def test_both_sides_unknown_are_supplied_together(mini_kb):
    entity = make_entity({"clients": 2000, "founded": "2001-01-01", "uses_tool": True, "tool": "ppi", "share_poor": 0.7})
    _, answers = _answers(mini_kb, entity)
    texts = _texts(answers["focus"])
    assert ["supply groups: including one of women, youth (checked with [women])"] in texts
    pair = next(t for t in texts if len(t) == 2)
    assert pair[0].startswith("supply income_per_capita: more than loan_size")
    assert pair[1].startswith("supply loan_size: less than income_per_capita")


def _kb_with(tmp_path, source, extra: dict[str, str]):
    from engine import load_knowledge_base

    root = tmp_path / "kb"
    shutil.copytree(source, root)
    for relative, text in extra.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root, load_knowledge_base(root)


IMPOSSIBLE = """\
id: impossible
kind: badge
name: Impossible
description: Needs a poor majority and, at once, not even two fifths poor.
version: 1.0.0
effective: 2026-01-01
owner: tests
cite: {source: test-source, section: One}
condition:
  id: im-root
  description: Both.
  cite: {source: test-source, section: One}
  all:
    - {id: im-majority, description: Majority poor., cite: {source: test-source, section: One},
       fact: share_poor, op: at_least, value: 0.5}
    - id: im-not-many
      description: Not two fifths.
      cite: {source: test-source, section: One}
      not: {id: im-two-fifths, description: Two fifths., cite: {source: test-source, section: One},
            fact: share_poor, op: at_least, value: 0.4}
"""


def test_contradiction_says_plainly_nothing_would_qualify(tmp_path, cli):
    root, kb = _kb_with(tmp_path, MINI_KB, {"demo/badges/impossible.yaml": IMPOSSIBLE})
    _, answers = _answers(kb, make_entity({"share_poor": 0.3}))
    answer = answers["impossible"]
    assert not answer.possible and answer.conflicts == ("share_poor",) and answer.more == 0
    facts = tmp_path / "p.yaml"
    facts.write_text("kind: partner\nid: p\nname: P\nfacts:\n  share_poor: 0.3\n")
    run = cli("why", facts, "impossible", "--kb", root)
    assert run.status == 0
    assert ("No change to the facts would make Impossible granted: every way to meet its conditions "
            "needs share_poor at incompatible values.") in " ".join(run.out.split())
    data = json.loads(cli("why", facts, "impossible", "--kb", root, "--format", "json").out)["to_qualify"]
    assert data["possible"] is False and data["change_sets"] == [] and data["conflicts"] == ["share_poor"]


BEYOND = IMPOSSIBLE.replace("id: impossible", "id: beyond").replace("name: Impossible", "name: Beyond").replace(
    "fact: share_poor, op: at_least, value: 0.5}", "fact: share_poor, op: more_than, value: 1.0}")


def test_a_value_no_fact_can_take_says_plainly_nothing_would_qualify(tmp_path):
    """More than 100% poor: no value of the fact fits, so no change can grant it."""
    _, kb = _kb_with(tmp_path, MINI_KB, {"demo/badges/beyond.yaml": BEYOND})
    _, answers = _answers(kb, make_entity({}))
    answer = answers["beyond"]
    assert answer.possible is False and answer.conflicts == ()
    from explain.render_qualify import headline

    assert headline(answer) == ("No change to the facts would make Beyond granted: "
                                "no values of the facts it reads meet its conditions.")


WELL_RUN = """\
id: well-run
kind: derived
name: Well run
description: Area one is strong.
version: 1.0.0
effective: 2026-01-01
owner: tests
cite: {source: test-source, section: One}
condition:
  id: wr-strong
  description: Area one reaches strong.
  cite: {source: test-source, section: One}
  conclusion: area-one
  outcomes: [strong]
"""


def test_a_graded_reference_needs_the_named_level(tmp_path):
    """Reaching 'strong' needs all three dimensions fully in place."""
    _, kb = _kb_with(tmp_path, GRADED_KB, {"assoc/derived/well-run.yaml": WELL_RUN})
    from engine.inference import Engine
    from explain.counterfactual import Counterfactuals

    entity = make_entity({"knows": "yes", "systems": "partial", "funded": True}, kind="association")
    with Engine(kb) as engine:
        answer = Counterfactuals(engine).conclusion(entity, "well-run", engine.evaluate(entity).trails["well-run"].outcome)
    assert answer.outcome == "does_not_hold" and answer.target == "holds"
    assert _texts(answer) == [["change systems: partial → yes"]]


@pytest.mark.parametrize("kind,outcome,target", [
    ("badge", "not_granted", "granted"), ("badge", "undetermined", "granted"), ("badge", "granted", None),
    ("derived", "does_not_hold", "holds"), ("diagnostic", "not_found", None), ("recommendation", "not_recommended", None),
    ("level", "weak", "developing"), ("level", "developing", "strong"), ("level", "undetermined", "strong"),
    ("level", "strong", None),
])
def test_what_each_kind_aims_at(kind, outcome, target):
    from engine import model as m
    from explain.counterfactual import target_outcome

    levels = tuple(m.Level(o, "", None, None, Location("<test>")) for o in ("strong", "developing"))
    conclusion = m.Conclusion("c", kind, "C", "", "1", "2026-01-01", "o", None, None, "p", "c.yaml", 1, "",
                              levels=levels if kind == "level" else (), otherwise="weak" if kind == "level" else None)
    assert target_outcome(conclusion, outcome) == target


def test_a_level_is_asked_what_would_take_it_one_level_up():
    from engine import load_knowledge_base
    from engine.inference import Engine
    from explain.counterfactual import Counterfactuals

    kb = load_knowledge_base(GRADED_KB)
    entity = make_entity({"knows": "partial", "systems": "no", "funded": True}, kind="association")
    with Engine(kb) as engine:
        answer = Counterfactuals(engine).conclusion(entity, "area-one", engine.evaluate(entity).trails["area-one"].outcome)
        assert (answer.outcome, answer.target) == ("developing", "strong")
        assert _texts(answer) == [["change knows: partial → yes", "change systems: no → yes"]]
        weak = make_entity({"knows": "no", "systems": "no", "funded": False}, kind="association")
        up = Counterfactuals(engine).conclusion(weak, "area-one", "weak")
    assert up.target == "developing" and len(up.change_sets) == 3  # any two of the three dimensions


# ---------------------------------------------------------------- badges why

def test_why_tree_shows_to_qualify_after_the_summary(cli):
    run = cli("why", EXAMPLES / "made-up-4-drina-kredit.yaml", "vulnerable-group-focus")
    assert run.status == 0
    text = " ".join(run.out.split())
    assert text.index("Vulnerable Group Focus is not granted:") < text.index("To qualify")
    assert "1. change share_clients_vulnerable_groups: 12% → at least 25% (overturns a known value)" in text


def test_why_markdown_and_json_carry_to_qualify(cli):
    md = cli("why", EXAMPLES / "crecer.yaml", "client-voice", "--format", "md")
    assert md.status == 0 and "### To qualify" in md.out and "supply collects\\_client\\_feedback: true" in md.out
    data = json.loads(cli("why", EXAMPLES / "crecer.yaml", "client-voice", "--format", "json").out)
    qualify = data["to_qualify"]
    assert qualify["target"] == "granted" and qualify["outcome"] == "undetermined" and qualify["possible"]
    [only] = qualify["change_sets"]
    assert {c["fact"] for c in only["changes"]} >= {"collects_client_feedback", "feedback_reported_to_management"}
    assert all(c["action"] == "supply" and c["current"] is None for c in only["changes"])


def test_why_json_to_qualify_is_null_when_granted(cli):
    data = json.loads(cli("why", EXAMPLES / "made-up-1-progreso-andino.yaml", "client-voice", "--format", "json").out)
    assert data["trail"]["outcome"] == "granted" and data["to_qualify"] is None


# ---------------------------------------------------------------- exact and minimal on random rules

def _grid():
    from tests.test_agreement_property import FACTS

    subsets = [tuple(v for i, v in enumerate(("w", "x", "y")) if mask >> i & 1) for mask in range(8)]
    shares = [0.0, 1e-7, 0.1, 0.25, 0.5, 0.5000001, 0.75, 1.0]
    return FACTS, {"share": shares, "share2": shares, "count": list(range(7)), "flag": [True, False],
                   "tool": ["a", "b", "c"], "groups": subsets,
                   "since": ["1999-12-31", "2000-01-01", "2010-06-30", "2020-12-31", "2021-01-01"]}


def _brute_force(read: list[str], current: dict, grid: dict, holds) -> list[frozenset] | None:
    """The changed-fact sets of every grid assignment that grants (None when the grid is too big)."""
    import itertools as it

    options = [[None] + [v for v in grid[name] if v != current.get(name)] for name in read]  # None: keep
    size = 1
    for o in options:
        size *= len(o)
    if size > 20_000:
        return None
    found = []
    for choice in it.product(*options):
        facts = dict(current)
        facts.update({name: value for name, value in zip(read, choice) if value is not None})
        if holds(facts):
            found.append(frozenset(name for name, value in zip(read, choice) if value is not None))
    return found


from hypothesis import HealthCheck, given, settings  # noqa: E402 - the property test's own imports
from hypothesis import strategies as st  # noqa: E402

from tests.test_agreement_property import direct, entities, knowledge_base, trees  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_change_sets_are_exactly_the_minimal_ways_on_random_rules(data):
    """Against a brute force over a grid of values: every granting assignment contains some change set,
    no change set has a smaller granting part, and every change set grants on the engine."""
    from engine import model as m
    from engine.inference import Engine
    from explain.counterfactual import Counterfactuals
    from explain.trail import Truth, combine
    derived_tree, badge_tree = data.draw(trees(max_leaves=5)), data.draw(trees(max_leaves=5))
    entity = data.draw(entities())
    kb = knowledge_base(derived_tree, badge_tree)
    _, grid = _grid()
    current = {k: v.value for k, v in entity.facts.items()}
    read = sorted({n.fact for t in (derived_tree, badge_tree) for n in m.walk(t) if isinstance(n, m.Comparison)}
                  | {n.other_fact for t in (derived_tree, badge_tree) for n in m.walk(t)
                     if isinstance(n, m.Comparison) and n.other_fact})
    rules = {
        "badge-one": lambda f: combine("all", [direct(badge_tree, f), direct(derived_tree, f)]) is Truth.TRUE,
        "badge-two": lambda f: combine("any", [direct(derived_tree, f), direct(badge_tree, f)]) is Truth.TRUE,
    }
    with Engine(kb) as engine:
        result = engine.evaluate(entity)
        everything = Counterfactuals(engine, shown=10_000)
        for cid, holds in rules.items():
            answer = everything.conclusion(entity, cid, result.trails[cid].outcome)
            assert (answer is None) == holds(current)
            if answer is None:
                continue
            assert answer.unproved == 0 and answer.more == 0
            sets = [frozenset(s.facts) for s in answer.change_sets]
            assert not any(a < b for a in sets for b in sets)
            for change_set in answer.change_sets:
                assert _outcome(kb, _with(entity, change_set.changes), cid) == "granted"
            granting = _brute_force(read, current, grid, holds)
            if granting is None:
                continue
            for changed in granting:
                assert any(s <= changed for s in sets), (cid, sorted(changed), [sorted(s) for s in sets])
            for s in sets:
                assert not any(changed < s for changed in granting), (cid, sorted(s))


def test_a_search_too_wide_says_so_instead_of_guessing(bundled_kb, monkeypatch, cli):
    import explain.counterfactual as counterfactual

    monkeypatch.setattr(counterfactual, "MAX_WAYS", 1)
    _, answers = _answers(bundled_kb, make_entity({}))
    answer = answers["innovation"]
    assert answer.too_wide and answer.possible is None and answer.change_sets == ()
    from explain.render_qualify import headline, qualify_data

    assert "combine in too many ways" in headline(answer)
    assert qualify_data(answer)["possible"] is None and qualify_data(answer)["change_sets"] == []
