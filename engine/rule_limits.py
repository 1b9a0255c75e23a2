"""Keep compiled rules within the fixed limits of durable_rules' C core.

Three limits, read in its source (``src/rules``) and each reproduced by a test:

* a rule's expression sequence holds at most 31 slots (``MAX_SEQUENCE_EXPRESSIONS``
  in rete.c, error 113): two for every ``$and``/``$or``, one for every leaf that
  reads another field (``$m``);
* a fact is matched by walking the alpha network depth first with a stack of 64
  nodes (``MAX_STACK_SIZE`` in events.c, error 303): every child of a node that the
  fact matches is pushed at once, so a fact that matches many sibling tests, such as
  the first tests of many rules, overflows it;
* a fact holds at most 255 properties (``MAX_OBJECT_PROPERTIES`` in state.h).

``ExpressionBudget`` splits an expression that is too large or too wide into parts:
rules of their own, at an earlier stage, that set a field to 1 when the part holds.
Expressions are monotone (negation is compiled into the false-side expression), so
reading that field as "holds" is exact. ``group_tests`` puts a stage's rules under
group tests, so that no node of the network has too many matching children.
"""
from __future__ import annotations

import json

SLOT_LIMIT = 29  # 31, less the two slots of the stage test's $and
NEED_LIMIT = 14  # extra stack entries one rule's own branches may take
WIDTH_LIMIT = 12  # first tests one rule puts under its parent node
GROUP_WIDTH = 18  # first tests under one group node
GROUP_FANOUT = 10  # group nodes under one parent; two levels at most
# A stage's walk then needs at most 2 * GROUP_FANOUT + GROUP_WIDTH + NEED_LIMIT = 52 < 64 entries.
MAX_FIELDS = 250  # per fact, leaving room for sid and id
# the core compares integers exactly only within 64 bits (beyond, as doubles)
LARGEST_INTEGER = 2**63 - 1
LARGEST_FLOAT = 1.7976931348623157e308  # a larger whole number cannot become a float


def largest_comparable(integer: bool) -> float:
    """The largest magnitude durable_rules compares correctly for a fact of that type."""
    return LARGEST_INTEGER if integer else LARGEST_FLOAT


class LimitError(Exception):
    """A knowledge base too large to express within durable_rules' limits."""


def cost(expression) -> int:
    """Slots an expression takes in durable_rules' per-rule expression sequence."""
    total = 0
    if isinstance(expression, dict):
        for key, value in expression.items():
            if key in ("$and", "$or"):
                total += 2 + sum(cost(v) for v in value)
            elif isinstance(value, dict):
                total += cost(value)
            elif key == "$m":
                total += 1
    return total


def width(expression) -> int:
    """How many first tests an expression puts under the node before it."""
    if "$or" in expression:
        return sum(width(branch) for branch in expression["$or"])
    if "$and" in expression:
        return width(expression["$and"][0])
    return 1


def need(expression) -> int:
    """Extra stack entries the branches of an expression can hold at once while it is matched."""
    if "$or" in expression:
        return width(expression) - 1 + max(need(branch) for branch in expression["$or"])
    if "$and" in expression:
        return sum(need(part) for part in expression["$and"])
    return 0


def fits(expression) -> bool:
    return cost(expression) <= SLOT_LIMIT and need(expression) <= NEED_LIMIT and width(expression) <= WIDTH_LIMIT


class ExpressionBudget:
    """Splits expressions that do not fit into parts; equal parts are shared."""

    def __init__(self) -> None:
        self._parts: dict[str, str] = {}  # canonical expression -> field
        self._new: list[tuple[str, dict, str]] = []

    def take_parts(self) -> list[tuple[str, dict, str]]:
        """(rule name, expression, field) of the parts made since the last call, inner parts first."""
        new, self._new = self._new, []
        return new

    def fit(self, expression: dict) -> dict:
        if fits(expression):
            return expression
        [op] = expression  # only an $and or an $or can be too large
        children = [self.fit(child) for child in expression[op]]
        weight = lambda child: (cost(child), need(child), width(child))  # noqa: E731
        children.sort(key=weight, reverse=True)
        while not fits({op: children}):
            # pack the heaviest children, as many as fit together, into one part
            chunk = [children.pop(0)]
            while children and fits({op: chunk + [children[0]]}):
                chunk.append(children.pop(0))
            children.append(self.part({op: chunk} if len(chunk) > 1 else chunk[0]))
            children.sort(key=weight, reverse=True)
        return {op: children}

    def part(self, expression: dict) -> dict:
        """A leaf that holds exactly when ``expression`` does, computed by a rule of its own."""
        key = json.dumps(expression, sort_keys=True)
        if key not in self._parts:
            field = f"p_{len(self._parts)}"
            self._parts[key] = field
            self._new.append((f"p{len(self._parts) - 1}", expression, field))
        return {self._parts[key]: 1}


def group_tests(expressions: list[dict]) -> tuple[list[list[dict]], dict[str, int]]:
    """Group tests to put before each of one stage's rule expressions, and the fields they read.

    Rules are packed, in the order given, into groups whose first tests number at most
    GROUP_WIDTH; one group needs no test, up to GROUP_FANOUT groups one level of tests,
    more a second level.
    """
    groups: list[list[int]] = []
    load = GROUP_WIDTH
    for index, expression in enumerate(expressions):
        if load + width(expression) > GROUP_WIDTH:
            groups.append([])
            load = 0
        groups[-1].append(index)
        load += width(expression)
    prefixes: list[list[dict]] = [[] for _ in expressions]
    if len(groups) <= 1:
        return prefixes, {}
    if len(groups) > GROUP_FANOUT * GROUP_FANOUT:
        raise LimitError(f"{len(expressions)} rules at one stage are more than durable_rules can match at once")
    two_levels = len(groups) > GROUP_FANOUT
    fields: dict[str, int] = {}
    for number, members in enumerate(groups):
        tests = [f"g1_{number // GROUP_FANOUT}", f"g2_{number % GROUP_FANOUT}"] if two_levels else [f"g1_{number}"]
        for field in tests:
            fields[field] = 1
        for index in members:
            prefixes[index] = [{field: 1} for field in tests]
    return prefixes, fields
