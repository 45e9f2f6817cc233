"""Study documents: PDF only (by content), size-limited, stored by hash, read only by those
allowed to see the record."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import Actors, partner_payload, submit_evidence

PDF = b"%PDF-1.7\n" + b"x" * 100_000 + b"\n%%EOF\n"


def _put(evidence: dict[str, Any], headers: dict[str, str], **extra: str) -> dict[str, str]:
    return (
        headers
        | {"If-Match": f'"{evidence["version"]}"', "Content-Type": "application/pdf"}
        | extra
    )


async def test_upload_and_download_a_pdf(
    client: httpx.AsyncClient, actors: Actors, settings: Settings
) -> None:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    url = f"/v1/evidence/{evidence['id']}/document"
    missing = await client.get(url, headers=actors.partner.headers)
    assert missing.status_code == 404

    response = await client.put(url, content=PDF, headers=_put(evidence, actors.partner.headers))
    assert response.status_code == 200, response.text
    sha = hashlib.sha256(PDF).hexdigest()
    assert response.json()["document"]["sha256"] == sha
    assert response.json()["document"]["size"] == len(PDF)
    assert response.json()["version"] == 2
    assert (settings.storage_root / sha[:2] / sha[2:4] / sha).read_bytes() == PDF

    for actor in (actors.partner, actors.reviewer):
        download = await client.get(url, headers=actor.headers)
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/pdf"
        assert download.content == PDF
    # The record is not accepted, so a district may not see it, nor its document.
    assert (await client.get(url, headers=actors.district.headers)).status_code == 404


async def test_upload_checks_type_by_content_and_needs_if_match(
    client: httpx.AsyncClient, actors: Actors, settings: Settings
) -> None:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    url = f"/v1/evidence/{evidence['id']}/document"
    headers = _put(evidence, actors.partner.headers)
    before = set((settings.storage_root / "incoming").glob("*"))
    for content in (b"<html>not a pdf</html>", b"%PD", b""):
        fake = await client.put(url, content=content, headers=headers)
        assert fake.status_code == 415, content
        assert fake.headers["content-type"] == "application/problem+json"
    wrong_type = await client.put(
        url, content=PDF, headers=headers | {"Content-Type": "application/msword"}
    )
    assert wrong_type.status_code == 415
    no_if_match = {k: v for k, v in headers.items() if k != "If-Match"}
    assert (await client.put(url, content=PDF, headers=no_if_match)).status_code == 428
    assert (await client.put(url, content=PDF, headers=actors.district.headers)).status_code == 403
    # Refused uploads leave no temporary files behind.
    assert set((settings.storage_root / "incoming").glob("*")) == before
    record = await client.get(f"/v1/evidence/{evidence['id']}", headers=actors.partner.headers)
    assert record.json()["document"] is None
    assert record.json()["version"] == 1


async def test_oversize_uploads_are_413_by_header_and_by_stream(
    migrated: str, tmp_path: Path, actors: Actors, client: httpx.AsyncClient
) -> None:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    small: FastAPI = create_app(
        make_settings(migrated, max_upload_bytes=4096, storage_root=tmp_path)
    )
    url = f"/v1/evidence/{evidence['id']}/document"
    headers = _put(evidence, actors.partner.headers)

    async def chunked() -> AsyncIterator[bytes]:
        yield b"%PDF-1.7\n"
        for _ in range(10):
            yield b"x" * 1024

    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as limited:
        declared = await limited.put(url, content=PDF, headers=headers)
        assert declared.status_code == 413
        streamed = await limited.put(url, content=chunked(), headers=headers)
        assert streamed.status_code == 413
        fits = await limited.put(url, content=b"%PDF-1.4\n%%EOF\n", headers=headers)
        assert fits.status_code == 200, fits.text
    await small.state.database.dispose()
    assert list((tmp_path / "incoming").glob("*")) == []


async def _upload_while(
    client: httpx.AsyncClient,
    actors: Actors,
    evidence: dict[str, Any],
    meanwhile: Callable[[], Awaitable[httpx.Response]],
) -> tuple[httpx.Response, httpx.Response]:
    """Upload a document whose last bytes wait until ``meanwhile`` has answered; both answers."""
    streaming, answered = asyncio.Event(), asyncio.Event()

    async def slow_pdf() -> AsyncIterator[bytes]:
        yield b"%PDF-1.7\n"
        streaming.set()
        await asyncio.wait_for(answered.wait(), timeout=30)
        yield b"%%EOF\n"

    upload = asyncio.create_task(
        client.put(
            f"/v1/evidence/{evidence['id']}/document",
            content=slow_pdf(),
            headers=_put(evidence, actors.partner.headers),
        )
    )
    await asyncio.wait_for(streaming.wait(), timeout=30)
    try:
        other = await meanwhile()
    finally:
        answered.set()
    return await upload, other


async def test_a_document_arriving_slowly_holds_up_no_other_write(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """The file streams in with no transaction open: on SQLite a write transaction holds the
    only write lock, so another write waited out its busy timeout and failed with 503."""
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    uploaded, other = await _upload_while(
        client,
        actors,
        evidence,
        lambda: client.post("/v1/partners", json=partner_payload(), headers=actors.admin.headers),
    )
    assert other.status_code == 201, other.text
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.headers["ETag"] == '"2"'


async def test_two_uploads_of_one_version_one_wins_the_other_is_412(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    both_arrived = asyncio.Barrier(2)

    async def pdf(number: int) -> AsyncIterator[bytes]:
        yield b"%PDF-1.7\n"
        # Both checked the same version before either is stored.
        await asyncio.wait_for(both_arrived.wait(), timeout=30)
        yield f"{number} {evidence['id']}\n%%EOF\n".encode()

    answers = await asyncio.gather(
        *(
            client.put(
                f"/v1/evidence/{evidence['id']}/document",
                content=pdf(number),
                headers=_put(evidence, actors.partner.headers),
            )
            for number in range(2)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [200, 412], [
        answer.text for answer in answers
    ]
    read = await client.get(f"/v1/evidence/{evidence['id']}", headers=actors.partner.headers)
    winner = next(answer for answer in answers if answer.status_code == 200)
    assert read.json()["document"] == winner.json()["document"]
    assert read.json()["version"] == 2


async def test_a_partner_withdrawn_while_its_document_arrives_gets_409(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """The record and its partner are checked again once the file is in."""
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    refused, moved = await _upload_while(
        client,
        actors,
        evidence,
        lambda: client.post(
            f"/v1/partners/{actors.partner_record['id']}/status",
            json={"status": "withdrawn", "reason": "Closing"},
            headers=actors.partner.headers,
        ),
    )
    assert moved.status_code == 200, moved.text
    assert refused.status_code == 409, refused.text
    read = await client.get(f"/v1/evidence/{evidence['id']}", headers=actors.admin.headers)
    assert read.json()["document"] is None
