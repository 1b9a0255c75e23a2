"""The ceiling: the same condition trees evaluated in plain Python, three-valued, no durable_rules.

Each conclusion's trees are compiled once into nested closures over a dict of fact values;
an entity then costs a few function calls per node. Nothing is recorded (no trail): this
is the fastest the knowledge base can be decided in Python, the figure the engine's
overhead is measured against.
"""
from __future__ import annotations

from engine import model as m
from explain.trail import compare

TRUE, FALSE, UNKNOWN = 1, 0, None


def compile_node(node, conclusions: dict):
    """A function (facts, outcomes) -> TRUE / FALSE / UNKNOWN for one condition node."""
    if isinstance(node, m.Comparison):
        fact, other, op, threshold = node.fact, node.other_fact, node.op, node.value

        def leaf(facts, outcomes):
            value = facts.get(fact)
            if value is None:
                return UNKNOWN
            limit = threshold
            if other is not None:
                limit = facts.get(other)
                if limit is None:
                    return UNKNOWN
            return TRUE if compare(op, value, limit) else FALSE
        return leaf
    if isinstance(node, m.ConclusionRef):
        target, wanted = node.conclusion, node.outcomes
        when_true = None if wanted else m.KINDS[conclusions[target].kind].when_true

        def reference(facts, outcomes):
            outcome = outcomes[target]
            if outcome == m.UNDETERMINED:
                return UNKNOWN
            return TRUE if (outcome in wanted if wanted else outcome == when_true) else FALSE
        return reference
    children = [compile_node(c, conclusions) for c in m.children_of(node)]
    if isinstance(node, m.Not):
        [child] = children
        return lambda facts, outcomes: None if (v := child(facts, outcomes)) is None else 1 - v
    count = node.count if isinstance(node, m.AtLeast) else (len(children) if isinstance(node, m.AllOf) else 1)

    def group(facts, outcomes):
        trues = falses = 0
        for child in children:
            v = child(facts, outcomes)
            if v == TRUE:
                trues += 1
            elif v == FALSE:
                falses += 1
        if trues >= count:
            return TRUE
        return FALSE if falses > len(children) - count else UNKNOWN
    return group


def compile_kb(kb: m.KnowledgeBase, kind: str = "partner"):
    """A function facts -> {conclusion id: outcome} for every conclusion of ``kind``'s packs."""
    from engine.compiler import compile_program

    program = compile_program(kb, kind)  # for the dependency order only
    conclusions = {c.id: c for c in program.conclusions}
    steps = []
    for c in program.conclusions:
        spec = m.KINDS[c.kind]
        if c.levels:
            levels = [(level.outcome, compile_node(level.condition, conclusions)) for level in c.levels]
            steps.append((c.id, None, levels, c.otherwise))
        else:
            steps.append((c.id, (spec.when_true, spec.when_false), compile_node(c.condition, conclusions), None))

    def decide(facts: dict) -> dict:
        outcomes: dict[str, str] = {}
        for cid, words, tree, otherwise in steps:
            if words is not None:
                v = tree(facts, outcomes)
                outcomes[cid] = m.UNDETERMINED if v is None else words[0] if v else words[1]
                continue
            outcome = otherwise
            for level_outcome, level_tree in tree:
                v = level_tree(facts, outcomes)
                if v is None:
                    outcome = m.UNDETERMINED
                    break
                if v:
                    outcome = level_outcome
                    break
            outcomes[cid] = outcome
        return outcomes
    return decide
