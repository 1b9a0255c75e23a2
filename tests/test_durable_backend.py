"""Every durable_rules behaviour the engine relies on, proved on the real C core.

See /work/shared/DURABLE_RULES.md and the docstring of engine/durable_backend.py: entities are
evaluated one after another in one session emptied after each (thrown away on any failure), numbers are written without exponents, types are checked before anything
reaches the core, the compiled definition is only read (as JSON text), ``$or`` may fire
a rule once per true branch, no threads are started, and refusals raise.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from contextlib import ExitStack

import durable_rules_engine
import pytest

from engine import load_knowledge_base
from engine.compiler import compile_program
from engine.durable_backend import MAX_LIVE_SESSIONS, OPEN_FIELD, DurableRulesError, Ruleset, number_json, to_json
from engine.inference import Engine
from tests.conftest import MINI_KB, REPO, make_entity

GRANTED = {"share_poor": 0.6, "uses_tool": True, "tool": "ppi", "groups": ("women",), "clients": 1500,
           "founded": "2010-01-01"}


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base(MINI_KB)


def _outcomes(engine: Engine, facts: dict, entity_id: str = "e1") -> dict[str, str]:
    result = engine.evaluate(make_entity(facts, entity_id=entity_id))
    return {d.conclusion.id: d.outcome for d in result.decisions}


def _rule(*conditions) -> dict:
    return {"all": [{"m": {"$and": [{"t": "x"}, *conditions]}}]}


# -- sessions -------------------------------------------------------------------------------------

def test_entities_do_not_see_each_others_facts(kb):
    with Engine(kb) as engine:
        assert _outcomes(engine, GRANTED, "a") == {"focus": "granted", "reach": "granted"}
        assert _outcomes(engine, {}, "b") == {"focus": "undetermined", "reach": "undetermined"}
        assert _outcomes(engine, {"share_poor": 0.1}, "c") == {"focus": "not_granted", "reach": "undetermined"}
        assert _outcomes(engine, GRANTED, "d") == {"focus": "granted", "reach": "granted"}


def test_a_reused_session_id_starts_empty():
    with Ruleset({"hit": _rule({"$gt": {"v": 0}}), "any": _rule()}) as ruleset:
        with ruleset.session("same") as session:
            assert session.assert_fact({"t": "x", "v": 1}) == ["hit", "any"]
            assert [f["v"] for f in session.facts()] == [1]
        with ruleset.session("same") as session:
            assert session.assert_fact({"t": "x", "v": -1}) == ["any"]  # the earlier v=1 is gone
            assert [f["v"] for f in session.facts()] == [-1]


def test_two_engines_reuse_the_same_session_ids_without_interference(kb):
    with Engine(kb) as first, Engine(kb) as second:
        for _ in range(3):  # both number their sessions 1, 2, 3
            assert _outcomes(first, GRANTED) == {"focus": "granted", "reach": "granted"}
            assert _outcomes(second, {}) == {"focus": "undetermined", "reach": "undetermined"}


def test_more_than_1024_entities_in_a_row(kb):
    """The core allows 1,024 live sessions per ruleset: entities share one, emptied after each."""
    with Engine(kb) as engine:
        for i in range(MAX_LIVE_SESSIONS + 100):
            facts = GRANTED if i % 2 else {"clients": i}
            expected = "granted" if i % 2 else ("granted" if i == 500 else "undetermined")
            assert _outcomes(engine, facts, f"e{i}")["reach"] == expected
        _, ruleset = engine.program("partner")
        assert (ruleset.live_sessions, ruleset.abandoned_sessions) == (1, 0)


def _held(engine: Engine) -> list[dict]:
    """The facts the engine's session holds between entities."""
    _, ruleset = engine.program("partner")
    with ruleset.entity() as session:
        return session.facts()


