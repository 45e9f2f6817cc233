from fastapi import APIRouter

from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.districts.router import router as districts_router
from app.need_domains.router import router as need_domains_router
from app.partners.router import router as partners_router

api_router = APIRouter(prefix="/v1")
for domain_router in (
    auth_router,
    need_domains_router,
    partners_router,
    districts_router,
    audit_router,
):
    api_router.include_router(domain_router)
