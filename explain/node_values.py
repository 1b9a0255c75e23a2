"""Every condition node's truth and every conclusion's outcome for one entity, in one call.

``NodeEvaluator`` compiles conclusions (dependencies first) once into the source of one
straight-line Python function: each fact read once with ``values.get``, then one local
per node, children before parents, then the outcomes. Inside it a truth is ``True``,
``False`` or ``None`` (unknown); ``Truth`` appears only at the boundary. The semantics are
those of ``TrailBuilder.value`` and ``TrailBuilder.outcome`` (tests/test_node_values.py
checks them against each other), at a fraction of the cost of walking the trees.

The source is built from rule data, so nothing from a rule file reaches it except as the
``repr()`` of a value whose exact type was checked first (bool, int, finite float, str, or
a tuple of str): that is always a plain literal. Node and conclusion ids appear the same
way in comments, where ``repr()`` can never produce a line break. The function runs with
no builtins and calls nothing but ``values.get`` and ``tuple.count``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterable, Mapping, Sequence

from engine import model as m
from explain.trail import TrailShapes, Truth

_TRUTH = {True: Truth.TRUE, False: Truth.FALSE, None: Truth.UNKNOWN}

# operators that are one Python operator between the fact's value and the threshold
_INFIX = {"at_least": ">=", "more_than": ">", "at_most": "<=", "less_than": "<", "equals": "==",
          "not_equals": "!=", "is": "==", "is_not": "!=", "one_of": "in", "not_one_of": "not in"}
_UNDETERMINED = repr(m.UNDETERMINED)


class Evaluation:
    """One entity's node truths and conclusion outcomes, as ``TrailBuilder`` asks for them."""

    __slots__ = ("evaluator", "truths", "outcomes")

    def __init__(self, evaluator: NodeEvaluator, truths: tuple, outcomes: dict[str, str]):
        self.evaluator = evaluator
        self.truths = truths  # True / False / None, by node index
        self.outcomes = outcomes  # conclusion id -> outcome, dependencies first

    def value(self, node: m.Condition) -> Truth:
        """The truth of ``node``, one of the nodes the evaluator was compiled from."""
        return _TRUTH[self.truths[self.evaluator.index[id(node)]]]

    def outcome(self, conclusion_id: str) -> tuple[Truth, str]:
        """(value, outcome) of a conclusion, as ``TrailBuilder.outcome`` gives them."""
        outcome = self.outcomes[conclusion_id]
        return self.evaluator.outcome_truths[conclusion_id][outcome], outcome


class NodeEvaluator:
    """The compiled evaluation of ``conclusions`` (dependencies first) over ``facts``.

    Calling it with an entity's plain values (``Entity.values``) gives an ``Evaluation``.
    ``nodes`` holds every distinct condition node in evaluation order; ``index`` maps
    ``id(node)`` to its position. Keying by ``id()`` is sound because the evaluator keeps
    every node alive, so no other object can share an id with one of them: look up only
    nodes of the conclusions it was compiled from. ``source`` is the generated function's
    text and ``function`` the function itself, ``values -> (truths, outcomes)``.
    """

    def __init__(self, conclusions: Sequence[m.Conclusion], facts: Mapping[str, m.FactSpec]):
        self._facts = facts
        writer = _Writer(facts)
        for conclusion in conclusions:
            writer.conclusion(conclusion)
        self.nodes: tuple[m.Condition, ...] = tuple(writer.nodes)
        self.index: dict[int, int] = {id(node): i for i, node in enumerate(self.nodes)}
        self.outcome_truths: dict[str, dict[str, Truth]] = {c.id: _outcome_truths(c) for c in conclusions}
        self.source = writer.source()
        namespace: dict[str, Any] = {"__builtins__": {}}
        exec(compile(self.source, f"<node values of {len(conclusions)} conclusions>", "exec"), namespace)
        self.function: Callable[[Mapping[str, Any]], tuple[tuple, dict[str, str]]] = namespace["evaluate"]

    @functools.cached_property
    def shapes(self) -> TrailShapes:
        """What trails of these conclusions hold whatever the entity, shared by every entity's trails."""
        return TrailShapes(self._facts)

    def __call__(self, values: Mapping[str, Any]) -> Evaluation:
        truths, outcomes = self.function(values)
        return Evaluation(self, truths, outcomes)


def _outcome_truths(c: m.Conclusion) -> dict[str, Truth]:
    """Outcome -> the conclusion's value: a graded one is true once it is determined."""
    if c.levels:
        return {o: Truth.UNKNOWN if o == m.UNDETERMINED else Truth.TRUE for o in c.outcomes}
    spec = m.KINDS[c.kind]
    return {spec.when_true: Truth.TRUE, spec.when_false: Truth.FALSE, m.UNDETERMINED: Truth.UNKNOWN}


def _literal(value: Any) -> str:
    """Python source for a validated rule value; exact types only (a str subclass could lie in repr)."""
    kind = type(value)
    if kind in (bool, int, str) or (kind is float and math.isfinite(value)):
        return repr(value)
    if kind is tuple and all(type(item) is str for item in value):
        return "(" + "".join(f"{item!r}, " for item in value) + ")"
    raise TypeError(f"a rule value of type {kind.__name__} cannot be compiled: {value!r}")


def _either(tests: Iterable[str]) -> str:
    return " or ".join(tests) or "False"


def _both(tests: Iterable[str]) -> str:
    return " and ".join(tests) or "True"


