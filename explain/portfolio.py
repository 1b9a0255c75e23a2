"""Portfolio outputs of ``badges evaluate``: table, JSON, CSV and Markdown."""
from __future__ import annotations

import csv
from collections import Counter
import io

from .render_json import trail_data
from .words import OUTCOME_WORDS, TONE_STYLES, decision_label, decision_tone

CSV_COLUMNS = ("entity_id", "entity_name", "source", "conclusion", "name", "kind", "outcome",
               "rule_id", "rule_version", "rule_file", "rule_line")


def kb_data(kb) -> dict:
    return {"name": kb.name, "version": kb.version, "sha256": kb.sha256}


def results_data(kb, results) -> dict:
    """The JSON contract: knowledge_base identity and one entry per entity."""
    return {"knowledge_base": kb_data(kb), "results": [_result_data(r) for r in results]}


def _result_data(r) -> dict:
    shared: dict = {}  # the entity's derived trails, each made into data once (trail_data)
    return {
        "entity": {"id": r.entity.id, "name": r.entity.name, "kind": r.entity.kind, "source": r.entity.source},
        "decisions": [
            {
                "badge": d.conclusion.id,
                "name": d.conclusion.name,
                "outcome": d.outcome,
                "rule": {"id": d.conclusion.id, "version": d.conclusion.version,
                         "file": d.conclusion.file, "line": d.conclusion.line},
                "trail": trail_data(d.trail, shared),
            }
            for d in r.decisions
        ],
    }


def to_json(kb, results) -> str:
    from . import indented_json

    return indented_json.dumps(results_data(kb, results)) + "\n"


