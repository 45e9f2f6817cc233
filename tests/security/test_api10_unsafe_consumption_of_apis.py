"""API10:2023 Unsafe Consumption of APIs.

The registry consumes one third-party source: the What Works Clearinghouse export, imported
with `registry import-wwc`. Its rows are trusted no more than a request body. A malformed or
hostile file stops with one line and imports nothing (no traceback, no half-import, no
database error on PostgreSQL); text loses control characters; links that are not http(s) are
dropped; numbers outside the API's own ranges count as unknown. And what came in from outside
goes back out safely: a formula in an imported name is defused in the directory's CSV export.
"""

import asyncio
import csv
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import Database
from app.evidence import importer
from app.evidence.models import Evidence, ImportedPartner
from app.evidence.service import thresholds
from app.partners.models import Partner
from seed.loader import SYSTEM
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import designate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "wwc_sample.csv"


def _sample() -> tuple[list[str], dict[str, str]]:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        first = next(reader)
        return list(reader.fieldnames or []), first


def _row(**changes: str) -> dict[str, str]:
    """A valid finding row of its own study, review and intervention, with ``changes``."""
    _columns, first = _sample()
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


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    names = columns or _sample()[0]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, migrated: str, tmp_path: Path) -> str:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", migrated)
    monkeypatch.setenv("REGISTRY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("REGISTRY_ENV", "test")
    monkeypatch.chdir(tmp_path)  # no stray .env
    return migrated


def _imported(database_url: str, intervention: str) -> int:
    async def count() -> int:
        database = Database(make_settings(database_url))
        async with database.sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(ImportedPartner)
                .where(ImportedPartner.external_id == intervention)
            )
        await database.dispose()
        return found or 0

    return asyncio.run(count())


def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, the intervention id it would import)."""
    cases: dict[str, tuple[Path, str]] = {}

    def add(name: str, rows: list[dict[str, str]], **options: Any) -> None:
        cases[name] = (
            _write(tmp_path / f"{name}.csv", rows, **options),
            rows[0]["s_interventionID"],
        )

    good = _row()
    add("missing columns", [good], columns=[c for c in _sample()[0] if c != "f_Outcome_Domain"])
    add("field over the csv limit", [good, _row(f_Outcome_Measure="m" * 200_000)])
    add("study id too long", [good, _row(s_StudyID="9" * 300)])
    add("finding id too long", [good, _row(f_FindingID="9" * 100)])
    add("intervention id too long", [good, _row(s_interventionID="9" * 300)])
    add("blank id", [good, _row(ReviewID="")])
    add("id with a payload", [good, _row(s_StudyID="1;DROP TABLE partners")])
    add("unmapped outcome domain", [good, _row(f_Outcome_Domain="Astrology")])
    undecodable = tmp_path / "not utf-8.csv"
    undecodable.write_bytes(SAMPLE.read_bytes()[:4000] + b"\n\xff\xfe\xfa,bad\n")
    cases["not utf-8"] = (undecodable, good["s_interventionID"])
    return cases


def test_a_malformed_or_hostile_export_stops_with_one_line_and_imports_nothing(
    environment: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    wrong = {}
    for name, (path, intervention) in _hostile_files(tmp_path).items():
        result = runner.invoke(cli, ["import-wwc", str(path)])
        message = result.output.strip()
        if (
            result.exit_code != 1
            or not isinstance(result.exception, SystemExit)
            or not message.startswith("registry: cannot import")
            or "\n" in message
            or "Traceback" in result.output
        ):
            wrong[name] = (result.exit_code, repr(result.exception), result.output[-300:])
        assert _imported(environment, intervention) == 0, f"{name}: half-imported"
    assert wrong == {}


async def _import(
    app: FastAPI, rows: list[dict[str, str]], tmp_path: Path
) -> importer.ImportResult:
    """The importer itself, as `registry import-wwc` runs it, on the app's database."""
    path = _write(tmp_path / f"{uuid.uuid4().hex}.csv", rows)
    async with app.state.database.sessions() as session, session.begin():
        return await importer.import_wwc(session, SYSTEM, path, thresholds(app.state.settings))


async def _imported_partner(app: FastAPI, intervention: str) -> Partner:
    async with app.state.database.sessions() as session:
        imported = await session.get(ImportedPartner, ("wwc", intervention))
        assert imported is not None, "not imported"
        partner = await session.get(Partner, imported.partner_id)
        assert partner is not None
        return partner


async def _evidence_of(app: FastAPI, partner_id: uuid.UUID) -> Evidence:
    async with app.state.database.sessions() as session:
        evidence = await session.scalar(
            select(Evidence)
            .where(Evidence.partner_id == partner_id)
            .options(selectinload(Evidence.findings))
        )
        assert evidence is not None
        return evidence


async def test_hostile_values_are_cleaned_to_what_the_api_would_accept(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    rows = [
        _row(
            s_Intervention_Name="Bell\x07 and\x00 escape \x1b[31mred\x1b[0m\u202e\x9b",
            f_Outcome_Measure="Reading\x00 score\x0b",
            s_Study_Page_URL="javascript:alert(document.cookie)",
            f_Outcome_Sample_Size="1e20",
            f_p_Value_WWC="1e300",
            f_Effect_Size_WWC="-1e300",
        ),
        _row(s_Study_Page_URL="/Study/12345", f_Outcome_Sample_Size="400", f_p_Value_WWC="0.01"),
    ]
    result = await _import(app, rows, tmp_path)
    assert result.records == 2
    hostile = await _imported_partner(app, rows[0]["s_interventionID"])
    assert hostile.name == "Bell and escape [31mred[0m"
    evidence = await _evidence_of(app, hostile.id)
    assert evidence.url is None, "a javascript: link must not be stored"
    assert not any(ord(char) < 32 for char in evidence.title + evidence.findings[0].outcome)
    assert evidence.findings[0].outcome == "Reading score"
    assert evidence.findings[0].sample_size is None
    assert evidence.findings[0].p_value is None
    assert evidence.findings[0].effect_size is None
    # Sane values of the same kinds are kept: the cleaning is not a blanket drop.
    sane = await _evidence_of(app, (await _imported_partner(app, rows[1]["s_interventionID"])).id)
    assert sane.url == "https://ies.ed.gov/ncee/wwc/Study/12345"
    assert sane.findings[0].sample_size == 400
    assert sane.findings[0].p_value == 0.01
    # Published, it reads like anything submitted through the API.
    await designate(app, str(hostile.id))
    read = await client.get("/v1/directory", params={"q": "Bell and escape"})
    assert [item["name"] for item in read.json()["items"]] == [hostile.name]


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("https://evil.example.com","Click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"],
)
async def test_a_formula_from_the_import_is_defused_in_the_csv_export(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, name: str
) -> None:
    row = _row(s_Intervention_Name=name)
    await _import(app, [row], tmp_path)
    partner = await _imported_partner(app, row["s_interventionID"])
    assert partner.name == name, "stored as the source has it"
    await designate(app, str(partner.id))
    export = await client.get(
        "/v1/directory", params={"q": name[1:]}, headers={"Accept": "text/csv"}
    )
    assert export.status_code == 200
    cells = [r for r in csv.reader(io.StringIO(export.text)) if r and r[0] == str(partner.id)]
    assert len(cells) == 1, export.text
    assert cells[0][1] == "'" + name, "a spreadsheet would run it"
    listed = await client.get("/v1/directory", params={"q": name[1:]})
    assert name in [item["name"] for item in listed.json()["items"]], "JSON shows it as it is"