def test_the_entity_session_holds_nothing_of_an_entity_once_it_is_done(kb):
    with Engine(kb) as engine:
        _outcomes(engine, GRANTED)
        assert _held(engine) == [{"sid": "reused-1", "id": "open", OPEN_FIELD: 1}]
        _outcomes(engine, {"clients": 3})
        assert _held(engine) == [{"sid": "reused-1", "id": "open", OPEN_FIELD: 1}]


@pytest.mark.parametrize("failure", [durable_rules_engine.error("injected"), KeyboardInterrupt()])
def test_a_failure_inside_an_entity_throws_its_session_away(kb, monkeypatch, failure):
    """An action left started would keep the next entity's actions from running for 30 s (the
    core's action lease), and a fact left behind would be seen by the next entity: the session
    goes, and the next entity starts in a fresh one."""
    original = durable_rules_engine.complete_and_start_action
    calls = []

    def fail_once(*args):
        calls.append(args)
        if len(calls) == 2:
            raise failure
        return original(*args)

    with Engine(kb) as engine:
        _outcomes(engine, {})  # the session exists before the failure
        monkeypatch.setattr(durable_rules_engine, "complete_and_start_action", fail_once)
        with pytest.raises((DurableRulesError, KeyboardInterrupt)):
            _outcomes(engine, GRANTED)
        assert _outcomes(engine, GRANTED) == {"focus": "granted", "reach": "granted"}
        assert _held(engine) == [{"sid": "reused-2", "id": "open", OPEN_FIELD: 1}]
        _, ruleset = engine.program("partner")
        assert (ruleset.live_sessions, ruleset.abandoned_sessions) == (1, 0)


def test_a_fact_no_rule_matches_goes_through_the_network_and_fires_nothing():
    with Ruleset({"hit": _rule({"$gt": {"v": 0}})}) as ruleset:
        with ruleset.entity() as session:
            assert session.assert_json('{"t":"x","v":-1}') == []
            assert session.assert_json('{"t":"x","v":1}') == ["hit"]
        with ruleset.entity() as session:
            assert [f.get("v") for f in session.facts()] == [None]  # the marker alone


def test_the_session_limit_is_enforced_before_the_core_fails():
    with Ruleset({"any": _rule()}) as ruleset, ExitStack() as stack:
        for i in range(MAX_LIVE_SESSIONS):
            stack.enter_context(ruleset.session(str(i)))
        with pytest.raises(DurableRulesError, match="more than 1024 live sessions"):
            stack.enter_context(ruleset.session("one-too-many"))


def test_an_entity_with_no_facts_is_undetermined_everywhere(kb):
    with Engine(kb) as engine:
        result = engine.evaluate(make_entity({}))
    assert set(result.outcomes.values()) == {"undetermined"}
    assert {d.outcome for d in result.decisions} == {"undetermined"}


# -- numbers and types ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, below_a_millionth, positive", [
    (1e-07, True, True),
    (5e-324, True, True),  # the smallest positive double
    (-5e-324, True, False),
    (0.0, True, False),
    (1e300, False, True),
    (1.7976931348623157e308, False, True),
])
def test_numbers_reach_the_core_exactly(value, below_a_millionth, positive):
    ruleset_def = {"tiny": _rule({"$lt": {"v": 1e-06}}), "positive": _rule({"$gt": {"v": 0}}),
                   "any": _rule()}
    with Ruleset(ruleset_def) as ruleset, ruleset.session("1") as session:
        fired = session.assert_fact({"t": "x", "v": value})
        stored = session.facts()[0]["v"]
    assert ("tiny" in fired, "positive" in fired) == (below_a_millionth, positive)
    assert float(stored) == value


@pytest.mark.parametrize("value", [1e-07, 5e-324, 1e300, 1.5e-10, -2.5e-8, 1e16])
def test_numbers_are_written_without_exponents(value):
    for number in (to_json({"v": value}).split(":")[1].rstrip("}"), number_json(value)):
        assert "e" not in number.lower()
        assert float(number) == value


