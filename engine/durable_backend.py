"""The only module that talks to durable_rules.

It drives durable_rules' C core (``durable_rules_engine``) directly rather than its
Python ``Host``, because the Host starts two timer threads that run pending actions
behind the caller's back, keeps rulesets in a registry that can never be emptied,
mutates the dicts it is given, and catches exceptions raised in actions. Here:

* one ruleset per compiled program, freed with ``close``;
* entities are evaluated one after another in one session (``Ruleset.entity``) that is
  emptied after each: every fact an entity asserts is retracted before the next entity
  starts, so no entity ever sees another's facts. A session costs the core about 8 KiB
  per rule to create (it clears a frame index for every rule), more than evaluating
  an entity does, so it is kept rather than made anew. If anything goes wrong while an
  entity is in it, the session is thrown away and the next entity gets a fresh one;
* ``Ruleset.session`` gives a session of its own, deleted on exit, for one-off use; the
  core's limit of 1,024 live sessions per ruleset is checked before it is reached;
* actions are only recorded (which rule fired), so an action can never fail
  silently; a rule whose ``$or`` has several true branches fires once per branch,
  and the recording is idempotent for that reason (compiled rules carry a ``cap``,
  so the core hands all of them to one action, and the compiler keeps branches
  from overlapping where it can: see ``compiler``);
* numbers are written without exponents: the core's JSON reader rejects ``1e-07``.
"""
from __future__ import annotations

import itertools
import json
import math
from contextlib import contextmanager
from typing import Iterator, Mapping

import durable_rules_engine as _core

MAX_LIVE_SESSIONS = 1024  # hard limit of the C core, per ruleset
HANDLED, NOT_HANDLED = 0, 1  # the core's result codes for a fact some rule matched, and one none did
# A reused session opens with a marker fact that a rule of the backend's own matches: the core
# crashes deleting a state whose first fact no rule handled, and the marker makes it handled.
OPEN_RULE, OPEN_FIELD = "__open__", "_open"
_names = itertools.count(1)


class DurableRulesError(RuntimeError):
    """durable_rules refused or failed an operation."""


def number_json(value: float) -> str:
    """A finite float as durable_rules reads it: plain decimals, never exponent notation
    (exact: the shortest repr, written out)."""
    if not math.isfinite(value):
        raise DurableRulesError(f"cannot pass the non-finite number {value} to durable_rules")
    text = repr(value)
    if "e" not in text:
        return text
    from decimal import Decimal  # here: only a number that needs an exponent in Python's repr

    return format(Decimal(text), "f")


def to_json(value) -> str:
    """JSON for durable_rules: plain decimals, never exponent notation."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_json(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise DurableRulesError(f"cannot pass {type(value).__name__} to durable_rules")


def _assert(handle, text: str) -> tuple[int, int]:
    """Assert the fact ``text``: the core's result code and the state it went to."""
    try:
        return _core.assert_fact(handle, text)
    except _core.error as error:
        raise DurableRulesError(f"durable_rules refused a fact: {error}") from None


class Ruleset:
    """A ruleset living in durable_rules' C core."""

    def __init__(self, definition: Mapping[str, dict], label: str = "badges"):
        """``definition``: rule name -> rule, read (as JSON text for the core) and never changed."""
        self.name = f"{label}-{next(_names)}"
        self.live_sessions = 0
        self.abandoned_sessions = 0  # states never deleted: see ``session`` and ``entity``
        self._reused: ReusedSession | None = None
        self._sessions_made = 0
        rules = {**definition, OPEN_RULE: {"all": [{"m": {OPEN_FIELD: 1}}]}}
        try:
            self._handle = _core.create_ruleset(self.name, to_json(rules))
        except _core.error as error:
            raise DurableRulesError(f"durable_rules rejected the compiled ruleset: {error}") from None

    def close(self) -> None:
        if self._handle is not None:
            if self._reused is not None:
                self._discard(self._reused)
            _core.delete_ruleset(self._handle)
            self._handle = None

    def __enter__(self) -> "Ruleset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _claim(self) -> None:
        if self._handle is None:
            raise DurableRulesError("ruleset is closed")
        if self.live_sessions + self.abandoned_sessions >= MAX_LIVE_SESSIONS:
            raise DurableRulesError(f"more than {MAX_LIVE_SESSIONS} live sessions in one ruleset")
        self.live_sessions += 1

    @contextmanager
    def session(self, sid: str) -> Iterator["Session"]:
        """A session for one entity; its state is deleted on exit, whatever happens."""
        self._claim()
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

    def entity(self) -> "ReusedSession":
        """The session one entity is evaluated in, as a context manager: empty when it starts
        and emptied when it ends (a class rather than a generator: it is entered once per entity)."""
        if self._reused is None:
            self._claim()
            self._sessions_made += 1
            try:
                self._reused = ReusedSession(self, f"reused-{self._sessions_made}")
            except BaseException:
                self.live_sessions -= 1
                raise
        return self._reused

    def _discard(self, session: "ReusedSession") -> None:
        self._reused = None
        self.live_sessions -= 1
        try:
            _core.delete_state(self._handle, session.sid)  # its marker fact was handled: safe to delete
        except _core.error:
            self.abandoned_sessions += 1


