from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.designations.router import router as designations_router
from app.directory.router import router as directory_router
from app.districts.router import router as districts_router
from app.engagements.router import router as engagements_router
from app.evidence.router import router as evidence_router
from app.matching.router import router as matching_router
from app.need_domains.router import router as need_domains_router
from app.needs.router import router as needs_router
from app.partners.router import router as partners_router
from app.reviews.router import router as reviews_router

# Mounted each on its own under /v1 (``create_app``), not through one /v1 router: FastAPI
# matches an included router's routes again when it hands a request down, and the extra level
# cost about 0.1 ms of every request's CPU.
#
# In the order of the traffic they serve: FastAPI tries the routers one after another, each
# route's pattern in turn (about 1 µs a route), and a match reached the matching router only
# after some sixty routes. No path belongs to two routers (`tests/core/test_routing.py`), so
# the order decides nothing else; the OpenAPI document sorts its paths.
API_PREFIX = "/v1"
DOMAIN_ROUTERS = (
    partners_router,
    matching_router,
    needs_router,
    districts_router,
    evidence_router,
    designations_router,
    reviews_router,
    engagements_router,
    directory_router,
    need_domains_router,
    audit_router,
    auth_router,
)