def test_tiny_shares_decide_on_the_engine(kb):
    with Engine(kb) as engine:
        result = engine.evaluate(make_entity({"share_poor": 1e-07, "uses_tool": True, "tool": "ppi"}))
    assert result.outcomes["poverty-focus"] == "does_not_hold"


def test_the_core_compares_mixed_types_as_text():
    """Why types are checked first: the core finds "9" and "abc" greater than 10."""
    with Ruleset({"gt": _rule({"$gt": {"v": 10}}), "any": _rule()}) as ruleset:
        for sid, text in enumerate(("9", "abc", "11abc")):
            with ruleset.session(str(sid)) as session:
                assert session.assert_fact({"t": "x", "v": text}) == ["gt", "any"]


@pytest.mark.parametrize("text, code", [
    ('clients: "9"', "BD302"), ("clients: nine", "BD302"), ("clients: true", "BD302"),
    ('share_poor: "0.5"', "BD302"), ("uses_tool: 1", "BD302"), ("tool: 1", "BD304"),
    ("groups: women", "BD302"), ("founded: 20100101", "BD305"),
])
def test_a_value_of_the_wrong_type_never_reaches_the_engine(tmp_path, kb, text, code):
    from engine.diagnostics import InvalidInput
    from engine.facts_loader import load_entities

    path = tmp_path / "f.yaml"
    path.write_text(f"kind: partner\nid: a\nname: A\nfacts:\n  {text}\n")
    with pytest.raises(InvalidInput) as refused:
        load_entities([path], kb)
    assert [d.code for d in refused.value.diagnostics] == [code]


def test_values_the_core_cannot_take_are_refused_before_it():
    with pytest.raises(DurableRulesError, match="non-finite"):
        to_json({"v": float("nan")})
    with pytest.raises(DurableRulesError, match="non-finite"):
        number_json(float("inf"))
    with pytest.raises(DurableRulesError, match="cannot pass set"):
        to_json({"v": {1, 2}})


# -- the definition and the rules -----------------------------------------------------------------

def test_the_compiled_definition_is_only_read(kb):
    """durable_rules' own Python layer mutates the rule dicts it is given; the backend hands the
    core JSON text, and the compiled definition stays as it was."""
    program = compile_program(kb, "partner")
    before = json.dumps(dict(program.definition), sort_keys=True)
    with Ruleset(program.definition) as ruleset, ruleset.entity() as session:
        session.assert_json('{"s":0}')
    with Engine(kb) as engine:
        _outcomes(engine, GRANTED)
        engine_program, _ = engine.program("partner")
        assert json.dumps(dict(engine_program.definition), sort_keys=True) == json.dumps(
            dict(compile_program(kb, "partner").definition), sort_keys=True)
    assert json.dumps(dict(program.definition), sort_keys=True) == before


def test_an_or_with_two_true_branches_fires_once_per_branch_and_counts_once(kb):
    either = {"either": {"all": [{"m": {"$and": [{"t": "x"}, {"$or": [{"$gt": {"a": 0}}, {"$gt": {"b": 0}}]}]}}]}}
    with Ruleset(either) as ruleset, ruleset.session("1") as session:
        assert session.assert_fact({"t": "x", "a": 1, "b": 1}) == ["either", "either"]
    with Engine(kb) as engine:
        # reach is 'any' of four; three of them hold here
        result = engine.evaluate(make_entity({"groups": ("women", "farmers"), "tool": "ppi", "clients": 500}))
    assert result.outcomes["reach"] == "granted"
    assert [n.value for n in result.trails["reach"].root.children] == ["true", "true", "true", "true"]


def test_with_a_cap_the_results_of_every_true_branch_come_in_one_action():
    """What the compiler relies on (compiler.RESULTS_PER_ACTION): one call from Python per rule
    that holds, however many of its branches do."""
    either = {"either": {"all": [{"m": {"$and": [{"t": "x"}, {"$or": [{"$gt": {"a": 0}}, {"$gt": {"b": 0}}]}]}}],
                         "cap": 1000}}
    with Ruleset(either) as ruleset, ruleset.session("1") as session:
        assert session.assert_fact({"t": "x", "a": 1, "b": 1}) == ["either"]
        assert session.assert_fact({"t": "x", "a": 1, "b": 0, "id": "2"}) == ["either"]


