"""Lay the report model out as one self-contained HTML page or one Markdown document (Jinja2 templates)."""
from __future__ import annotations

from functools import lru_cache

from .render_md import escape_md
from .render_qualify import change_text, headline, overturn_text, tail
from .report import Report, children_in_order, flatten, node_facts, outcome_words
from .words import MARKS, condition_text

FORMATS = ("html", "md")

__all__ = ["FORMATS", "render_report"]


class Raw(str):
    """Markdown the template builds itself (indentation, pre-escaped text): not escaped again."""


def _md_value(value) -> str:
    """Every value a Markdown template prints is escaped unless it is ``Raw``: facts-file text never becomes markup."""
    if value is None:
        return ""
    return value if isinstance(value, Raw) else escape_md(str(value))


@lru_cache(maxsize=None)
def _environment(fmt: str):
    from jinja2 import Environment, PackageLoader, StrictUndefined

    options = dict(loader=PackageLoader("explain", "templates"), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    if fmt == "html":
        env = Environment(autoescape=True, **options)
    else:
        env = Environment(autoescape=False, finalize=_md_value, **options)
        env.globals["indent"] = lambda depth: Raw("  " * depth)
        env.globals["raw"] = env.filters["raw"] = Raw  # for macros, whose output is already escaped
    env.globals.update(marks=MARKS, condition_text=condition_text, node_facts=node_facts,
                       children_in_order=children_in_order, flatten=flatten, outcome_words=outcome_words,
                       change_text=change_text, overturn_text=overturn_text, qualify_headline=headline,
                       qualify_tail=tail)
    return env


def render_report(report: Report, fmt: str) -> str:
    """The whole document as text; nothing is written here."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    return _environment(fmt).get_template(f"report.{fmt}").render(report=report, kb=report.kb)
