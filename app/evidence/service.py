"""The rules for submitting, correcting, deciding and documenting evidence.

Flushes; never commits.
"""

import uuid
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.core.config import Settings
from app.core.db import SQLITE_BEGIN
from app.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from app.core.etag import check_if_match
from app.evidence import repository
from app.evidence.classifier import (
    MEETS_STANDARDS,
    Classification,
    Design,
    Direction,
    DistrictContext,
    Finding,
    StandardsRating,
    Study,
    Thresholds,
    Tier,
    classify,
    classify_in_context,
)
from app.evidence.models import (
    Evidence,
    EvidenceDecision,
    EvidenceDecisionKind,
    EvidenceFinding,
    EvidenceStatus,
)
from app.evidence.rollup import partner_tiers
from app.evidence.schemas import (
    ClassifyRequest,
    ClassifyResult,
    DecisionIn,
    EvidenceCreate,
    EvidenceUpdate,
    FindingIn,
    StudyFields,
    evidence_read,
    reasons_json,
    study_classification,
)
from app.evidence.storage import DocumentStorage
from app.partners import repository as partners
from app.partners import service as partners_service
from app.partners.models import Partner

PDF_MAGIC = b"%PDF-"
# A partner corrects a record while the state has not settled it; decisions are final.
EDITABLE = frozenset({EvidenceStatus.SUBMITTED, EvidenceStatus.RETURNED})
DECIDED_STATUS = {
    EvidenceDecisionKind.ACCEPT: EvidenceStatus.ACCEPTED,
    EvidenceDecisionKind.RETURN: EvidenceStatus.RETURNED,
    EvidenceDecisionKind.REJECT: EvidenceStatus.REJECTED,
}
STUDY_FIELDS = frozenset(StudyFields.model_fields)
NOT_A_PDF = "The document is not a PDF (it does not start with %PDF-)."


class DocumentNotFound(NotFound):
    title = "Document not found"


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        min_sample_size=settings.evidence_min_sample_size, min_sites=settings.evidence_min_sites
    )


def _tier(value: int | None) -> Tier | None:
    return None if value is None else Tier(value)


def to_study(source: StudyFields | Evidence) -> Study:
    """The classifier's view of a study, from a request body or a stored record."""
    return Study(
        design=source.design,
        standards_rating=source.standards_rating,
        controls_for_selection_bias=source.controls_for_selection_bias,
        sample_size=source.sample_size,
        site_count=source.site_count,
        grade_bands=frozenset(str(band) for band in source.grade_bands),
        locales=frozenset(str(locale) for locale in source.locales),
        student_groups=frozenset(source.student_groups),
        has_logic_model=source.has_logic_model,
        research_basis=source.research_basis,
        ongoing_evaluation=source.ongoing_evaluation,
        findings=tuple(
            Finding(
                need_domain=finding.need_domain,
                outcome=finding.outcome,
                direction=finding.direction,
                significant=finding.significant,
                effect_size=finding.effect_size,
                p_value=finding.p_value,
                sample_size=finding.sample_size,
                subgroup=finding.subgroup,
            )
            for finding in source.findings
        ),
    )


def classification_json(classification: Classification) -> dict[str, Any]:
    return study_classification(classification).model_dump(mode="json", exclude={"findings"})


def apply_classification(evidence: Evidence, classification: Classification) -> None:
    evidence.classification = classification_json(classification)
    evidence.computed_tier = classification.tier
    for finding, result in zip(evidence.findings, classification.findings, strict=True):
        finding.tier = result.tier
        finding.reasons = reasons_json(result.reasons)


async def check_need_domains(session: AsyncSession, findings: list[FindingIn]) -> None:
    known = await repository.known_need_domains(session, {f.need_domain for f in findings})
    for index, finding in enumerate(findings):
        if finding.need_domain not in known:
            raise InvalidInput(
                ["body", "findings", index, "need_domain"],
                f"Unknown need domain {finding.need_domain!r}. See GET /v1/need-domains.",
                "need_domain_unknown",
            )