def _test(op: str, value: str, threshold: Any) -> str:
    """The expression applying ``op`` to the known value in local ``value``, as ``trail.compare``.

    Comparing the normalised types (numbers, str, tuples of str) gives a bool, which the
    parents' ``is False`` / ``is None`` tests rely on.
    """
    if op in _INFIX:
        return f"{value} {_INFIX[op]} {_literal(threshold)}"
    if op == "includes":
        return f"{_literal(threshold)} in {value}"
    if op == "excludes":
        return f"{_literal(threshold)} not in {value}"
    members = [f"{_literal(item)} in {value}" for item in threshold]
    if op == "includes_any":
        return f"({_either(members)})"
    if op == "includes_all":
        return f"({_both(members)})"
    if op == "includes_none":
        return f"not ({_either(members)})"
    raise ValueError(f"unknown operator {op!r}")


def _combine(node: m.Condition, children: list[str]) -> str:
    """The expression for an inner node from its children's locals, as ``trail.combine``.

    Flat ``or``/``and`` chains and tuple displays only: nesting grows no deeper with more
    children, so a very wide node still compiles.
    """
    if isinstance(node, m.AllOf):
        # no false child: `and` yields True when all are true, else the first None
        return f"False if {_either(f'{c} is False' for c in children)} else {_both(children)}"
    if isinstance(node, m.AnyOf):
        return f"True if {_either(children)} else None if {_either(f'{c} is None' for c in children)} else False"
    if isinstance(node, m.Not):
        [child] = children
        return f"None if {child} is None else not {child}"
    if isinstance(node, m.AtLeast):
        if type(node.count) is not int:
            raise TypeError(f"at_least count of '{node.id}' is not an int: {node.count!r}")
        values = "(" + "".join(f"{c}, " for c in children) + ")"
        return (f"True if {values}.count(True) >= {node.count} "
                f"else False if {values}.count(False) > {len(children) - node.count} else None")
    raise TypeError(f"not a condition node: {node!r}")


class _Writer:
    """Writes the generated function's lines; knows the local holding each fact, node and outcome."""

    def __init__(self, facts: Mapping[str, m.FactSpec]):
        self.facts = facts
        self.lines: list[str] = []
        self.nodes: list[m.Condition] = []
        self.node_locals: dict[int, str] = {}  # id(node) -> local
        self.fact_locals: dict[str, str] = {}
        self.outcome_locals: dict[str, str] = {}  # conclusion id -> local
        self.compiled: dict[str, m.Conclusion] = {}

    def conclusion(self, c: m.Conclusion) -> None:
        local = f"o{len(self.outcome_locals)}"
        label = f"  # {_literal(c.id)}"
        if c.levels:
            roots = [self.node(level.condition) for level in c.levels]
            self.lines.append(f"{local} = {_literal(c.otherwise)}{label}")
            # levels are tried in order: written last to first, the first that is not false
            # has the last word (flat statements, however many levels there are)
            for level, root in reversed(list(zip(c.levels, roots))):
                self.lines.append(f"if {root} is not False: {local} = {_literal(level.outcome)} "
                                  f"if {root} else {_UNDETERMINED}")
        else:
            spec = m.KINDS[c.kind]
            root = self.node(c.condition)
            self.lines.append(f"{local} = {_literal(spec.when_true)} if {root} else {_UNDETERMINED} "
                              f"if {root} is None else {_literal(spec.when_false)}{label}")
        self.outcome_locals[c.id] = local
        self.compiled[c.id] = c

    def node(self, node: m.Condition) -> str:
        """The local holding ``node``'s truth, writing it (and its children) the first time."""
        local = self.node_locals.get(id(node))
        if local is not None:  # a node shared by several trees is evaluated once
            return local
        if isinstance(node, m.Comparison):
            expression = self.comparison(node)
        elif isinstance(node, m.ConclusionRef):
            expression = self.reference(node)
        else:
            expression = _combine(node, [self.node(child) for child in m.children_of(node)])
        local = f"n{len(self.nodes)}"
        self.lines.append(f"{local} = {expression}  # {_literal(node.id)}")
        self.node_locals[id(node)] = local
        self.nodes.append(node)
        return local

    def comparison(self, node: m.Comparison) -> str:
        value = self.fact(node.fact)
        if node.other_fact is None:
            return f"None if {value} is None else {_test(node.op, value, node.value)}"
        other = self.fact(node.other_fact)
        if node.op not in _INFIX:
            raise ValueError(f"'{node.id}' compares two facts with {node.op!r}")
        return f"None if {value} is None or {other} is None else {value} {_INFIX[node.op]} {other}"

    def fact(self, name: str) -> str:
        """The local holding fact ``name``'s value (None when unknown), read where first needed."""
        local = self.fact_locals.get(name)
        if local is None:
            if name not in self.facts:
                raise ValueError(f"unknown fact {name!r}")
            local = self.fact_locals[name] = f"f{len(self.fact_locals)}"
            self.lines.append(f"{local} = get({_literal(name)})")
        return local

    def reference(self, node: m.ConclusionRef) -> str:
        target = self.compiled.get(node.conclusion)
        if target is None:
            raise ValueError(f"'{node.id}' refers to {node.conclusion!r}, which is not compiled before it")
        outcome = self.outcome_locals[target.id]
        if node.outcomes is not None:
            return f"None if {outcome} == {_UNDETERMINED} else {outcome} in {_literal(tuple(node.outcomes))}"
        if target.levels:
            return f"None if {outcome} == {_UNDETERMINED} else True"
        return self.node_locals[id(target.condition)]

    def source(self) -> str:
        body = ["get = values.get", *self.lines,
                f"return ({''.join(f'{local}, ' for local in self.node_locals.values())}), {{",
                *(f"    {_literal(cid)}: {local}," for cid, local in self.outcome_locals.items()), "}"]
        return "def evaluate(values):\n" + "".join(f"    {line}\n" for line in body)
