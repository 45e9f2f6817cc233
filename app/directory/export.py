"""The directory as CSV that is safe to open in a spreadsheet."""

import csv
import io
from collections.abc import Iterable

from app.directory.schemas import DirectoryEntry
from app.partners.schemas import ContactRead

COLUMNS = (
    "id",
    "name",
    "website",
    "need_domains",
    "grade_bands",
    "locales",
    "regions",
    "delivery_modes",
    "capacity",
    "cost_min",
    "cost_max",
    "approved_at",
    "expires_at",
    "evidence_tiers",
    "contacts",
    "description",
)
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _contact(contact: ContactRead) -> str:
    """One contact as a person reads it: "Name (title) email phone"."""
    title = f"({contact.title})" if contact.title else None
    return " ".join(part for part in (contact.name, title, contact.email, contact.phone) if part)


def _row(entry: DirectoryEntry) -> list[object]:
    return [
        entry.id,
        entry.name,
        entry.website,
        ";".join(entry.need_domains),
        ";".join(entry.grade_bands),
        ";".join(entry.locales),
        ";".join(entry.regions),
        ";".join(entry.delivery_modes),
        entry.capacity,
        entry.cost_per_school_year.min,
        entry.cost_per_school_year.max,
        entry.designation.approved_at.isoformat(),
        entry.designation.expires_at.isoformat(),
        ";".join(f"{domain}:{tier}" for domain, tier in entry.evidence_tiers.items()),
        "; ".join(map(_contact, entry.contacts)),
        entry.description,
    ]


def to_csv(entries: Iterable[DirectoryEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([safe_cell(value) for value in _row(entry)])
    return buffer.getvalue()
