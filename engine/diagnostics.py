"""Diagnostics: located, coded problems found in rule files and facts files.

Every problem the engine can report has a stable code registered in ``CODES``; a
diagnostic prints as ``path:line:col: CODE message`` (flake8's format), and all of
them are collected and reported together, sorted by location.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


# code -> (severity, one-line meaning). docs/diagnostics.md is written from this table.
CODES: dict[str, tuple[Severity, str]] = {
    # reading files
    "BD001": (Severity.ERROR, "file cannot be read"),
    "BD002": (Severity.ERROR, "YAML or JSON syntax error"),
    "BD003": (Severity.ERROR, "duplicate key in a mapping"),
    "BD004": (Severity.ERROR, "unsupported YAML tag (no Python or custom tags)"),
    "BD005": (Severity.ERROR, "file is empty"),
    "BD006": (Severity.ERROR, "more than one YAML document in a file"),
    "BD007": (Severity.ERROR, "mapping key is not a plain string"),
    "BD008": (Severity.ERROR, "path is neither a facts file nor a folder of them"),
    "BD009": (Severity.ERROR, "YAML alias (anchors and aliases are not allowed)"),
    # document structure (JSON Schema)
    "BD101": (Severity.ERROR, "document does not match its schema"),
    "BD102": (Severity.ERROR, "a condition node must have exactly one kind"),
    # knowledge base semantics
    "BD201": (Severity.ERROR, "unknown fact name"),
    "BD202": (Severity.ERROR, "unknown conclusion"),
    "BD203": (Severity.ERROR, "duplicate id"),
    "BD204": (Severity.ERROR, "operator does not apply to the fact's type"),
    "BD205": (Severity.ERROR, "comparison value does not fit the fact's type"),
    "BD206": (Severity.ERROR, "value not among the fact's allowed values"),
    "BD207": (Severity.ERROR, "cycle among derived conclusions"),
    "BD208": (Severity.ERROR, "at_least asks for more children than it has, or for none"),
    "BD209": (Severity.ERROR, "citation names an unknown source"),
    "BD210": (Severity.ERROR, "a badge may not be used as a derived conclusion"),
    "BD211": (Severity.ERROR, "comparison value outside the fact's range"),
    "BD212": (Severity.ERROR, "pack, conclusion or fact missing from the knowledge base"),
    "BD213": (Severity.ERROR, "file name does not match the id inside it"),
    "BD214": (Severity.ERROR, "other_fact must have the same type as fact"),
    "BD215": (Severity.ERROR, "fact schema declares a fact twice or is inconsistent"),
    "BD216": (Severity.ERROR, "a level conclusion names an outcome twice or uses a reserved one"),
    "BD218": (Severity.ERROR, "the knowledge base is too large for durable_rules' fixed limits"),
    "BD217": (Severity.ERROR, "a reference to a graded conclusion must name outcomes (and only such a reference may)"),
    # static analysis (engine/lint.py)
    "BD220": (Severity.ERROR, "condition can never hold"),
    "BD221": (Severity.WARNING, "condition always holds whenever its facts are known"),
    "BD222": (Severity.ERROR, "rule can never fire (or a level can never be reached)"),
    "BD230": (Severity.WARNING, "two facts with different units are compared"),
    "BD231": (Severity.WARNING, "a fact measured in percent is compared with a share (0.45 where 45 is meant)"),
    "BD251": (Severity.WARNING, "missing citation"),
    "BD252": (Severity.WARNING, "derived conclusion nobody uses"),
    "BD253": (Severity.WARNING, "fact nobody reads"),
    "BD254": (Severity.WARNING, "placeholder or empty description, question, name or owner"),
    # facts files
    "BD301": (Severity.ERROR, "unknown fact name in facts file"),
    "BD302": (Severity.ERROR, "fact value has the wrong type"),
    "BD303": (Severity.ERROR, "fact value out of range"),
    "BD304": (Severity.ERROR, "fact value not allowed"),
    "BD305": (Severity.ERROR, "invalid date"),
    "BD306": (Severity.ERROR, "no pack evaluates this kind of entity"),
    "BD307": (Severity.ERROR, "two entities share one id"),
    # tables of entities (engine/tabular_input.py)
    "BD310": (Severity.ERROR, "CSV header names an unknown evidence field, or lacks a required column"),
    "BD311": (Severity.ERROR, "CSV row has a different number of cells than the header"),
    # rule tests
    "BD401": (Severity.ERROR, "rule test names an unknown conclusion or node"),
    "BD402": (Severity.ERROR, "rule test expectation does not fit the conclusion"),
    # command line
    "BD502": (Severity.ERROR, "knowledge base cannot be read at that git revision"),
    "BD503": (Severity.ERROR, "report file cannot be written"),
    "BD504": (Severity.ERROR, "schema files cannot be written"),
    # decision log (engine/decision_log.py)
    "BD601": (Severity.ERROR, "decision log cannot be read or written"),
    "BD602": (Severity.ERROR, "line in a decision log is not a decision record"),
    "BD603": (Severity.ERROR, "decision record edited after it was written"),
    "BD604": (Severity.ERROR, "decision record missing from the chain (deleted)"),
    "BD605": (Severity.ERROR, "decision record out of order"),
    "BD606": (Severity.ERROR, "truncated decision record (an append was interrupted)"),
    # Kiva API import (engine/kiva_import.py)
    "BD701": (Severity.ERROR, "Kiva API file is not a list of partner records"),
    "BD702": (Severity.ERROR, "Kiva partner record has no usable id, or shares one with another record"),
    "BD703": (Severity.ERROR, "Kiva partner record field is malformed"),
    "BD704": (Severity.WARNING, "Kiva partner record field is not part of Kiva's record (ignored)"),
    "BD705": (Severity.ERROR, "imported facts files cannot be written"),
}


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and column are 1-based (0 when unknown)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def __reduce__(self):  # pickled as its fields alone: a batch sends one per entity between processes
        return Location, (self.path, self.line, self.col)


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where, which code, what is wrong, and what might fix it."""

    location: Location
    code: str
    message: str
    suggestion: str | None = None
    subject: str | None = None  # the rule or entity id concerned, when there is one
    severity: Severity = field(init=False)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")
        object.__setattr__(self, "severity", CODES[self.code][0])

    def format(self) -> str:
        text = f"{self.location}: {self.code} {self.message}"
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text

    def sort_key(self) -> tuple:
        return (self.location.path, self.location.line, self.location.col, self.code, self.message)

    def to_dict(self) -> dict:
        return {
            "path": self.location.path,
            "line": self.location.line,
            "col": self.location.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "suggestion": self.suggestion,
            "subject": self.subject,
        }


class InvalidInput(Exception):
    """Raised with every diagnostic found when input cannot be used."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class Collector:
    """Accumulates diagnostics; ``raise_if_errors`` stops once a stage is done."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, location: Location, code: str, message: str, **extra) -> None:
        self.items.append(Diagnostic(location, code, message, **extra))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InvalidInput(self.items)


def did_you_mean(name: str, candidates) -> str | None:
    """The closest candidate to a misspelt name, if any is close enough."""
    import difflib  # only a misspelling needs it

    found = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
