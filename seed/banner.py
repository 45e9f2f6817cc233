"""What `make run` prints before serving: where to look and how to sign in."""

from app.core.config import Environment, load_settings
from seed.loader import demo_credentials

URL = "http://127.0.0.1:8000"


def main() -> None:
    settings = load_settings()
    print(f"\nPartner registry on {URL}  (API docs: {URL}/docs, health: {URL}/healthz)")
    print(f"Public directory (no sign-in): {URL}/v1/directory")
    if settings.env is Environment.DEVELOPMENT:
        print("\nDemo accounts (development only):")
        for user in demo_credentials():
            print(f"  {user['role']:<15} {user['email']:<34} {user['password']}")
        first = demo_credentials()[0]
        print(
            "\nSign in:  curl -s -X POST "
            f"{URL}/v1/auth/token -d 'username={first['email']}&password={first['password']}'"
        )
        print(f"Then:     curl -s {URL}/v1/partners -H 'Authorization: Bearer <access_token>'")
    print("An admin API key for scripts: .venv/bin/registry create-admin --email you@example.org\n")


if __name__ == "__main__":
    main()
