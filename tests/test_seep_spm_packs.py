"""The SEEP capacity pack (associations) and the SPM practice pack (partners) in the bundled knowledge base.

The rule tests stored beside the packs pin down each conclusion; these tests check the packs as a
whole: they load, the example associations evaluate, the examples between them exercise every
area and recommendation, the Imp-Act cases show the disconnects the paper documents, and the
CLI explains any of the new conclusions.
"""
from __future__ import annotations

import pytest

from tests.conftest import BUNDLED_KB, REPO

ASSOCIATIONS = REPO / "examples" / "associations"
PARTNERS = REPO / "examples" / "partners"
AREAS = ("area-1-ambassadors", "area-2-transparency", "area-3-standards", "area-4-training",
         "area-5-technical-assistance", "area-6-knowledge-base")
RECOMMENDATIONS = ("support-capacity-building-programmes", "support-member-training-programmes",
                   "support-market-awareness-and-advocacy", "support-information-systems",
                   "support-sp-management-officer", "support-knowledge-management", "support-innovation-grants",
                   "support-association-planning", "support-certification-systems")
# bullets per dimension in the seed's capacity framework table (knowledge/skills, systems, resources)
FRAMEWORK_BULLETS = {1: (3, 3, 4), 2: (4, 3, 2), 3: (2, 5, 2), 4: (4, 4, 3), 5: (1, 2, 4), 6: (2, 4, 4)}



def association_files():
    return sorted(ASSOCIATIONS.glob("*.yaml"))


@pytest.fixture(scope="module")
def engine(bundled_kb):
    from engine.inference import Engine

    with Engine(bundled_kb) as running:
        yield running


def evaluate(bundled_kb, engine, path):
    from engine.facts_loader import load_entities

    [entity] = load_entities([path], bundled_kb)
    return engine.evaluate(entity)


def outcomes(result) -> dict[str, str]:
    return {d.conclusion.id: d.outcome for d in result.decisions}


def test_bundled_kb_has_both_packs_for_their_entities(bundled_kb):
    assert [p.id for p in bundled_kb.packs_for("association")] == ["seep-capacity"]
    assert {p.id for p in bundled_kb.packs_for("partner")} >= {"kiva-badges", "spm-practice"}
    seep = bundled_kb.packs["seep-capacity"]
    kinds = {cid: c.kind for cid, c in seep.conclusions.items()}
    assert {cid for cid, kind in kinds.items() if kind == "level"} == set(AREAS)
    assert {cid for cid, kind in kinds.items() if kind == "recommendation"} == set(RECOMMENDATIONS)
    for area in AREAS:
        assert seep.conclusions[area].outcomes == ("strong", "developing", "weak", "undetermined")


def test_every_bullet_of_the_framework_table_is_a_fact_read_by_its_dimension(bundled_kb):
    from engine.model import Comparison

    seep = bundled_kb.packs["seep-capacity"]
    for area, sizes in FRAMEWORK_BULLETS.items():
        for dim, size in zip(("knowledge", "systems", "resources"), sizes):
            prefix = f"a{area}_{dim}_"
            facts = {name for name in seep.facts if name.startswith(prefix)}
            assert len(facts) == size, (area, dim, sorted(facts))
            assert all(seep.facts[f].values == ("yes", "partial", "no") for f in facts)
            for derived in (f"a{area}-{dim}-in-place", f"a{area}-{dim}-under-way"):
                read = {n.fact for n in seep.conclusions[derived].nodes() if isinstance(n, Comparison)}
                assert read == facts, derived


def test_spm_conclusions_moved_out_of_kiva_badges_and_badges_still_use_them(bundled_kb):
    kiva, spm = bundled_kb.packs["kiva-badges"], bundled_kb.packs["spm-practice"]
    moved = ("has-clear-social-objectives", "monitors-social-performance", "uses-sp-information-in-decisions",
             "uses-poverty-data", "measures-client-poverty", "acts-on-client-feedback", "listens-to-clients")
    for cid in moved:
        assert cid in spm.conclusions and cid not in kiva.conclusions
    assert {"uses-poverty-data", "measures-client-poverty"} <= set(kiva.conclusions["anti-poverty-focus"].references())
    assert "acts-on-client-feedback" in kiva.conclusions["client-voice"].references()
    # the definition-gap logic lives once, in the diagnostic
    assert "holistic-poverty-definition-income-data" in spm.conclusions["uses-poverty-data"].references()


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in association_files()])
def test_every_example_association_evaluates(bundled_kb, engine, path):
    result = evaluate(bundled_kb, engine, path)
    assert set(outcomes(result)) == set(AREAS) | set(RECOMMENDATIONS)


