"""Rows of the WWC export for tests: made-up studies built on the committed sample's first row,
and the importer run on them as `registry import-wwc` runs it."""

import csv
import uuid
from pathlib import Path

from fastapi import FastAPI

from app.evidence import importer
from app.evidence.models import ImportedPartner
from app.evidence.service import thresholds
from app.partners.models import Partner
from seed.loader import SYSTEM

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "wwc_sample.csv"


def sample() -> tuple[list[str], dict[str, str]]:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        first = next(reader)
        return list(reader.fieldnames or []), first


def wwc_row(**changes: str) -> dict[str, str]:
    """A valid finding row of its own study, review and intervention, with ``changes``."""
    _columns, first = sample()
    tag = uuid.uuid4().hex[:10]
    return (
        first
        | {
            "s_StudyID": f"s{tag}",
            "ReviewID": f"r{tag}",
            "f_FindingID": f"f{tag}",
            "s_interventionID": f"i{tag}",
            "s_Intervention_Name": f"Intervention {tag}",
        }
        | changes
    )


def write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    names = columns or sample()[0]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


async def import_rows(
    app: FastAPI, rows: list[dict[str, str]], tmp_path: Path
) -> importer.ImportResult:
    """The importer itself, as `registry import-wwc` runs it, on the app's database."""
    path = write(tmp_path / f"{uuid.uuid4().hex}.csv", rows)
    async with app.state.database.sessions() as session, session.begin():
        return await importer.import_wwc(session, SYSTEM, path, thresholds(app.state.settings))


async def imported_partner(app: FastAPI, intervention: str) -> Partner:
    async with app.state.database.sessions() as session:
        imported = await session.get(ImportedPartner, ("wwc", intervention))
        assert imported is not None, "not imported"
        partner = await session.get(Partner, imported.partner_id)
        assert partner is not None
        return partner
