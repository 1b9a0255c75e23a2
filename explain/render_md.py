"""Trails as Markdown."""
from __future__ import annotations

from .render_tree import ordered
from .trail import ConclusionTrail, TrailNode
from .words import MARKS, OUTCOME_WORDS, condition_text, evidence_text, summary


def escape_md(text: str) -> str:
    """Keep facts-file text from turning into Markdown or HTML."""
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def _lines(node: TrailNode, depth: int, full: bool, out: list[str]) -> None:
    pad = "  " * depth
    out.append(f"{pad}- {MARKS[node.value]} **{node.id}** `{condition_text(node)}`: {escape_md(node.description)}")
    for read in (node.fact, node.other):
        if read is not None and read.known and evidence_text(read.evidence):
            out.append(f"{pad}  - evidence for `{read.name}`: {escape_md(evidence_text(read.evidence))}")
    if node.cite is not None:
        out.append(f"{pad}  - cites *{escape_md(str(node.cite))}*")
    if node.conclusion is not None:
        rule = node.conclusion.rule
        out.append(f"{pad}  - rule `{rule.id}` v{rule.version}, `{rule.file}:{rule.line}`")
        _lines(node.conclusion.root, depth + 1, full, out)
        return
    shown = ordered(node.children) if full else [c for c in ordered(node.children) if c.deciding]
    for child in shown:
        _lines(child, depth + 1, full, out)
    hidden = len(node.children) - len(shown)
    if hidden:
        out.append(f"{pad}  - … {hidden} other condition(s) that did not decide this (`--full` shows them)")


def render_markdown(trail: ConclusionTrail, entity_name: str | None = None, full: bool = False) -> str:
    rule = trail.rule
    title = f"{trail.name}: {OUTCOME_WORDS[trail.outcome]}"
    out = [f"## {escape_md(entity_name)}: {title}" if entity_name else f"## {title}", ""]
    out.append(f"Rule `{rule.id}` v{rule.version} (`{rule.file}:{rule.line}`), effective {rule.effective}, "
               f"owner {escape_md(rule.owner)}.")
    if trail.cite is not None:
        out.append(f"Rests on *{escape_md(str(trail.cite))}*.")
    out += ["", f"**Summary.** {escape_md(summary(trail))}", ""]
    _lines(trail.root, 0, full, out)
    return "\n".join(out) + "\n"