def test_there_are_at_least_four_example_associations_and_one_is_mostly_unknown(bundled_kb):
    from engine.facts_loader import load_entities

    entities = load_entities([ASSOCIATIONS], bundled_kb)
    assert len(entities) >= 4
    capacity_facts = [n for n in bundled_kb.packs["seep-capacity"].facts if n[:1] == "a" and n[1].isdigit()]
    assessed = [sum(n in e.facts for n in capacity_facts) / len(capacity_facts) for e in entities]
    assert min(assessed) < 0.5 <= max(assessed)


def test_examples_give_every_area_two_determined_levels_and_recommendations_both_ways(bundled_kb, engine):
    results = [outcomes(evaluate(bundled_kb, engine, p)) for p in association_files()]
    for area in AREAS:
        determined = {r[area] for r in results} - {"undetermined"}
        assert len(determined) >= 2, (area, determined)
    reached = {r[rec] for r in results for rec in RECOMMENDATIONS}
    assert {"recommended", "not_recommended", "undetermined"} <= reached


def test_nearly_ready_and_desk_review_examples(bundled_kb, engine):
    ready = outcomes(evaluate(bundled_kb, engine, ASSOCIATIONS / "made-up-1-red-andina.yaml"))
    assert [ready[a] for a in AREAS] == ["strong"] * 5 + ["developing"]
    assert ready["support-knowledge-management"] == "recommended"
    assert ready["support-sp-management-officer"] == "not_recommended"
    desk = outcomes(evaluate(bundled_kb, engine, ASSOCIATIONS / "made-up-4-balkan-network.yaml"))
    assert desk["area-2-transparency"] == "strong"
    assert desk["area-5-technical-assistance"] == "weak"  # decided on the known 'no' answers alone
    assert desk["area-4-training"] == "undetermined"
    assert desk["support-information-systems"] == "undetermined"


@pytest.mark.parametrize("partner, diagnostic", [
    ("pro-mujer", "objectives-without-linked-indicators"),
    ("crecer", "data-without-concrete-objectives"),
])
def test_imp_act_cases_show_the_disconnects_the_paper_documents(bundled_kb, engine, partner, diagnostic):
    found = outcomes(evaluate(bundled_kb, engine, PARTNERS / f"{partner}.yaml"))
    assert found[diagnostic] == "found"


def test_sef_uses_social_performance_in_operations(bundled_kb, engine):
    sef = outcomes(evaluate(bundled_kb, engine, PARTNERS / "sef.yaml"))
    assert sef["sp-absent-from-operational-decisions"] == "not_found"


def test_badges_are_unchanged_by_the_spm_pack_for_prizma(bundled_kb, engine):
    # PRIZMA has no facts: every badge, diagnostic and the components level stay undetermined
    prizma = evaluate(bundled_kb, engine, PARTNERS / "prizma.yaml")
    assert set(outcomes(prizma).values()) == {"undetermined"}


@pytest.mark.parametrize("conclusion", ["area-2-transparency", "support-information-systems"])
def test_why_explains_association_conclusions(cli, conclusion):
    run = cli("why", ASSOCIATIONS / "made-up-1-red-andina.yaml", conclusion, "--kb", BUNDLED_KB)
    assert run.status == 0, run.err
    assert conclusion in run.out and run.err == ""


def test_why_names_the_gap_behind_a_recommendation(cli):
    run = cli("why", ASSOCIATIONS / "made-up-1-red-andina.yaml", "support-information-systems", "--format", "json")
    assert run.status == 0, run.err
    import json

    trail = json.loads(run.out)["trail"]
    assert trail["outcome"] == "recommended"
    text = json.dumps(trail)
    assert "sis-gap-a3-compliance" in text and "a3_systems_compliance" in text


def test_evaluate_pack_narrows_to_seep_capacity(cli):
    run = cli("evaluate", ASSOCIATIONS / "made-up-1-red-andina.yaml", "--pack", "seep-capacity", "--format", "csv")
    assert run.status == 0, run.err
    conclusions = {line.split(",")[3] for line in run.out.splitlines()[1:]}
    assert conclusions == set(AREAS) | set(RECOMMENDATIONS)
