import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentPrincipal, SettingsDep
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.evidence import repository
from app.evidence.classifier import Thresholds
from app.evidence.models import Evidence
from app.evidence.service import thresholds
from app.evidence.storage import DocumentStorage, LocalStorage


class EvidenceNotFound(NotFound):
    title = "Evidence not found"


async def valid_evidence_id(
    evidence_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Evidence:
    """The record, if it exists and the caller may see it; another tenant's is a 404 too."""
    evidence = await repository.get(session, principal, evidence_id)
    if evidence is None:
        raise EvidenceNotFound(f"No evidence {evidence_id}.")
    return evidence


async def classifier_thresholds(settings: SettingsDep) -> Thresholds:
    return thresholds(settings)


async def document_storage(settings: SettingsDep) -> DocumentStorage:
    return LocalStorage(settings.storage_root)


VisibleEvidence = Annotated[Evidence, Depends(valid_evidence_id)]
ThresholdsDep = Annotated[Thresholds, Depends(classifier_thresholds)]
StorageDep = Annotated[DocumentStorage, Depends(document_storage)]
