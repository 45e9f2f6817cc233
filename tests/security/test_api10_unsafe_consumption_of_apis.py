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
from app.evidence.models import Evidence, ImportedPartner
from tests.conftest import TEST_SECRET, make_settings
from tests.evidence.wwc_export import SAMPLE, import_rows, imported_partner, sample, write, wwc_row
from tests.factories import designate


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
            write(tmp_path / f"{name}.csv", rows, **options),
            rows[0]["s_interventionID"],
        )

    good = wwc_row()
    add("missing columns", [good], columns=[c for c in sample()[0] if c != "f_Outcome_Domain"])
    add("field over the csv limit", [good, wwc_row(f_Outcome_Measure="m" * 200_000)])
    add("study id too long", [good, wwc_row(s_StudyID="9" * 300)])
    add("finding id too long", [good, wwc_row(f_FindingID="9" * 100)])
    add("intervention id too long", [good, wwc_row(s_interventionID="9" * 300)])
    add("blank id", [good, wwc_row(ReviewID="")])
    add("id with a payload", [good, wwc_row(s_StudyID="1;DROP TABLE partners")])
    add("unmapped outcome domain", [good, wwc_row(f_Outcome_Domain="Astrology")])
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
            or not message.startswith("registry: cannot read")
            or "\n" in message
            or "Traceback" in result.output
        ):
            wrong[name] = (result.exit_code, repr(result.exception), result.output[-300:])
        assert _imported(environment, intervention) == 0, f"{name}: half-imported"
    assert wrong == {}


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
        wwc_row(
            s_Intervention_Name="Bell\x07 and\x00 escape \x1b[31mred\x1b[0m\u202e\x9b",
            f_Outcome_Measure="Reading\x00 score\x0b",
            s_Study_Page_URL="javascript:alert(document.cookie)",
            f_Outcome_Sample_Size="1e20",
            f_p_Value_WWC="1e300",
            f_Effect_Size_WWC="-1e300",
        ),
        wwc_row(s_Study_Page_URL="/Study/12345", f_Outcome_Sample_Size="400", f_p_Value_WWC="0.01"),
    ]
    result = await import_rows(app, rows, tmp_path)
    assert result.records == 2
    hostile = await imported_partner(app, rows[0]["s_interventionID"])
    assert hostile.name == "Bell and escape [31mred[0m"
    evidence = await _evidence_of(app, hostile.id)
    assert evidence.url is None, "a javascript: link must not be stored"
    assert not any(ord(char) < 32 for char in evidence.title + evidence.findings[0].outcome)
    assert evidence.findings[0].outcome == "Reading score"
    assert evidence.findings[0].sample_size is None
    assert evidence.findings[0].p_value is None
    assert evidence.findings[0].effect_size is None
    # Sane values of the same kinds are kept: the cleaning is not a blanket drop.
    sane = await _evidence_of(app, (await imported_partner(app, rows[1]["s_interventionID"])).id)
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
    row = wwc_row(s_Intervention_Name=name)
    await import_rows(app, [row], tmp_path)
    partner = await imported_partner(app, row["s_interventionID"])
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
