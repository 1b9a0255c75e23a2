"""Trails as a rich tree for the terminal."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from .trail import ConclusionTrail, TrailNode, Truth
from .words import MARKS, OUTCOME_WORDS, TONE_STYLES, condition_text, evidence_text, summary, trail_tone

STYLES = {Truth.TRUE: "green", Truth.FALSE: "red", Truth.UNKNOWN: "yellow"}


def ordered(children: tuple[TrailNode, ...]) -> list[TrailNode]:
    """Deciding children first, each group in rule order."""
    return [c for c in children if c.deciding] + [c for c in children if not c.deciding]


def _label(node: TrailNode) -> Text:
    text = Text()
    text.append(f"{MARKS[node.value]} ", style=STYLES[node.value])
    text.append(node.id, style="bold")
    text.append("  ")
    text.append(condition_text(node), style=STYLES[node.value])
    text.append(f"\n{' '.join(node.description.split())}", style="dim")
    for read in (node.fact, node.other):
        if read is not None and read.known and evidence_text(read.evidence):
            text.append(f"\nevidence for {read.name}: {evidence_text(read.evidence)}", style="cyan")
    if node.cite is not None:
        text.append(f"\ncites {node.cite}", style="dim italic")
    return text


def _add(tree: Tree, node: TrailNode, full: bool) -> None:
    branch = tree.add(_label(node))
    if node.conclusion is not None:
        sub = node.conclusion
        rule = sub.rule
        branch.add(Text(f"rule {rule.id} v{rule.version} · {rule.file}:{rule.line}", style="dim"))
        _add(branch, sub.root, full)
        return
    shown = ordered(node.children) if full else [c for c in ordered(node.children) if c.deciding]
    for child in shown:
        _add(branch, child, full)
    hidden = [c for c in node.children if c not in shown]
    if hidden:
        counts = ", ".join(f"{sum(c.value is v for c in hidden)} {v.value}" for v in Truth
                           if any(c.value is v for c in hidden))
        branch.add(Text(f"… {len(hidden)} other condition(s) that did not decide this ({counts}); --full shows them",
                        style="dim"))


def render_tree(trail: ConclusionTrail, full: bool = False) -> Group:
    """A renderable: heading, the condition tree, and the plain-language summary."""
    rule = trail.rule
    heading = Text()
    from .words import TONE_MARKS

    tone = trail_tone(trail)
    style = f"bold {TONE_STYLES[tone]}"
    heading.append(f"{TONE_MARKS[tone]} {trail.name} ", style=style)
    heading.append(f"({trail.conclusion}): {OUTCOME_WORDS[trail.outcome].upper()}", style=style)
    heading.append(f"\nrule {rule.id} v{rule.version} · {rule.file}:{rule.line} · effective {rule.effective}"
                   f" · owner {rule.owner}", style="dim")
    if trail.cite is not None:
        heading.append(f"\ncites {trail.cite}", style="dim italic")
    tree = Tree(heading, guide_style="dim")
    _add(tree, trail.root, full)
    return Group(tree, Text(""), Text(summary(trail), style="bold"))
