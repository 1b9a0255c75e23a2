"""``badges evaluate`` output, written while a batch streams.

Each format has a *render* function, run in the worker that evaluated the entity (so the
costly part, turning trails into JSON, runs in parallel), and a *writer* in the main
process that puts the rendered pieces together in input order. JSON output is byte for
byte what ``explain.portfolio.to_json`` writes for the same results; tables and Markdown,
which need whole columns, are printed in chunks of ``TABLE_CHUNK`` entities.

When the entity carries the badges Kiva recorded (``kiva_recorded_badges``), each badge
decision also says whether the engine agrees with Kiva (see ``engine.recorded_badges``).
Nothing is written when no entity could be evaluated and some were bad (stdout then
stays empty and stderr says why).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, NamedTuple, TextIO

from . import recorded_badges

TABLE_CHUNK = 500  # entities per printed table
FORMATS = ("table", "json", "jsonl", "csv", "md")


def decisions_with_agreement(result, decisions: list[dict]) -> list[dict]:
    """The JSON decisions of ``result``, each with ``agreement`` after ``outcome`` where it applies."""
    out = []
    for data, decision in zip(decisions, result.decisions):
        said = recorded_badges.agreement(result.entity, decision.conclusion, decision.outcome)
        out.append(data if said is None else _insert_after(data, "outcome", "agreement", said))
    return out


def _insert_after(data: dict, key: str, new_key: str, value) -> dict:
    out = {}
    for k, v in data.items():
        out[k] = v
        if k == key:
            out[new_key] = value
    return out


def entry_data(kb, result) -> dict:
    """One entity's entry of the JSON ``results`` list."""
    from explain.portfolio import results_data

    entry = results_data(kb, [result])["results"][0]
    entry["decisions"] = decisions_with_agreement(result, entry["decisions"])
    return entry


def render_json(kb, result) -> str:
    from explain import indented_json

    return "    " + indented_json.dumps(entry_data(kb, result), "    ")  # nested two levels deep in the document


def render_jsonl(kb, result) -> str:
    from explain.portfolio import kb_data

    return json.dumps({"knowledge_base": kb_data(kb), **entry_data(kb, result)}, ensure_ascii=False)


def csv_columns(kb) -> tuple[str, ...]:
    from explain.portfolio import CSV_COLUMNS

    return CSV_COLUMNS + (("agreement",) if recorded_badges.declared(kb) else ())


_csv_rows: dict[int, tuple] = {}  # id(kb) -> (kb, its CsvRows): built once per process and knowledge base


def csv_rows(kb):
    """The knowledge base's ``explain.portfolio.CsvRows`` (one per process and knowledge base)."""
    found = _csv_rows.get(id(kb))
    if found is None or found[0] is not kb:
        from explain.portfolio import CsvRows

        found = _csv_rows[id(kb)] = (kb, CsvRows(kb, with_agreement=recorded_badges.declared(kb)))
    return found[1]


def render_csv(kb, result) -> tuple:
    """What the CSV writer needs of a result (``CsvRows.piece``): it writes the rows out."""
    return csv_rows(kb).piece(result)


class ShownEntity(NamedTuple):
    id: str
    name: str


class ShownDecision(NamedTuple):
    conclusion: Any  # the knowledge base's Conclusion
    outcome: str
    agreement: str | None  # with the badges Kiva recorded (engine.recorded_badges), when there is any


class Shown(NamedTuple):
    """What a table or Markdown shows of one entity's result (read like an EntityResult)."""

    entity: ShownEntity
    decisions: tuple[ShownDecision, ...]


def render_whole(kb, result) -> tuple:
    """Tables and Markdown lay out whole columns in the main process. The worker sends what they
    show of a result, by conclusion id: the result's own pickle would carry its rule base along."""
    entity, outcomes = result.entity, result.outcomes
    return (entity.id, entity.name,
            tuple((c.id, outcomes[c.id], recorded_badges.agreement(entity, c, outcomes[c.id]))
                  for c in result.reported))


def render_with_log(render, kb, result) -> tuple[Any, list[dict]]:
    """The rendered entity and its decision-log records (built where the trails are)."""
    from .decision_log import build_records

    return render(kb, result), build_records(kb, [result])


RENDERERS = {"json": render_json, "jsonl": render_jsonl, "csv": render_csv, "table": render_whole,
             "md": render_whole}


