"""Two services: ``issuer`` signs RS256 tokens and publishes its public keys; ``api`` verifies them.

    uvicorn examples.jwks_services:issuer --port 8001
    JWKS_URL=http://127.0.0.1:8001/.well-known/jwks.json uvicorn examples.jwks_services:api --port 8000

The API fetches the keys when it starts (``JWTAuthMiddleware`` runs the warm-up on the
lifespan start-up event) and reports whether it has them at ``/health/ready``. In a
real issuer the key comes from a file or a secret store, and tokens from a login flow.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWKSEndpoint, JWKSResolver, JWTAuthMiddleware, KeyPair, TokenVerifier

ISSUER = "https://issuer.example.com"
AUDIENCE = "orders-api"

# --- the issuer: publishes the public half of its signing key
signing_key = KeyPair.generate("RS256")  # kid: the key's RFC 7638 thumbprint
issuer = Starlette(routes=[Route("/.well-known/jwks.json", JWKSEndpoint(signing_key))])

# --- the API: verifies the issuer's tokens with the keys it publishes
keys = JWKSResolver(os.environ.get("JWKS_URL", "http://127.0.0.1:8001/.well-known/jwks.json"))


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity, "orders": []})


async def ready(request: Request) -> JSONResponse:
    return JSONResponse({"ready": keys.ready}, status_code=200 if keys.ready else 503)


api = JWTAuthMiddleware(
    Starlette(routes=[Route("/orders", orders), Route("/health/ready", ready)]),
    verifier=TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE),
    exclude_paths=["/health"],
)