# WWC's standards rate studies that can show cause (and single-case designs, here `other`).
_NEVER_MEETS_STANDARDS = frozenset({Design.CORRELATIONAL, Design.LOGIC_MODEL})


def check_rating_fits_design(design: Design, rating: StandardsRating) -> None:
    """A correlational study or a logic model meeting WWC standards is a contradiction, and
    would reach tier 3 by the route of studies that meet them."""
    if design in _NEVER_MEETS_STANDARDS and rating in MEETS_STANDARDS:
        raise InvalidInput(
            ["body", "standards_rating"],
            f"WWC standards rate designs that can show cause; a {design} study cannot meet "
            "them: use not_reviewed or does_not_meet.",
            "rating_does_not_fit_design",
        )


def _unfavorable_or_null(findings: Iterable[EvidenceFinding | FindingIn]) -> Counter[str]:
    """Per need domain, the findings that are not significant and favorable."""
    return Counter(
        finding.need_domain
        for finding in findings
        if not (finding.significant and finding.direction is Direction.FAVORABLE)
    )


def _check_nothing_unfavorable_dropped(
    current: Iterable[EvidenceFinding], replacement: list[FindingIn]
) -> None:
    """Keep every finding, null and unfavorable ones included (domain.md): a partner's
    correction may fix them but not remove them, or turn them into favorable ones, which is
    how evidence is overstated. State staff may, on the record of the audit trail."""
    fewer = _unfavorable_or_null(current) - _unfavorable_or_null(replacement)
    if fewer:
        domains = ", ".join(f"{domain} ({count})" for domain, count in sorted(fewer.items()))
        raise InvalidInput(
            ["body", "findings"],
            "Every finding stays, null and unfavorable ones included: this list has fewer "
            f"that are not significant and favorable in {domains}.",
            "findings_dropped",
        )


def _finding_rows(findings: list[FindingIn]) -> list[EvidenceFinding]:
    return [
        EvidenceFinding(position=position, **finding.model_dump())
        for position, finding in enumerate(findings)
    ]


def _snapshot(evidence: Evidence, actor: Principal) -> dict[str, Any]:
    return evidence_read(evidence, actor).model_dump(
        mode="json", exclude={"version", "created_at", "updated_at", "decisions"}
    )


async def create(
    session: AsyncSession,
    actor: Principal,
    partner: Partner,
    data: EvidenceCreate,
    limits: Thresholds,
) -> Evidence:
    partners_service.check_not_withdrawn(actor, partner)
    check_rating_fits_design(data.design, data.standards_rating)
    await check_need_domains(session, data.findings)
    evidence = Evidence(
        partner_id=partner.id,
        status=EvidenceStatus.SUBMITTED,
        submitted_by=actor.user_id,
        submitted_at=utcnow(),
        findings=_finding_rows(data.findings),
        decisions=[],
        **data.model_dump(exclude={"findings"}),
    )
    apply_classification(evidence, classify(to_study(data), limits))
    session.add(evidence)
    await session.flush()
    await record(
        session, actor, "evidence.submitted", "evidence", evidence.id, _snapshot(evidence, actor)
    )
    return evidence


async def _check_partner_not_withdrawn(
    session: AsyncSession, actor: Principal, evidence: Evidence
) -> None:
    """A withdrawn partner's users may no more correct or resubmit its evidence than submit
    new evidence."""
    partner = await partners.get(session, actor, evidence.partner_id)
    if partner is not None:
        partners_service.check_not_withdrawn(actor, partner)


