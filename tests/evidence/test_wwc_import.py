"""`registry import-wwc` and `registry wwc-agreement` on the committed sample of the export."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import Database
from app.evidence.models import Evidence, EvidenceFinding, ImportedPartner
from app.partners.models import PartnerEvidenceTier
from tests.conftest import TEST_SECRET, make_settings

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "wwc_sample.csv"


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