def test_durable_rules_runs_one_action_per_decided_conclusion(monkeypatch):
    """The compiled rules of the bundled knowledge base: for each example partner, one action
    per conclusion durable_rules decides and per part of a large condition that holds, and no
    more (a rule whose disjunctions have several true branches would otherwise fire per branch)."""
    from engine import durable_backend
    from engine.facts_loader import load_entities
    from knowledge_base import BUNDLED

    kb = load_knowledge_base(BUNDLED)
    fired: list[str] = []
    drain = durable_backend._drain

    def recorded(*args):
        names = drain(*args)
        fired.extend(names)
        return names

    monkeypatch.setattr(durable_backend, "_drain", recorded)
    with Engine(kb) as engine:
        for entity in load_entities([REPO / "examples" / "partners"], kb):
            fired.clear()
            outcomes = engine.decide(entity)
            program, _ = engine.program(entity.kind)
            ours = [name for name in fired if name != durable_backend.OPEN_RULE]  # not a new session's marker
            parts = [name for name in ours if program.rule_actions[name][2] is not None]
            decided = [name for name in ours if program.rule_actions[name][2] is None]
            assert len(decided) == sum(outcome != "undetermined" for outcome in outcomes.values()), entity.id
            assert len(parts) == len(set(parts)), entity.id


def test_no_threads_are_started(kb):
    before = threading.active_count()
    with Engine(kb) as engine:
        for i in range(20):
            _outcomes(engine, GRANTED, f"e{i}")
        assert threading.active_count() == before
    assert threading.active_count() == before


# -- refusals raise -------------------------------------------------------------------------------

@pytest.mark.parametrize("definition", [
    {"bad": {"all": [{"m": {"$frobnicate": {"v": 1}}}]}},  # unknown operator
    {"bad": {"all": [{"m": {"$iany": {"v": 1}}}]}},  # a list operator without {"$i": ...}
])
def test_a_definition_the_core_refuses_raises(definition):
    with pytest.raises(DurableRulesError, match="durable_rules rejected the compiled ruleset"):
        Ruleset(definition)


def test_a_fact_no_rule_handles_raises():
    with Ruleset({"only-x": _rule()}) as ruleset:
        with pytest.raises(DurableRulesError, match="did not take the fact"):
            with ruleset.session("1") as session:
                session.assert_fact({"t": "y"})
        assert ruleset.abandoned_sessions == 1
        with ruleset.session("2") as session:  # the ruleset is still usable
            assert session.assert_fact({"t": "x"}) == ["only-x"]


def test_a_refused_fact_does_not_crash_the_process():
    """Regression: deleting the state of a session whose fact the core refused was a segfault.

    Run in a child process so that a crash fails this test instead of killing the suite.
    """
    script = (
        "import yaml\n"  # the crash needed PyYAML's C module loaded, as the engine always has it
        "from engine.durable_backend import Ruleset, DurableRulesError\n"
        "with Ruleset({'r': {'all': [{'m': {'t': 'x'}}]}}) as ruleset:\n"
        "    for i in range(50):\n"
        "        try:\n"
        "            with ruleset.session(str(i)) as session:\n"
        "                session.assert_fact({'t': 'y'})\n"
        "        except DurableRulesError:\n"
        "            pass\n"
        "print('survived')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "survived\n"), done.stderr


def test_a_closed_ruleset_refuses_sessions():
    ruleset = Ruleset({"any": _rule()})
    ruleset.close()
    ruleset.close()  # closing twice is harmless
    with pytest.raises(DurableRulesError, match="closed"):
        with ruleset.session("1"):
            pass
