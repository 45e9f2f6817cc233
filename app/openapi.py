"""Print the served OpenAPI document, as committed in openapi/openapi.json (`make openapi`)."""

import json

from app.core.config import Environment, Settings
from app.main import create_app


def document() -> str:
    spec = create_app(Settings(env=Environment.TEST)).openapi()
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(document(), end="")  # noqa: T201
