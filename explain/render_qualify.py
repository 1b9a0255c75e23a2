"""The "to qualify" section: what would it take, as plain words, terminal text, Markdown and JSON data."""
from __future__ import annotations

from rich.text import Text

from .counterfactual import MAX_WAYS, Change, WhatItTakes
from .render_json import _plain, evidence_data
from .render_md import escape_md
from .words import OUTCOME_WORDS, evidence_text, value_text

TITLE = "To qualify"

__all__ = ["headline", "qualify_data", "render_markdown", "render_text"]


def headline(answer: WhatItTakes) -> str:
    """One sentence: where the conclusion stands and what the list below is."""
    now, goal = OUTCOME_WORDS[answer.outcome], OUTCOME_WORDS[answer.target]
    if answer.too_wide:
        return (f"{answer.name} is {now}; its rules combine in too many ways (over {MAX_WAYS}) to list what "
                f"would make it {goal}: the trail shows what decides it.")
    if not answer.possible:
        why = (f"every way to meet its conditions needs {_names(answer.conflicts)} at incompatible values"
               if answer.conflicts else "no values of the facts it reads meet its conditions")
        return f"No change to the facts would make {answer.name} {goal}: {why}."
    count = "this change" if answer.total == 1 and len(answer.change_sets[0].changes) == 1 else (
        "these changes" if answer.total == 1 else "any one of these sets of changes")
    return (f"{answer.name} is {now}; {count} would make it {goal} "
            f"(checked by evaluating the changed facts on the engine):")


def _names(facts) -> str:
    return ", ".join(facts[:-1]) + " and " + facts[-1] if len(facts) > 1 else facts[0]


def change_text(change: Change) -> str:
    """``supply poverty_tool: one of ppi, mpi`` or ``change share_women: 41% → at least 50%``."""
    tried = value_text(change.type, change.value)
    checked = "" if tried in change.requirement else f" (checked with {tried})"
    if not change.known:
        return f"supply {change.fact}: {change.requirement}{checked}"
    return f"change {change.fact}: {value_text(change.type, change.current)} → {change.requirement}{checked}"


def overturn_text(change: Change) -> str:
    """For a change of a known fact: what it overturns ('' for a fact that is supplied)."""
    if not change.known:
        return ""
    evidence = evidence_text(change.evidence)
    return "overturns a known value" + (f": {evidence}" if evidence else "")


def tail(answer: WhatItTakes) -> list[str]:
    """Closing remarks: how many were left out, and any candidate the engine did not confirm."""
    notes = []
    if answer.more:
        notes.append(f"… and {answer.more} more minimal set(s) of changes.")
    if answer.unproved:
        notes.append(f"{answer.unproved} candidate set(s) were left out because the engine did not confirm them "
                     "(a defect in badges: please report it).")
    return notes


def render_text(answer: WhatItTakes) -> Text:
    """The section for ``badges why`` in the terminal."""
    text = Text()
    text.append(f"{TITLE}\n", style="bold underline")
    text.append(headline(answer), style="bold red" if answer.possible is False else "bold")
    for number, change_set in enumerate(answer.change_sets, 1):
        for i, change in enumerate(change_set.changes):
            text.append(f"\n{f'{number}.' if i == 0 else '':>4} ")
            text.append(change_text(change), style="magenta" if change.known else "cyan")
            if change.known:
                text.append(f"  ({overturn_text(change)})", style="dim")
    for note in tail(answer):
        text.append(f"\n{note}", style="dim")
    return text


def render_markdown(answer: WhatItTakes) -> str:
    out = [f"### {TITLE}", "", escape_md(headline(answer)), ""]
    for number, change_set in enumerate(answer.change_sets, 1):
        out.append(f"{number}. " + "; ".join(_md_change(c) for c in change_set.changes))
    if answer.change_sets:
        out.append("")
    out += [escape_md(note) + "\n" for note in tail(answer)]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_change(change: Change) -> str:
    text = escape_md(change_text(change))
    return text + (f" *({escape_md(overturn_text(change))})*" if change.known else "")


def change_data(change: Change) -> dict:
    data = {"fact": change.fact, "action": change.action, "known": change.known,
            "current": _plain(change.current), "requirement": change.requirement, "value": _plain(change.value)}
    if change.known:
        data["overturns_evidence"] = evidence_data(change.evidence)
    return data


def qualify_data(answer: WhatItTakes | None) -> dict | None:
    """The ``to_qualify`` JSON value (None when the conclusion is at its target or has none)."""
    if answer is None:
        return None
    return {
        "conclusion": answer.conclusion,
        "outcome": answer.outcome,
        "target": answer.target,
        "possible": answer.possible,  # null: the rules combine in too many ways to tell
        "summary": headline(answer),
        "change_sets": [{"size": len(s.changes), "overturns": s.overturns, "changes": [change_data(c) for c in s.changes]}
                        for s in answer.change_sets],
        "more": answer.more,
        "conflicts": list(answer.conflicts),
        "unproved": answer.unproved,
    }
