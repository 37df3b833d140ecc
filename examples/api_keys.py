"""API keys beside bearer tokens: a reporting API that scripts call with a key and people with a JWT.

Keys live in ``api-keys.json`` as stored records (SHA-256 digests, never the keys themselves):
``python api_keys.py reporting read:reports`` makes a key, prints it once and adds its record to
the file. Serve with ``uvicorn api_keys:app``; the verifier for bearer tokens comes from the
``JWT_*`` environment variables, and ``BILLING_API_KEY`` is an older key a system already holds.
"""

import json
import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import ApiKeys, JWTAuthMiddleware, Rule, TokenVerifier

KEYS_FILE = Path(os.environ.get("API_KEYS_FILE", "api-keys.json"))
ROLES = {"auditor": ["read:reports", "read:audit"]}


def load_keys() -> ApiKeys:
    """The generated keys from the file, and the billing system's older key from the environment."""
    billing = os.environ.get("BILLING_API_KEY")
    existing = {billing: ("billing", ["read:reports"])} if billing else {}
    if not KEYS_FILE.exists():
        return ApiKeys(existing)
    return ApiKeys.from_file(KEYS_FILE, keys=existing)


def add_key(subject: str, scopes: list[str]) -> str:
    """Generate a key and store its record; the key is returned once and kept nowhere."""
    new = ApiKeys.generate(subject, scopes)
    document = json.loads(KEYS_FILE.read_text(encoding="utf-8")) if KEYS_FILE.exists() else {"keys": []}
    document["keys"].append(new.record.to_dict())
    KEYS_FILE.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return new.key


async def reports(request: Request) -> JSONResponse:
    """The same ``request.user`` and ``request.auth`` for a key as for a token; ``auth.method`` tells them apart."""
    return JSONResponse({"reports": ["2026-q3"], "for": request.user.identity, "via": request.auth.method})


app = Starlette(
    routes=[Route("/reports", reports)],
    middleware=[
        Middleware(
            JWTAuthMiddleware,
            verifier=TokenVerifier.from_env(),
            api_keys=load_keys(),  # read from X-API-Key
            policy=ROLES,  # a key's roles and scopes count like a token's
            rules=[Rule("/reports", "read:reports")],
        )
    ],
)

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python api_keys.py SUBJECT [SCOPE ...]")
    print(add_key(sys.argv[1], sys.argv[2:]))