class Writer:
    """Puts rendered entities together on ``out`` in the order they are added."""

    def __init__(self, kb, out: TextIO):
        self.kb = kb
        self.out = out
        self.count = 0

    def add(self, piece: Any) -> None:
        if self.count == 0:
            self.begin()
        self.count += 1
        self.write(piece)

    def add_all(self, pieces: list) -> None:
        """``add`` each of ``pieces``, in order: one write per entity (the text of a whole task
        at once, some 600 KB of CSV, was a fresh allocation each time, whose pages the kernel
        faulted in again: 3x slower)."""
        for piece in pieces:
            self.add(piece)

    def finish(self, any_bad: bool) -> None:
        if self.count == 0:
            if any_bad:
                return  # nothing was evaluated: say nothing on stdout, the diagnostics say why
            self.begin()
        self.end()
        self.out.flush()

    def begin(self) -> None:
        pass

    def write(self, piece: Any) -> None:
        self.out.write(piece)

    def end(self) -> None:
        pass


class JsonWriter(Writer):
    def begin(self) -> None:
        from explain.portfolio import kb_data

        head = json.dumps({"knowledge_base": kb_data(self.kb), "results": []}, indent=2, ensure_ascii=False)
        self.out.write(head[: -len("[]\n}")])

    def write(self, piece: str) -> None:
        self.out.write(("[\n" if self.count == 1 else ",\n") + piece)

    def end(self) -> None:
        self.out.write("\n  ]\n}\n" if self.count else "[]\n}\n")


class JsonLinesWriter(Writer):
    def write(self, piece: str) -> None:
        self.out.write(piece)  # not joined to its line break: a copy of some 150 KB
        self.out.write("\n")


class CsvWriter(Writer):
    """Rows from the pieces ``render_csv`` makes."""

    def __init__(self, kb, out: TextIO):
        super().__init__(kb, out)
        self.rows = csv_rows(kb)

    def write(self, piece: tuple) -> None:
        self.out.write(self.rows.text(piece))

    def begin(self) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(csv_columns(self.kb))
        self.out.write(buffer.getvalue())


class ChunkedWriter(Writer):
    """Tables and Markdown: whole results, printed ``TABLE_CHUNK`` at a time."""

    def __init__(self, kb, out: TextIO, markdown: bool):
        super().__init__(kb, out)
        self.markdown = markdown
        self.pending: list[Shown] = []
        self.conclusions = {c.id: c for pack in kb.packs.values() for c in pack.conclusions.values()}

    def write(self, piece) -> None:
        entity_id, name, decisions = piece  # from render_whole
        self.pending.append(Shown(ShownEntity(entity_id, name), tuple(
            ShownDecision(self.conclusions[cid], outcome, agreement) for cid, outcome, agreement in decisions)))
        if len(self.pending) >= TABLE_CHUNK:
            self.flush()

    def end(self) -> None:
        if self.pending or self.count == 0:
            self.flush()

    def flush(self) -> None:
        from explain import portfolio

        if self.markdown:
            text = portfolio.to_markdown(self.kb, self.pending) + agreement_markdown(self.pending)
        else:
            from .cli.common import console

            buffer = io.StringIO()
            # tables take the width they need, up to 200 columns, rather than wrap every cell
            portfolio.to_table(self.kb, self.pending, console(buffer, piped_width=200))
            text = "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
            text += agreement_text(self.pending)
        self.out.write(text)
        self.pending = []


def writer_for(fmt: str, kb, out: TextIO) -> Writer:
    if fmt == "json":
        return JsonWriter(kb, out)
    if fmt == "jsonl":
        return JsonLinesWriter(kb, out)
    if fmt == "csv":
        return CsvWriter(kb, out)
    return ChunkedWriter(kb, out, markdown=fmt == "md")


def agreement_lines(results: list[Shown], escape=str) -> list[str]:
    """Per entity with recorded badges: how many decisions agree with Kiva, and which differ."""
    lines = []
    for r in results:
        said = [(d, d.agreement) for d in r.decisions if d.agreement is not None]
        if not said:
            continue
        counts = {key: sum(s == key for _, s in said) for key in recorded_badges.WORDS}
        parts = [f"{counts[key]} {word}" for key, word in recorded_badges.WORDS.items() if counts[key]]
        differ = [f"{d.conclusion.id} (engine: {d.outcome.replace('_', ' ')}, Kiva: "
                  f"{'recorded' if d.outcome != 'granted' else 'not recorded'})"
                  for d, s in said if s == recorded_badges.DIFFERS]
        lines.append(f"{escape(r.entity.name)} ({escape(r.entity.id)}): {', '.join(parts)}"
                     + (f"; differs on {', '.join(differ)}" if differ else ""))
    return lines


def agreement_text(results) -> str:
    lines = agreement_lines(results)
    if not lines:
        return ""
    return "Agreement with the badges Kiva recorded:\n" + "".join(f"  {line}\n" for line in lines)


def agreement_markdown(results) -> str:
    from explain.render_md import escape_md

    lines = agreement_lines(results, escape_md)
    if not lines:
        return ""
    return "\n## Agreement with the badges Kiva recorded\n\n" + "".join(f"- {line}\n" for line in lines)