async def update(
    session: AsyncSession,
    actor: Principal,
    evidence: Evidence,
    data: EvidenceUpdate,
    limits: Thresholds,
) -> Evidence:
    """Correct a record the state has not settled; it goes (back) to `submitted`."""
    await _check_partner_not_withdrawn(session, actor, evidence)
    if evidence.status not in EDITABLE:
        raise Conflict(
            f"Evidence that is {evidence.status} cannot be changed; submit a new record instead."
        )
    before = _snapshot(evidence, actor)
    changes = data.sent()
    if data.findings is not None:
        await check_need_domains(session, data.findings)
        if not actor.is_state_staff:
            _check_nothing_unfavorable_dropped(evidence.findings, data.findings)
        changes.pop("findings")
        # The old rows go first: their positions are unique per record.
        evidence.findings = []
        await session.flush()
        evidence.findings = _finding_rows(data.findings)
    for field, value in changes.items():
        setattr(evidence, field, value)
    check_rating_fits_design(evidence.design, evidence.standards_rating)
    evidence.status = EvidenceStatus.SUBMITTED
    evidence.submitted_by = actor.user_id
    evidence.submitted_at = evidence.updated_at = utcnow()
    apply_classification(evidence, classify(to_study(evidence), limits))
    await session.flush()
    after = _snapshot(evidence, actor)
    await record(session, actor, "evidence.updated", "evidence", evidence.id, diff(before, after))
    return evidence


def _check_decision(
    evidence: Evidence, decision: EvidenceDecisionKind, tier: int | None, rationale: str
) -> None:
    if evidence.status is not EvidenceStatus.SUBMITTED:
        raise Conflict(
            f"Only submitted evidence is decided; this record is {evidence.status}.", allowed=[]
        )
    if tier is not None and decision is not EvidenceDecisionKind.ACCEPT:
        raise InvalidInput(["body", "tier"], "A tier is set only when accepting.")
    if tier is not None and evidence.computed_tier is None:
        # The final tier applies where the study earns a tier (`app.evidence.rollup`): here
        # that is nowhere, and a tier accepted without effect would mislead everyone who reads it.
        raise InvalidInput(
            ["body", "tier"],
            "This record earns no tier in any need domain, so a tier set on it would count "
            "nowhere: accept it without a tier, or return it with what it lacks.",
        )
    overrides = tier is not None and tier != evidence.computed_tier
    if (overrides or decision is not EvidenceDecisionKind.ACCEPT) and not rationale:
        why = (
            "a final tier that differs from the computed one"
            if overrides
            else f"the decision to {decision}"
        )
        raise InvalidInput(["body", "rationale"], f"A rationale is required for {why}.")


async def decide(
    session: AsyncSession,
    actor: Principal,
    evidence: Evidence,
    data: DecisionIn,
    limits: Thresholds,
) -> Evidence:
    decision, tier, rationale, feedback = data.decision, data.tier, data.rationale, data.feedback
    _check_decision(evidence, decision, tier, rationale)
    before = evidence.status
    final_tier = (
        (tier or evidence.computed_tier) if decision is EvidenceDecisionKind.ACCEPT else None
    )
    evidence.decisions.append(
        EvidenceDecision(
            evidence_version=evidence.version,
            decision=decision,
            computed_tier=evidence.computed_tier,
            final_tier=final_tier,
            rationale=rationale,
            feedback=feedback,
            study=evidence_read(evidence, actor).model_dump(mode="json", include=set(STUDY_FIELDS)),
            decided_by=actor.user_id,
            decided_at=utcnow(),
        )
    )
    evidence.status = DECIDED_STATUS[decision]
    evidence.final_tier = final_tier
    evidence.updated_at = utcnow()
    await session.flush()
    await recompute_tiers(session, [evidence.partner_id], limits)
    await record(
        session,
        actor,
        "evidence.decided",
        "evidence",
        evidence.id,
        {
            "status": [before, evidence.status],
            "decision": decision,
            "computed_tier": evidence.computed_tier,
            "final_tier": final_tier,
            "rationale": rationale,
            "feedback": feedback,
        },
    )
    return evidence


