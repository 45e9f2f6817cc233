"""`registry import-wwc` and `registry wwc-agreement` on the committed sample of the export."""

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import Database
from app.evidence.models import Evidence, EvidenceFinding, ImportedPartner
from app.partners.models import PartnerEvidenceTier
from tests.conftest import TEST_SECRET, make_settings
from tests.evidence.wwc_export import SAMPLE, import_rows, imported_partner, wwc_row
from tests.factories import Actor


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, migrated: str, tmp_path: Path) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", migrated)
    monkeypatch.setenv("REGISTRY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("REGISTRY_ENV", "test")
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_import_is_complete_and_idempotent(environment: None, migrated: str) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["import-wwc", str(SAMPLE)])
    assert first.exit_code == 0, first.output
    assert "0 already imported" in first.output
    again = runner.invoke(cli, ["import-wwc", str(SAMPLE)])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("imported 0 evidence records (0 findings) and 0 partners")

    async def counts() -> tuple[int, ...]:
        database = Database(make_settings(migrated))
        async with database.sessions() as session:
            found = tuple(
                [
                    await session.scalar(select(func.count()).select_from(model).where(condition))
                    or 0
                    for model, condition in (
                        (Evidence, Evidence.source == "wwc"),
                        (EvidenceFinding, EvidenceFinding.external_id.is_not(None)),
                        (ImportedPartner, ImportedPartner.source == "wwc"),
                        (
                            PartnerEvidenceTier,
                            PartnerEvidenceTier.partner_id.in_(select(ImportedPartner.partner_id)),
                        ),
                    )
                ]
            )
        await database.dispose()
        return found

    records, findings, partners, tiers = asyncio.run(counts())
    assert findings == 308
    assert (
        f"imported {records} evidence records ({findings} findings) and {partners} partners"
        in first.output
    )
    assert 0 < partners <= records
    assert tiers > 0


def test_agreement_prints_both_figures(environment: None) -> None:
    result = CliRunner().invoke(cli, ["wwc-agreement", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Agreement on rated findings:" in result.output
    assert "Without overriding evidence:" in result.output


async def test_a_reimport_offers_the_need_domains_of_new_studies(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor, tmp_path: Path
) -> None:
    reading = wwc_row(f_Outcome_Domain="Alphabetics")  # literacy, in the domain map
    algebra = wwc_row(f_Outcome_Domain="Algebra", s_interventionID=reading["s_interventionID"])
    await import_rows(app, [reading], tmp_path)
    partner = await imported_partner(app, reading["s_interventionID"])
    url = f"/v1/partners/{partner.id}"
    assert (await client.get(url, headers=admin.headers)).json()["need_domains"] == ["literacy"]

    # The next export brings a study of the same intervention in another need domain.
    result = await import_rows(app, [reading, algebra], tmp_path)
    assert (result.records, result.partners, result.widened, result.skipped) == (1, 0, 1, 1)
    read = await client.get(url, headers=admin.headers)
    assert read.json()["need_domains"] == ["literacy", "mathematics"]
    assert read.json()["version"] == 2
    events = await client.get(
        "/v1/audit-events", params={"entity_id": str(partner.id)}, headers=admin.headers
    )
    assert [(event["action"], event["changes"]) for event in events.json()["items"]] == [
        ("partner.updated", {"need_domains": [["literacy"], ["literacy", "mathematics"]]})
    ]

    # What staff took away stays away when no new study brings it back.
    narrowed = await client.patch(
        url, json={"need_domains": ["mathematics"]}, headers=admin.headers | {"If-Match": '"2"'}
    )
    assert narrowed.status_code == 200, narrowed.text
    again = await import_rows(app, [reading, algebra], tmp_path)
    assert (again.records, again.widened, again.skipped) == (0, 0, 2)
    assert (await client.get(url, headers=admin.headers)).json()["need_domains"] == ["mathematics"]
