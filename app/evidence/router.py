from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse

from app.auth.dependencies import CurrentPrincipal, SettingsDep, StaffOrPartner, StateStaff
from app.core.db import SessionDep
from app.core.errors import UnsupportedMediaType, problem_responses
from app.core.etag import IfMatch, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, paginate
from app.evidence import repository, service
from app.evidence.dependencies import StorageDep, ThresholdsDep, VisibleEvidence
from app.evidence.models import Evidence, EvidenceStatus
from app.evidence.schemas import (
    ClassifyRequest,
    ClassifyResult,
    DecisionIn,
    EvidenceCreate,
    EvidenceRead,
    EvidenceUpdate,
    evidence_read,
)
from app.idempotency.service import IdempotencyDep
from app.partners.dependencies import VisiblePartner

router = APIRouter(tags=["evidence"])

READ_ERRORS = problem_responses(401, 403, 404)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
PDF = "application/pdf"
# What the client calls the body does not matter much: the content itself must be a PDF.
ACCEPTED_TYPES = (PDF, "application/octet-stream")


@router.post(
    "/partners/{partner_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def submit_evidence(
    body: EvidenceCreate,
    principal: StaffOrPartner,
    partner: VisiblePartner,
    session: SessionDep,
    limits: ThresholdsDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Submit a study for review, by the partner itself or by state staff on its behalf."""

    async def create() -> tuple[EvidenceRead, str]:
        evidence = await service.create(session, principal, partner, body, limits)
        return evidence_read(evidence, principal), f"/v1/evidence/{evidence.id}"

    return await idempotency.run(body, create)


@router.get("/partners/{partner_id}/evidence", responses=problem_responses(401, 403, 404, 422))
async def list_partner_evidence(
    partner: VisiblePartner,
    principal: CurrentPrincipal,
    session: SessionDep,
    status: EvidenceStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[EvidenceRead]:
    """The partner's evidence the caller may see (districts: accepted only), oldest first."""
    records, next_cursor = await paginate(
        session,
        repository.list_query(principal, partner.id, status),
        [Evidence.created_at, Evidence.id],
        cursor,
        limit,
    )
    return Page(items=[evidence_read(e, principal) for e in records], next_cursor=next_cursor)


@router.post("/evidence/classify", responses=problem_responses(401, 422))
async def classify_evidence(
    body: ClassifyRequest, _principal: CurrentPrincipal, session: SessionDep, limits: ThresholdsDep
) -> ClassifyResult:
    """Classify a study without storing anything; with `context`, also for that district."""
    # As a submission would be: a study classified here should not be refused there.
    service.check_rating_fits_design(body.design, body.standards_rating)
    await service.check_need_domains(session, body.findings)
    return service.classify_request(body, limits)


@router.api_route(
    "/evidence/classify", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def classify_other_methods() -> None:
    """405, not a 422 for the id "classify" from the /evidence/{evidence_id} routes."""
    raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED)


@router.get("/evidence/{evidence_id}", responses=READ_ERRORS)
async def read_evidence(
    evidence: VisibleEvidence, principal: CurrentPrincipal, response: Response
) -> EvidenceRead:
    response.headers["ETag"] = etag(evidence.version)
    return evidence_read(evidence, principal)


@router.patch("/evidence/{evidence_id}", responses=WRITE_ERRORS)
async def update_evidence(
    body: EvidenceUpdate,
    principal: StaffOrPartner,
    evidence: VisibleEvidence,
    session: SessionDep,
    limits: ThresholdsDep,
    response: Response,
    if_match: IfMatch,
) -> EvidenceRead:
    """Correct a `submitted` or `returned` record; it goes back to `submitted` for review."""
    check_if_match(if_match, evidence.version)
    await service.update(session, principal, evidence, body, limits)
    response.headers["ETag"] = etag(evidence.version)
    return evidence_read(evidence, principal)


@router.post("/evidence/{evidence_id}/decision", responses=WRITE_ERRORS)
async def decide_evidence(
    body: DecisionIn,
    staff: StateStaff,
    evidence: VisibleEvidence,
    session: SessionDep,
    limits: ThresholdsDep,
    response: Response,
    if_match: IfMatch,
) -> EvidenceRead:
    """Accept, return or reject a submitted record; accepting updates the partner's tiers.

    `If-Match` names the version the reviewer read, so a correction the partner sends in the
    meantime cannot be accepted unseen.
    """
    check_if_match(if_match, evidence.version)
    await service.decide(session, staff, evidence, body, limits)
    response.headers["ETag"] = etag(evidence.version)
    return evidence_read(evidence, staff)


@router.put(
    "/evidence/{evidence_id}/document",
    responses=problem_responses(401, 403, 404, 409, 412, 413, 415, 428),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ACCEPTED_TYPES
            },
        }
    },
)
async def upload_evidence_document(
    request: Request,
    principal: StaffOrPartner,
    evidence: VisibleEvidence,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch,
    # Documented by the request body's media types: OpenAPI ignores a Content-Type parameter.
    content_type: Annotated[
        str, Header(alias="Content-Type", max_length=200, include_in_schema=False)
    ] = "",
) -> EvidenceRead:
    """Attach the study PDF: the raw bytes as the body, `Content-Type: application/pdf`.

    The type is checked by content (`%PDF-`), whatever the client claims.
    """
    if content_type.split(";")[0].strip().lower() not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(f"Send the document as {PDF}.")
    await service.attach_document(
        session,
        principal,
        evidence,
        if_match,
        request.stream(),
        storage,
        settings.max_upload_bytes,
    )
    response.headers["ETag"] = etag(evidence.version)
    return evidence_read(evidence, principal)


@router.get(
    "/evidence/{evidence_id}/document",
    response_class=StreamingResponse,
    responses=problem_responses(401, 403, 404) | {200: {"content": {PDF: {}}}},
)
async def download_evidence_document(
    evidence: VisibleEvidence, storage: StorageDep
) -> StreamingResponse:
    """The study's PDF, for those who may see the record."""
    if evidence.document_sha256 is None:
        raise service.DocumentNotFound(f"Evidence {evidence.id} has no document.")
    return StreamingResponse(
        storage.read(evidence.document_sha256),
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{evidence.id}.pdf"',
            "ETag": f'"{evidence.document_sha256}"',
        },
    )