async def recompute_tiers(
    session: AsyncSession, partner_ids: Collection[uuid.UUID], limits: Thresholds
) -> None:
    """Rebuild the partners' `partner_evidence_tiers` from their accepted evidence alone."""
    # Two decisions for one partner at once would each rebuild from a snapshot without the
    # other's record; the partner row lock makes the second wait and see the first.
    await partners.lock(session, partner_ids)
    accepted = await repository.accepted_by_partner(session, partner_ids)
    await repository.replace_partner_tiers(
        session,
        {
            partner_id: partner_tiers(
                [(to_study(record), _tier(record.final_tier)) for record in records], limits
            )
            for partner_id, records in accepted.items()
        },
    )


async def _checked_pdf(chunks: AsyncIterable[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """Pass the stream through, refusing it as soon as it is too long or not a PDF."""
    head, size = b"", 0
    async for chunk in chunks:
        size += len(chunk)
        # The body-size middleware usually stops this first; the service keeps its own rule.
        if size > max_bytes:
            raise PayloadTooLarge(f"The document exceeds {max_bytes} bytes.")
        if len(head) < len(PDF_MAGIC):
            head = (head + chunk)[: len(PDF_MAGIC)]
            if len(head) == len(PDF_MAGIC) and head != PDF_MAGIC:
                raise UnsupportedMediaType(NOT_A_PDF)
        yield chunk
    if head != PDF_MAGIC:
        raise UnsupportedMediaType(NOT_A_PDF)


async def _check_document_replaceable(
    session: AsyncSession, actor: Principal, evidence: Evidence, if_match: str
) -> None:
    check_if_match(if_match, evidence.version)
    await _check_partner_not_withdrawn(session, actor, evidence)
    if evidence.status not in EDITABLE:
        raise Conflict(f"The document of {evidence.status} evidence cannot be replaced.")


async def attach_document(
    session: AsyncSession,
    actor: Principal,
    evidence: Evidence,
    if_match: str,
    chunks: AsyncIterable[bytes],
    storage: DocumentStorage,
    max_bytes: int,
) -> Evidence:
    """Store the study's PDF and point the record at it.

    The document arrives with no transaction open: on SQLite a writing transaction holds the
    database's only write lock, and on PostgreSQL a pooled connection, for as long as a
    client takes to send its file. So the record is checked, the transaction ended, the file
    stored, and the record locked and checked again, as anything may have changed meanwhile.
    A file refused then stays in storage under its hash, referenced by no record.
    """
    await _check_document_replaceable(session, actor, evidence, if_match)
    evidence_id = evidence.id
    await session.commit()
    # What was read is stale once the file is in: the checks after it read afresh.
    session.expire_all()
    stored = await storage.save(_checked_pdf(chunks, max_bytes))
    await session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
    await repository.lock(session, evidence_id)
    await _check_document_replaceable(session, actor, evidence, if_match)
    previous = evidence.document_sha256
    evidence.document_sha256, evidence.document_size = stored.sha256, stored.size
    evidence.document_uploaded_at = evidence.updated_at = utcnow()
    await session.flush()
    await record(
        session,
        actor,
        "evidence.document_attached",
        "evidence",
        evidence.id,
        {"sha256": [previous, stored.sha256], "size": stored.size},
    )
    return evidence


def classify_request(data: ClassifyRequest, limits: Thresholds) -> ClassifyResult:
    study = to_study(data)
    in_context = None
    if data.context is not None:
        context = DistrictContext(
            grade_bands=frozenset(str(band) for band in data.context.grade_bands),
            student_groups=frozenset(data.context.student_groups),
            locales=frozenset(str(locale) for locale in data.context.locales),
        )
        in_context = study_classification(classify_in_context(study, context, limits))
    return ClassifyResult(
        **study_classification(classify(study, limits)).model_dump(), in_context=in_context
    )