def _csv_fields(*fields) -> str:
    """``fields`` as the csv module writes them within a row (quoted only where they must be)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([*fields, "x"])  # "x": never quoted, never alone
    return buffer.getvalue()[: -len(",x\n")]


class CsvRows:
    """Decisions as rows of ``CSV_COLUMNS``, and ``agreement`` when asked: byte for byte what the
    csv module writes. What a conclusion's outcome fixes is escaped once, the entity's columns
    once per entity.

    A batch worker sends the main process a ``piece`` (the entity's columns and a number per
    decision), which the main process turns into ``text``: a row is some 200 characters, most
    of them the same for every entity, and carrying them between processes cost more than
    writing them out where they are printed.
    """

    def __init__(self, kb, with_agreement: bool = False):
        self.with_agreement = with_agreement
        self._codes: dict[tuple[str, str], int] = {}  # (conclusion id, outcome) -> its number
        self._rows: list[str] = []  # number -> the row's columns after the entity's, unterminated
        for pack in kb.packs.values():
            for c in pack.conclusions.values():
                before = "," + _csv_fields(c.id, c.name, c.kind) + ","
                after = "," + _csv_fields(c.id, c.version, c.file, c.line)
                for o in c.outcomes:
                    self._codes[(c.id, o)] = len(self._rows)
                    self._rows.append(before + _csv_fields(o) + after)
        # bytes while every number fits in one: pickled as one string, not a tuple of ints
        self._numbers = bytes if len(self._rows) <= 256 else tuple

    def __call__(self, result) -> str:
        """Every decision of one entity, one row each."""
        return self.text(self.piece(result))

    def piece(self, result) -> tuple[str, bytes | tuple[int, ...], tuple[str, ...] | None]:
        """What ``text`` needs of a result: the entity's columns, each decision's number, and what
        each says of the badges Kiva recorded (None when nothing is recorded for the entity)."""
        from engine import recorded_badges

        entity, outcomes, codes = result.entity, result.outcomes, self._codes
        columns = _csv_fields(entity.id, entity.name, entity.source)
        numbers = self._numbers([codes[(c.id, outcomes[c.id])] for c in result.reported])
        said = None
        # with nothing recorded for the entity there is nothing to agree with: an empty column
        if self.with_agreement and recorded_badges.RECORDED_FACT in entity.values:
            said = tuple([recorded_badges.agreement(entity, c, outcomes[c.id]) or "" for c in result.reported])
        return columns, numbers, said

    def text(self, piece) -> str:
        """The rows of a ``piece``."""
        columns, numbers, said = piece
        rows = self._rows
        if said is not None:
            return "".join([f"{columns}{rows[n]},{agreement}\n" for n, agreement in zip(numbers, said)])
        end = ",\n" if self.with_agreement else "\n"
        return columns + (end + columns).join(map(rows.__getitem__, numbers)) + end if numbers else ""


def matrix_groups(kb, results) -> list[tuple[str, object, list, list]]:
    """(title, pack, conclusions in display order, the results they apply to): one per pack
    and kind of reported conclusion, so that no table grows too wide to read."""
    from engine.model import KINDS

    tables = []
    for pack in kb.packs.values():
        reported = [c for c in pack.display_order() if c.is_reported]
        kinds = list(dict.fromkeys(c.kind for c in reported))
        rows = [r for r in results if any(d.conclusion.pack == pack.id for d in r.decisions)]
        for kind in kinds:
            columns = [c for c in reported if c.kind == kind]
            title = f"{pack.name} (pack {pack.id} v{pack.version})"
            if len(kinds) > 1:
                title += f": {KINDS[kind].folder}"
            if rows:
                tables.append((title, pack, columns, rows))
    return tables


def _totals(columns, rows) -> str:
    """``3 granted, 1 not granted, 2 undetermined``: outcomes counted in the order of their scales."""
    ids = {c.id for c in columns}
    counts = Counter(d.outcome for r in rows for d in r.decisions if d.conclusion.id in ids)
    order = dict.fromkeys(o for c in columns for o in c.outcomes)
    return ", ".join(f"{counts[o]} {OUTCOME_WORDS[o]}" for o in order if counts[o])


def to_table(kb, results, console) -> None:
    """One table per pack: entities × the pack's reported conclusions (results need only their
    entities' ids and names, and their decisions' conclusions and outcomes)."""
    from rich.table import Table  # rich is loaded only for the tables that need it
    from rich.text import Text

    for title, pack, columns, rows in matrix_groups(kb, results):
        table = Table(title=title, title_justify="left")
        table.add_column(pack.entity.capitalize(), overflow="fold")
        for c in columns:
            table.add_column(c.name, justify="center", overflow="fold")
        for r in rows:
            by_id = {d.conclusion.id: d.outcome for d in r.decisions}
            cells = [Text(decision_label(c, by_id[c.id]), style=TONE_STYLES[decision_tone(c, by_id[c.id])])
                     if c.id in by_id else Text("—", style="dim") for c in columns]
            table.add_row(Text(f"{r.entity.name}\n{r.entity.id}"), *cells)
        console.print(table)
        console.print(f"{len(rows)} {pack.entity}(s): {_totals(columns, rows)}.")
        console.print()
    console.print(f"Knowledge base {kb.name} v{kb.version}, sha256 {kb.sha256[:12]}. "
                  "`badges why FILE CONCLUSION` explains any cell.")


def to_markdown(kb, results) -> str:
    from .render_md import escape_md

    out = [f"# {escape_md(kb.name)} v{kb.version}", "", f"Knowledge base sha256 `{kb.sha256}`.", ""]
    for title, pack, columns, rows in matrix_groups(kb, results):
        out += [f"## {escape_md(title)}", ""]
        out.append(f"| {pack.entity.capitalize()} | " + " | ".join(escape_md(c.name) for c in columns) + " |")
        out.append("|---|" + "---|" * len(columns))
        for r in rows:
            by_id = {d.conclusion.id: d.outcome for d in r.decisions}
            cells = [decision_label(c, by_id[c.id]) if c.id in by_id else "—" for c in columns]
            out.append(f"| {escape_md(r.entity.name)} (`{escape_md(r.entity.id)}`) | " + " | ".join(cells) + " |")
        out += ["", f"{len(rows)} {pack.entity}(s): {_totals(columns, rows)}.", ""]
    return "\n".join(out).rstrip("\n") + "\n"
