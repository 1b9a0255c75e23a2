"""Kiva API partner records -> facts files (``badges import kiva``).

Kiva's public API described each lending partner with a handful of figures (see
/work/shared/DOMAIN.md). Almost none of them answer a badge criterion, so the importer
maps only what truly maps and leaves every other fact unknown:

==============================================  =========================================
Kiva API field                                  fact
==============================================  =========================================
``social_performance_strengths`` (ids 1-7)      ``kiva_recorded_badges`` (what Kiva awarded)
``status``                                      ``kiva_partner_status``
``rating`` ("Not Rated", "0.0" -> unknown)      ``kiva_risk_rating``
``start_date``                                  ``kiva_partner_since``
``countries``                                   ``kiva_countries`` (text)
``average_loan_size_percent_per_capita_income`` ``average_loan_size_percent_gni_per_capita``
==============================================  =========================================

The portfolio figures (delinquency, default, yield, profitability, ...) are known
fields but no fact holds them, so they are not carried over. A field Kiva's record does
not have is reported as a warning and ignored. ``null``, ``""`` and a missing field are
unknown; an empty ``social_performance_strengths`` list means Kiva recorded no badge.

Malformed values are errors naming the record (its index and id) and the field; when
there is any error nothing is written, so a folder never holds half an import. Each
file is written atomically (a temporary file renamed into place).
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from . import model as m
from .diagnostics import Collector, Location
from .recorded_badges import KIVA_BADGES, RECORDED_FACT, value_for
from .source import Document, parse_json_text

BADGE_NAMES = {  # Kiva's names for strength ids 1 to 7, lower-cased, for records that omit the id
    "anti-poverty focus": 1, "vulnerable group focus": 2, "client voice": 3,
    "family and community empowerment": 4, "entrepreneurial support": 5, "facilitation of savings": 6,
    "innovation": 7,
}
MAPPED = ("id", "name", "status", "rating", "start_date", "countries", "social_performance_strengths",
          "average_loan_size_percent_per_capita_income")
KNOWN_UNMAPPED = (  # in Kiva's partner record, but no fact of the knowledge base holds them
    "image", "delinquency_rate", "delinquency_rate_note", "default_rate", "default_rate_note",
    "loans_at_risk_rate", "currency_exchange_loss_rate", "portfolio_yield", "portfolio_yield_note",
    "profitability", "charges_fees_and_interest", "total_amount_raised", "loans_posted", "url",
)
STATUSES = ("active", "paused", "closed")
NOT_RATED = ("not rated", "0", "0.0", "")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)%?$")


@dataclass(frozen=True)
class Partner:
    """One record converted: the facts file it becomes."""

    index: int
    kiva_id: str
    file_name: str
    document: dict


class _Record:
    """Reads one API record, reporting problems as ``record N (id X), field 'f': ...``."""

    def __init__(self, document: Document, base: tuple, index: int, collector: Collector, as_of: str | None):
        self.document, self.base, self.index, self.collector, self.as_of = document, base, index, collector, as_of
        self.data = document.data if not base else _at(document.data, base)
        self.kiva_id = None

    def where(self, field: str | None = None) -> Location:
        return self.document.at(self.base + ((field,) if field else ()))

    def label(self) -> str:
        return f"record {self.index}" + (f" (id {self.kiva_id})" if self.kiva_id is not None else "")

    def error(self, field: str, message: str, code: str = "BD703") -> None:
        self.collector.add(self.where(field), code, f"{self.label()}, field '{field}': {message}",
                           subject=self.kiva_id)

    def given(self, field: str) -> Any:
        """The field's value, or None when it is missing, null or empty text (unknown)."""
        value = self.data.get(field)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    def evidence(self, field: str, value: Any) -> dict:
        fact = {"value": value, "source": "kiva_api"}
        if self.as_of:
            fact["as_of"] = self.as_of
        fact["reference"] = f"Kiva API partner {self.kiva_id}, field {field}"
        return fact


def _at(data, path):
    for key in path:
        data = data[key]
    return data