def _drain(handle, state_handle) -> list[str]:
    """Run every action pending in a state; the names of the rules that fired, in order."""
    fired: list[str] = []
    try:
        started = _core.start_action_for_state(handle, state_handle)  # (state, message) or None
        message = started[1] if started else None
        while message:
            # the message is {"<rule name>":{"m":{...the fact...}}}: our rule names need no escaping
            fired.append(message[2:message.index('"', 2)])
            message = _core.complete_and_start_action(handle, state_handle)
    except _core.error as error:
        _core.abandon_action(handle, state_handle)
        raise DurableRulesError(f"durable_rules failed while running actions: {error}") from None
    return fired


class Session:
    """One entity's working memory."""

    def __init__(self, handle, sid: str):
        self._handle = handle
        self.sid = sid
        self.touched = False
        self.refused = False  # the core returned a non-zero result code for a fact

    def assert_fact(self, fact: dict) -> list[str]:
        """Assert ``fact`` and run every action it triggers; the names of the rules that fired, in order."""
        code, state_handle = _assert(self._handle, to_json({**fact, "sid": self.sid}))
        if code != HANDLED:
            self.refused = not self.touched
            raise DurableRulesError(f"durable_rules did not take the fact (result code {code})")
        self.touched = True
        return _drain(self._handle, state_handle)

    def facts(self) -> list[dict]:
        """The facts durable_rules holds in this session (for tests and diagnosis)."""
        return json.loads(_core.get_facts(self._handle, self.sid))


class ReusedSession:
    """A session that evaluates entities one after another (see ``Ruleset.entity``).

    Facts are given as JSON object text (``stage_facts`` writes it); each gets an id made
    of the entity's number in this session and the fact's number for the entity, so the
    entity's facts can be retracted by id when it is done. Leaving it (``with``) empties it;
    leaving it by an exception throws it away, since an action may be left started or a
    fact half-handled, and nothing of it may reach the next entity.
    """

    def __init__(self, ruleset: Ruleset, sid: str):
        self._ruleset = ruleset
        self._handle = handle = ruleset._handle
        self.sid = sid
        self._head = "{" + f'"sid":{json.dumps(sid)},"id":"'
        self._entity = 0
        self._asserted: list[str] = []  # ids of the current entity's facts
        code, state_handle = _assert(handle, self._head + f'open",{json.dumps(OPEN_FIELD)}:1' + "}")
        if code != HANDLED or _drain(handle, state_handle) != [OPEN_RULE]:
            raise DurableRulesError("durable_rules did not open a session")

    def __enter__(self) -> "ReusedSession":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            try:
                self.clear()
                return
            except BaseException:
                self._ruleset._discard(self)
                raise
        self._ruleset._discard(self)

    def assert_json(self, text: str) -> list[str]:
        """Assert the fact written as the JSON object ``text`` (no sid, no id) and run every action
        it triggers; the names of the rules that fired, in order (none when no rule matched it)."""
        fact_id = f"{self._entity}.{len(self._asserted)}"
        code, state_handle = _assert(
            self._handle, f'{self._head}{fact_id}",{text[1:]}' if len(text) > 2 else f'{self._head}{fact_id}"' + "}")
        if code not in (HANDLED, NOT_HANDLED):  # NOT_HANDLED: it went through the network, no rule matched
            raise DurableRulesError(f"durable_rules did not take the fact (result code {code})")
        self._asserted.append(fact_id)
        return _drain(self._handle, state_handle)

    def clear(self) -> None:
        """Retract every fact of the current entity: the session then holds only its marker."""
        if self._asserted:
            facts = ",".join(self._head + fact_id + '"}' for fact_id in self._asserted)
            try:
                code, _ = _core.retract_facts(self._handle, f"[{facts}]")
            except _core.error as error:
                raise DurableRulesError(f"durable_rules could not retract an entity's facts: {error}") from None
            if code != HANDLED:
                raise DurableRulesError(f"durable_rules did not retract an entity's facts (result code {code})")
        self._asserted.clear()
        self._entity += 1

    def facts(self) -> list[dict]:
        """The facts durable_rules holds in this session, its marker among them (for tests and diagnosis)."""
        return json.loads(_core.get_facts(self._handle, self.sid))
