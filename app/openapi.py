"""Print the served OpenAPI document, as committed in openapi/openapi.json (`make openapi`)."""

import json
import secrets

from app.core.config import Environment, Settings
from app.main import create_app


def document() -> str:
    # Settings outside development need a key; the spec signs nothing, so a throwaway one.
    settings = Settings(env=Environment.TEST, secret_key=secrets.token_urlsafe(48))
    spec = create_app(settings).openapi()
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(document(), end="")  # noqa: T201