def read_partners(path: Path, collector: Collector, as_of: str | None = None) -> list[Partner]:
    """Every record of a Kiva API dump converted to a facts document; problems go to ``collector``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        collector.add(Location(str(path), 0, 0), "BD001", f"cannot read file: {getattr(error, 'strerror', None) or error}")
        return []
    document = parse_json_text(text, str(path), collector)
    if document is None:
        return []
    records, base = document.data, ()
    if isinstance(records, dict) and isinstance(records.get("partners"), list):
        records, base = records["partners"], ("partners",)  # the API's response: {"paging": ..., "partners": [...]}
    if not isinstance(records, list):
        collector.add(document.at(()), "BD701", "expected a list of Kiva partner records "
                      "(or the API's response, an object with a 'partners' list)")
        return []
    partners: list[Partner] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(records):
        record = _Record(document, base + (index,), index, collector, as_of)
        if not isinstance(raw, dict):
            collector.add(record.where(), "BD701", f"record {index} is not an object")
            continue
        partner = _partner(record)
        if partner is None:
            continue
        if partner.kiva_id in seen:
            record.error("id", f"id {partner.kiva_id} is also used by record {seen[partner.kiva_id]}", "BD702")
            continue
        seen[partner.kiva_id] = index
        partners.append(partner)
    return partners


def _partner(record: _Record) -> Partner | None:
    raw_id = record.given("id")
    if isinstance(raw_id, bool) or not (isinstance(raw_id, int) or (isinstance(raw_id, str) and raw_id.strip().isdigit())):
        record.error("id", "missing or not a whole number; a partner cannot be imported without its Kiva id", "BD702")
        return None
    record.kiva_id = str(int(raw_id))
    for field in record.data:
        if field not in MAPPED and field not in KNOWN_UNMAPPED:
            record.collector.add(record.where(field), "BD704",
                                 f"{record.label()}, field '{field}': not part of Kiva's partner record; ignored",
                                 subject=record.kiva_id)
    before = len(record.collector.errors)
    name = record.given("name")
    if name is not None and not isinstance(name, str):
        record.error("name", f"expected text, found {name!r}")
    facts: dict[str, Any] = {}
    for field, fact, read in _READERS:
        if record.given(field) is not None:
            value = read(record, field, record.given(field))
            if value is not None:
                facts[fact] = record.evidence(field, value)
    if len(record.collector.errors) > before:
        return None
    document = {
        "kind": "partner",
        "id": f"kiva-{record.kiva_id}",
        "name": name.strip() if isinstance(name, str) else f"Kiva partner {record.kiva_id}",
        "description": f"Imported from Kiva API partner record {record.kiva_id}. Only the fields that answer a "
                       "fact are kept; every other fact is unknown.",
        "facts": facts,
    }
    return Partner(record.index, record.kiva_id, f"kiva-{record.kiva_id}.yaml", document)


def _badges(record: _Record, field: str, value: Any) -> list[str] | None:
    if not isinstance(value, list):
        record.error(field, "expected a list of {id, name, description}")
        return None
    ids: list[int] = []
    for position, strength in enumerate(value):
        number = _strength_id(strength)
        if number is None:
            record.collector.add(record.document.at(record.base + (field, position)), "BD703",
                                 f"{record.label()}, field '{field}' item {position}: not one of Kiva's seven "
                                 f"badges (ids 1 to 7: {', '.join(KIVA_BADGES)})", subject=record.kiva_id)
            return None
        if number not in ids:
            ids.append(number)
    return [value_for(KIVA_BADGES[n - 1]) for n in sorted(ids)]


def _strength_id(strength: Any) -> int | None:
    if not isinstance(strength, dict):
        return None
    raw = strength.get("id")
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 1 <= raw <= len(KIVA_BADGES) else None
    name = strength.get("name")
    return BADGE_NAMES.get(name.strip().lower()) if raw is None and isinstance(name, str) else None


def _status(record: _Record, field: str, value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower() in STATUSES:
        return value.strip().lower()
    record.error(field, f"{value!r} is not a partner status ({', '.join(STATUSES)})")
    return None


def _number(record: _Record, field: str, value: Any) -> float | None:
    """A figure given as a number or as text ('23.5' or '23.5%')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value.strip().rstrip("%"))
    record.error(field, f"expected a number, found {value!r}")
    return None


def _rating(record: _Record, field: str, value: Any) -> float | None:
    if isinstance(value, str) and value.strip().lower() in NOT_RATED or value == 0:
        return None  # Kiva's "no rating": unknown, not zero stars
    stars = _number(record, field, value)
    if stars is not None and not 0.5 <= stars <= 5:
        record.error(field, f"{value!r} is not a rating from 0.5 to 5 stars")
        return None
    return stars


def _loan_size(record: _Record, field: str, value: Any) -> float | None:
    figure = _number(record, field, value)
    if figure is not None and figure < 0:
        record.error(field, f"{value!r} cannot be negative")
        return None
    return figure


def _start_date(record: _Record, field: str, value: Any) -> str | None:
    text = value.strip()[:10] if isinstance(value, str) else ""
    try:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
            raise ValueError(text)
        date.fromisoformat(text)
        return text
    except ValueError:
        record.error(field, f"expected an ISO 8601 date such as 2006-03-14T07:00:00Z, found {value!r}")
        return None


def _countries(record: _Record, field: str, value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        record.error(field, "expected a non-empty list of {iso_code, region, name}")
        return None
    names = []
    for country in value:
        if not isinstance(country, dict) or not isinstance(country.get("name"), str) or not country["name"].strip():
            record.error(field, f"each country needs a name, found {country!r}")
            return None
        code = country.get("iso_code")
        names.append(country["name"].strip() + (f" ({code.strip()})" if isinstance(code, str) and code.strip() else ""))
    return "; ".join(names)


_READERS = (
    ("social_performance_strengths", RECORDED_FACT, _badges),
    ("status", "kiva_partner_status", _status),
    ("rating", "kiva_risk_rating", _rating),
    ("start_date", "kiva_partner_since", _start_date),
    ("countries", "kiva_countries", _countries),
    ("average_loan_size_percent_per_capita_income", "average_loan_size_percent_gni_per_capita", _loan_size),
)


def check_against_kb(partners: list[Partner], kb: m.KnowledgeBase, collector: Collector) -> None:
    """Read every converted document back through the facts loader: what is written must load."""
    from .facts_loader import entity_from_document

    for partner in partners:
        entity_from_document(Document(partner.file_name, partner.document, {}, {}), kb, collector,
                             source=partner.file_name)


def facts_text(partner: Partner) -> str:
    import yaml

    head = f"# Kiva API partner {partner.kiva_id}, written by `badges import kiva`.\n"
    return head + yaml.safe_dump(partner.document, sort_keys=False, allow_unicode=True, width=100)


def write_all(partners: list[Partner], out: Path, collector: Collector) -> list[Path]:
    """Write one facts file per partner, each atomically; report (not raise) what could not be written."""
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        collector.add(Location(str(out)), "BD705", f"cannot create the output folder: {error.strerror or error}")
        return written
    for partner in partners:
        target = out / partner.file_name
        try:
            _write_atomically(target, facts_text(partner))
        except OSError as error:
            collector.add(Location(str(target)), "BD705", f"cannot write: {error.strerror or error}")
            break
        written.append(target)
    return written


def _write_atomically(target: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
