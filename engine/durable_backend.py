"""The only module that talks to durable_rules.

It drives durable_rules' C core (``durable_rules_engine``) directly rather than its
Python ``Host``, because the Host starts two timer threads that run pending actions
behind the caller's back, keeps rulesets in a registry that can never be emptied,
mutates the dicts it is given, and catches exceptions raised in actions. Here:

* one ruleset per compiled program, freed with ``close``;
* one session per entity, deleted when the entity is done, so no entity ever sees
  another's facts and the core's limit of 1,024 live sessions is never reached;
* actions are only recorded (which rule fired), so an action can never fail
  silently; a rule whose ``$or`` has several true branches fires once per branch,
  and the recording is idempotent for that reason;
* numbers are written without exponents: the core's JSON reader rejects ``1e-07``.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from decimal import Decimal
from contextlib import contextmanager
from typing import Iterator

import durable_rules_engine as _core

MAX_LIVE_SESSIONS = 1024  # hard limit of the C core, per ruleset
_names = itertools.count(1)


class DurableRulesError(RuntimeError):
    """durable_rules refused or failed an operation."""


def to_json(value) -> str:
    """JSON for durable_rules: plain decimals, never exponent notation."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DurableRulesError(f"cannot pass the non-finite number {value} to durable_rules")
        text = repr(value)
        if "e-" in text or "e+" in text:  # how json.dumps writes an exponent; no field or enum value has it
            text = format(Decimal(text), "f")  # exact: the shortest repr, written out
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise DurableRulesError(f"cannot pass {type(value).__name__} to durable_rules")


_EXPONENT = re.compile(r"(?<=:)-?\d+(?:\.\d+)?[eE][-+]?\d+")


def fact_json(fact: dict) -> str:
    """A flat fact (field names, numbers and plain strings) as durable_rules reads it.

    The fast path of ``to_json`` for the one message every stage sends: json.dumps, then
    any number it wrote with an exponent is written out in full (a number is the only
    thing that can follow a colon unquoted here; field names and enum values are
    snake_case, so "e-" and "e+" can only come from an exponent).
    """
    try:
        text = json.dumps(fact, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        raise DurableRulesError(f"cannot pass a non-finite number to durable_rules: {error}") from None
    if "e-" in text or "e+" in text:  # how json.dumps writes an exponent; no field or enum value has it
        text = _EXPONENT.sub(lambda match: format(Decimal(match.group()), "f"), text)
    return text


class Ruleset:
    """A ruleset living in durable_rules' C core."""

    def __init__(self, definition: dict, label: str = "badges"):
        self.name = f"{label}-{next(_names)}"
        self.live_sessions = 0
        self.abandoned_sessions = 0  # states the core refused a fact for: never deleted, see ``session``
        try:
            self._handle = _core.create_ruleset(self.name, to_json(definition))
        except _core.error as error:
            raise DurableRulesError(f"durable_rules rejected the compiled ruleset: {error}") from None

    def close(self) -> None:
        if self._handle is not None:
            _core.delete_ruleset(self._handle)
            self._handle = None

    def __enter__(self) -> "Ruleset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def session(self, sid: str) -> Iterator["Session"]:
        """A session for one entity; its state is deleted on exit, whatever happens."""
        if self._handle is None:
            raise DurableRulesError("ruleset is closed")
        if self.live_sessions + self.abandoned_sessions >= MAX_LIVE_SESSIONS:
            raise DurableRulesError(f"more than {MAX_LIVE_SESSIONS} live sessions in one ruleset")
        self.live_sessions += 1
        session = Session(self._handle, sid)
        try:
            yield session
        finally:
            self.live_sessions -= 1
            if session.refused:
                # Deleting a state whose only fact the core did not handle crashes the process
                # (a segmentation fault, seen once PyYAML's C module is loaded): leave it, and
                # count it against the session limit instead.
                self.abandoned_sessions += 1
            elif session.touched:
                _core.delete_state(self._handle, sid)


class Session:
    """One entity's working memory."""

    def __init__(self, handle, sid: str):
        self._handle = handle
        self.sid = sid
        self.touched = False
        self.refused = False  # the core returned a non-zero result code for a fact

    def assert_fact(self, fact: dict) -> list[str]:
        """Assert ``fact`` and run every action it triggers; the names of the rules that fired, in order."""
        text = fact_json({**fact, "sid": self.sid})
        try:
            result = _core.assert_fact(self._handle, text)
        except _core.error as error:
            raise DurableRulesError(f"durable_rules refused a fact: {error}") from None
        code, state_handle = result
        if code != 0:
            self.refused = not self.touched
            raise DurableRulesError(f"durable_rules did not take the fact (result code {code})")
        self.touched = True
        fired: list[str] = []
        try:
            pending = _core.start_action_for_state(self._handle, state_handle)
            while pending:
                # the message is {"<rule name>":{"m":{...the fact...}}}: our rule names need no escaping
                fired.append(pending[1][2:pending[1].index('"', 2)])
                following = _core.complete_and_start_action(self._handle, state_handle)
                pending = (None, following) if following else None
        except _core.error as error:
            _core.abandon_action(self._handle, state_handle)
            raise DurableRulesError(f"durable_rules failed while running actions: {error}") from None
        return fired

    def facts(self) -> list[dict]:
        """The facts durable_rules holds in this session (for tests and diagnosis)."""
        return json.loads(_core.get_facts(self._handle, self.sid))
