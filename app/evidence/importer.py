"""Import the WWC study-findings export as accepted evidence, one partner per intervention.

Idempotent: records are matched on WWC ids (`source="wwc"`, `external_id` naming the study
review and its rating) and partners on the intervention id (`imported_partners`), so a re-run
adds only what is new. Rows go in with one bulk insert per table, because the full export has
13,023 findings and a round trip per row would take minutes.

WWC's review is the state's accepted review: imported records are `accepted` with the
computed tier as their final tier, and the partners' evidence tiers are rolled up at the end.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.evidence import repository
from app.evidence.classifier import Thresholds, classify
from app.evidence.models import Evidence, EvidenceFinding, EvidenceStatus, ImportedPartner
from app.evidence.schemas import reasons_json
from app.evidence.service import classification_json, recompute_tiers
from app.evidence.wwc import WwcStudy, load_domain_map, parse_export
from app.partners import repository as partners_repository
from app.partners import service as partners_service
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet, Partner, PartnerFacet
from app.partners.schemas import PartnerUpdate

SOURCE = "wwc"
DOMAIN_MAP = Path(__file__).resolve().parents[2] / "seed" / "wwc_domain_map.csv"


@dataclass(frozen=True)
class ImportResult:
    studies: int  # in the export (after --limit)
    partners: int  # created
    widened: int  # imported before, now offering the need domains of new studies too
    records: int  # created
    findings: int  # created
    skipped: int  # already imported


class UnknownNeedDomains(ValueError):
    """The domain map names need domains the registry does not have."""


def external_id(wwc: WwcStudy) -> str:
    return f"{wwc.study_id}:{wwc.review_id}:{wwc.study.standards_rating}"


def _need_domains(studies: Sequence[WwcStudy]) -> set[str]:
    return {finding.need_domain for wwc in studies for finding in wwc.study.findings}


def _partner(intervention: str, studies: Sequence[WwcStudy], now: datetime) -> Partner:
    return Partner(
        id=uuid.uuid4(),
        name=studies[0].intervention_name[:200] or f"WWC intervention {intervention}",
        description=f"Imported from the What Works Clearinghouse (intervention {intervention}).",
        capacity=0,
        cost_min=0,
        cost_max=0,
        status=PartnerStatus.DRAFT,
        notes="",
        created_at=now,
        updated_at=now,
        facets=[
            PartnerFacet(facet=Facet.NEED_DOMAIN, value=domain)
            for domain in sorted(_need_domains(studies))
        ],
    )


def _rows(
    wwc: WwcStudy, partner_id: uuid.UUID, limits: Thresholds, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    study = wwc.study
    classification = classify(study, limits)
    evidence_id = uuid.uuid4()
    evidence = {
        "id": evidence_id,
        "partner_id": partner_id,
        "status": EvidenceStatus.ACCEPTED,
        "title": wwc.title[:500],
        "citation": wwc.citation,
        "url": wwc.url[:1000] or None,
        "design": study.design,
        "standards_rating": study.standards_rating,
        "controls_for_selection_bias": study.controls_for_selection_bias,
        "sample_size": study.sample_size,
        "site_count": study.site_count,
        "grade_bands": sorted(study.grade_bands),
        "locales": sorted(study.locales),
        "student_groups": sorted(study.student_groups),
        "has_logic_model": study.has_logic_model,
        "research_basis": study.research_basis,
        "ongoing_evaluation": study.ongoing_evaluation,
        "classification": classification_json(classification),
        "computed_tier": classification.tier,
        "final_tier": classification.tier,
        "submitted_by": None,
        "submitted_at": now,
        "source": SOURCE,
        "external_id": external_id(wwc),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    findings = [
        {
            "id": uuid.uuid4(),
            "evidence_id": evidence_id,
            "position": position,
            "need_domain": finding.need_domain,
            "outcome": finding.outcome[:500],
            "direction": finding.direction,
            "significant": finding.significant,
            "effect_size": finding.effect_size,
            "p_value": finding.p_value,
            "sample_size": finding.sample_size,
            "subgroup": finding.subgroup,
            "external_id": meta.finding_id,
            "tier": result.tier,
            "reasons": reasons_json(result.reasons),
        }
        for position, (finding, meta, result) in enumerate(
            zip(study.findings, wwc.findings, classification.findings, strict=True)
        )
    ]
    return evidence, findings


async def _offer_new_need_domains(
    session: AsyncSession, actor: Principal, studies: Mapping[uuid.UUID, Sequence[WwcStudy]]
) -> int:
    """Partners imported before offer the need domains of their new studies too, as they would
    had those come with the first import; a domain that staff took away stays away unless a
    new study brings it. Each change is a `partner.updated` event, as from the API."""
    widened = 0
    for partner_id, new_studies in studies.items():
        partner = await partners_repository.get(session, actor, partner_id)
        assert partner is not None  # partners are never deleted, and staff see them all
        listed = partner.values(Facet.NEED_DOMAIN)
        offered = sorted(set(listed) | _need_domains(new_studies))
        if offered != listed:
            await partners_service.update(
                session, actor, partner, PartnerUpdate(need_domains=offered)
            )
            widened += 1
    return widened


async def import_wwc(
    session: AsyncSession,
    actor: Principal,
    path: Path,
    limits: Thresholds,
    limit: int | None = None,
) -> ImportResult:
    domain_map = load_domain_map(DOMAIN_MAP)
    unknown = set(domain_map.values()) - await repository.known_need_domains(
        session, set(domain_map.values())
    )
    if unknown:
        raise UnknownNeedDomains(
            f"the WWC domain map names unknown need domains: {', '.join(sorted(unknown))}"
        )
    studies = parse_export(path, domain_map)[:limit]
    done = await repository.imported_ids(session, SOURCE)
    new = [wwc for wwc in studies if external_id(wwc) not in done]
    by_intervention: dict[str, list[WwcStudy]] = defaultdict(list)
    for wwc in new:
        by_intervention[wwc.intervention_id].append(wwc)

    now = utcnow()
    partner_ids = await repository.imported_partners(session, SOURCE)
    widened = await _offer_new_need_domains(
        session,
        actor,
        {
            partner_ids[intervention]: group
            for intervention, group in by_intervention.items()
            if intervention in partner_ids
        },
    )
    created = [
        (intervention, _partner(intervention, group, now))
        for intervention, group in by_intervention.items()
        if intervention not in partner_ids
    ]
    session.add_all(partner for _intervention, partner in created)
    await session.flush()
    partner_ids |= {intervention: partner.id for intervention, partner in created}
    await repository.insert_rows(
        session,
        ImportedPartner,
        (
            {"source": SOURCE, "external_id": intervention, "partner_id": partner.id}
            for intervention, partner in created
        ),
    )

    evidence_rows, finding_rows = [], []
    for wwc in new:
        evidence, findings = _rows(wwc, partner_ids[wwc.intervention_id], limits, now)
        evidence_rows.append(evidence)
        finding_rows += findings
    await repository.insert_rows(session, Evidence, evidence_rows)
    await repository.insert_rows(session, EvidenceFinding, finding_rows)

    touched = {partner_ids[intervention] for intervention in by_intervention}
    await recompute_tiers(session, touched, limits)
    result = ImportResult(
        len(studies), len(created), widened, len(new), len(finding_rows), len(studies) - len(new)
    )
    if new:
        await record(session, actor, "evidence.wwc_imported", "evidence", None, vars(result))
    return result
