"""Portfolio outputs of ``badges evaluate``: table, JSON, CSV and Markdown."""
from __future__ import annotations

import csv
import io
import json

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .render_json import trail_data
from .render_tree import STYLES
from .words import MARKS, OUTCOME_WORDS

CSV_COLUMNS = ("entity_id", "entity_name", "source", "conclusion", "name", "kind", "outcome",
               "rule_id", "rule_version", "rule_file", "rule_line")


def kb_data(kb) -> dict:
    return {"name": kb.name, "version": kb.version, "sha256": kb.sha256}


def results_data(kb, results) -> dict:
    """The JSON contract: knowledge_base identity and one entry per entity."""
    return {
        "knowledge_base": kb_data(kb),
        "results": [
            {
                "entity": {"id": r.entity.id, "name": r.entity.name, "kind": r.entity.kind,
                           "source": r.entity.source},
                "decisions": [
                    {
                        "badge": d.conclusion.id,
                        "name": d.conclusion.name,
                        "outcome": d.outcome,
                        "rule": {"id": d.conclusion.id, "version": d.conclusion.version,
                                 "file": d.conclusion.file, "line": d.conclusion.line},
                        "trail": trail_data(d.trail),
                    }
                    for d in r.decisions
                ],
            }
            for r in results
        ],
    }


def to_json(kb, results) -> str:
    return json.dumps(results_data(kb, results), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def to_csv(kb, results) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        for d in r.decisions:
            c = d.conclusion
            writer.writerow([r.entity.id, r.entity.name, r.entity.source, c.id, c.name, c.kind, d.outcome,
                             c.id, c.version, c.file, c.line])
    return buffer.getvalue()


def _columns(results) -> list:
    columns: dict[str, object] = {}
    for r in results:
        for d in r.decisions:
            columns.setdefault(d.conclusion.id, d.conclusion)
    return list(columns.values())


def to_table(kb, results, console: Console) -> None:
    table = Table(title=f"{kb.name} v{kb.version}", title_justify="left", show_lines=False)
    table.add_column("Partner", overflow="fold")
    columns = _columns(results)
    for c in columns:
        table.add_column(c.name, justify="center", overflow="fold")
    for r in results:
        by_id = {d.conclusion.id: d for d in r.decisions}
        cells = []
        for c in columns:
            d = by_id.get(c.id)
            if d is None:
                cells.append(Text("—", style="dim"))
            else:
                cells.append(Text(f"{MARKS[d.value]} {OUTCOME_WORDS[d.outcome]}", style=STYLES[d.value]))
        table.add_row(Text(f"{r.entity.name}\n{r.entity.id}"), *cells)
    console.print(table)
    totals = {o: sum(d.outcome == o for r in results for d in r.decisions)
              for o in ("granted", "not_granted", "undetermined")}
    console.print(f"{len(results)} partner(s): {totals['granted']} granted, {totals['not_granted']} not granted, "
                  f"{totals['undetermined']} undetermined. `badges why FILE BADGE` explains any cell.")


def to_markdown(kb, results) -> str:
    from .render_md import escape_md

    columns = _columns(results)
    out = [f"# {escape_md(kb.name)} v{kb.version}", "", f"Knowledge base sha256 `{kb.sha256}`.", ""]
    out.append("| Partner | " + " | ".join(escape_md(c.name) for c in columns) + " |")
    out.append("|---|" + "---|" * len(columns))
    for r in results:
        by_id = {d.conclusion.id: d for d in r.decisions}
        cells = [f"{MARKS[by_id[c.id].value]} {OUTCOME_WORDS[by_id[c.id].outcome]}" if c.id in by_id else "—"
                 for c in columns]
        out.append(f"| {escape_md(r.entity.name)} (`{r.entity.id}`) | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
