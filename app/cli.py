"""The `registry` command: migrate, seed, serve, create-admin, import-wwc, wwc-agreement,
generate-national."""

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import ConfigurationError, Environment, Settings, load_settings
from app.core.db import Database
from app.core.metrics import MULTIPROCESS_DIRECTORY
from app.core.migrations import upgrade

T = TypeVar("T")

cli = typer.Typer(
    help="The partner vetting registry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        typer.echo(f"registry: {error}", err=True)
        raise typer.Exit(2) from None


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(settings)
        try:
            async with database.sessions() as session, session.begin():
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


@contextlib.contextmanager
def _refusing_what_cannot_be_read(path: Path) -> Iterator[None]:
    """An export that is not what the command reads stops it with one line, not a traceback
    (``app.evidence.wwc`` raises ValueError for what it refuses; bad UTF-8 is one too)."""
    from app.evidence.importer import UnknownNeedDomains

    try:
        yield
    except (UnknownNeedDomains, ValueError, KeyError) as error:
        typer.echo(f"registry: cannot read {path}: {error}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to head and load reference data."""
    from seed.loader import load_reference

    settings = _settings()
    upgrade(settings.database_url)
    added = _in_transaction(settings, load_reference)
    typer.echo(f"migrated to head; reference data: {added} added")


@cli.command()
def seed() -> None:
    """Load reference and demo data (demo users only when REGISTRY_ENV=development)."""
    from app.evidence.service import thresholds
    from seed.loader import load_demo, load_reference

    settings = _settings()
    with_users = settings.env is Environment.DEVELOPMENT

    async def load(session: AsyncSession) -> dict[str, int]:
        return {"need_domains": await load_reference(session)} | await load_demo(
            session, with_users=with_users, limits=thresholds(settings)
        )

    counts = _in_transaction(settings, load)
    typer.echo("seeded: " + ", ".join(f"{count} {name}" for name, count in counts.items()))


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API with uvicorn."""
    settings = _settings()
    with tempfile.TemporaryDirectory(prefix="registry-metrics-") as metrics_directory:
        if workers > 1:
            # Each worker's metrics in files of this run's own, so that /metrics, whichever
            # worker answers, sums them all (app.core.metrics). Workers import afresh, after this.
            os.environ.setdefault(MULTIPROCESS_DIRECTORY, metrics_directory)
        uvicorn.run(
            "app.main:app",
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            # No access log (it would carry query strings) and no `server: uvicorn` banner.
            access_log=False,
            server_header=False,
            log_level="info" if settings.env is Environment.DEVELOPMENT else "warning",
        )


@cli.command("create-admin")
def create_admin(email: Annotated[str, typer.Option(help="The admin's email address.")]) -> None:
    """Create (or reuse) a state_admin user and print a new API key as the last line."""
    from app.auth import repository, service
    from app.auth.models import Role
    from app.auth.schemas import ApiKeyCreate, UserCreate
    from seed.loader import SYSTEM

    settings = _settings()

    async def work(session: AsyncSession) -> tuple[str, str]:
        data = UserCreate(email=email, role=Role.STATE_ADMIN)
        user = await repository.user_by_email(session, data.email)
        if user is None:
            user = await service.create_user(session, SYSTEM, data)
            note = f"created state_admin {user.email}"
        elif user.role is not Role.STATE_ADMIN:
            typer.echo(f"registry: {user.email} exists with role {user.role}", err=True)
            raise typer.Exit(1)
        elif not user.is_active:
            # Someone deactivated it on purpose; undoing that is an admin's decision, in the
            # API, where it is audited as such.
            typer.echo(
                f"registry: {user.email} is deactivated; reactivate it with "
                f"PATCH /v1/users/{user.id} or name another email",
                err=True,
            )
            raise typer.Exit(1)
        else:
            note = f"reusing state_admin {user.email}"
        _key, secret, _user = await service.create_api_key(
            session, settings, SYSTEM, ApiKeyCreate(name="create-admin", user_id=user.id)
        )
        return note, secret

    try:
        note, secret = _in_transaction(settings, work)
    except ValidationError as error:
        typer.echo(f"registry: invalid --email: {error.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None
    typer.echo(note)
    typer.echo(secret)


@cli.command("import-wwc")
def import_wwc(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The WWC export.")],
    limit: Annotated[
        int | None, typer.Option(min=1, help="Import only the first N study reviews.")
    ] = None,
) -> None:
    """Import WWC study findings as accepted evidence, one partner per intervention."""
    from app.evidence import importer
    from app.evidence.service import thresholds
    from seed.loader import SYSTEM

    settings = _settings()

    async def work(session: AsyncSession) -> importer.ImportResult:
        return await importer.import_wwc(session, SYSTEM, path, thresholds(settings), limit)

    with _refusing_what_cannot_be_read(path):
        result = _in_transaction(settings, work)
    typer.echo(
        f"imported {result.records} evidence records ({result.findings} findings) and "
        f"{result.partners} partners from {result.studies} WWC study reviews; "
        f"{result.skipped} already imported; "
        f"{result.widened} partners imported before offer new need domains"
    )


@cli.command("wwc-agreement")
def wwc_agreement(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The WWC export.")],
) -> None:
    """Print how often the classifier's finding tiers agree with WWC's own ESSA ratings."""
    from app.evidence.importer import DOMAIN_MAP
    from app.evidence.service import thresholds
    from app.evidence.wwc import agreement, format_report, load_domain_map, parse_export

    with _refusing_what_cannot_be_read(path):
        studies = parse_export(path, load_domain_map(DOMAIN_MAP))
    typer.echo(format_report(agreement(studies, thresholds(_settings()))))


@cli.command("generate-national")
def generate_national(
    scale: Annotated[
        float, typer.Option(min=0.0001, max=10.0, help="1.0: 20,000 partners, 13,000 districts.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="The same seed always gives the same registry.")] = 42,
    fixtures: Annotated[
        Path, typer.Option(help="Where to write the bench's API keys and sample ids (JSON).")
    ] = Path("bench/results/fixtures.json"),
) -> None:
    """Load the national-scale data set for load tests, unless it is already there."""
    from seed.national import Generated, generate

    settings = _settings()
    started = time.perf_counter()

    async def work(session: AsyncSession) -> Generated | None:
        return await generate(session, settings, scale=scale, seed=seed)

    generated = _in_transaction(settings, work)
    if generated is None:
        typer.echo("national data set already present; nothing done")
        return
    fixtures.parent.mkdir(parents=True, exist_ok=True)
    # The API keys in it are secrets: readable by the owner alone.
    fixtures.touch(mode=0o600)
    fixtures.write_text(json.dumps(generated.fixtures, indent=2) + "\n")
    counts = ", ".join(f"{count} {table}" for table, count in generated.counts.items())
    typer.echo(f"generated in {time.perf_counter() - started:.1f} s: {counts}")
    typer.echo(f"bench fixtures (API keys: keep private) written to {fixtures}")


def main() -> None:
    try:
        cli()
    except ConfigurationError as error:
        print(f"registry: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except SQLAlchemyError as error:
        # The driver's own first line names the cause (refused, no such table, a key taken
        # by a run at the same time); the statement and the stack tell an operator nothing.
        text = str(getattr(error, "orig", None) or error).strip()
        cause = (text.splitlines() or [type(error).__name__])[0]
        print(
            f"registry: the database refused: {cause} (is it reachable, and migrated with"
            " `registry migrate`?)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
