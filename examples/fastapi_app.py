"""FastAPI: ``app.add_middleware`` and the authenticated user on ``request``.

Everything but the health check and FastAPI's own documentation needs a token.
"""

import os
from typing import Any

from fastapi import FastAPI, Request

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier

verifier = TokenVerifier(
    SecretKey(os.environ["JWT_SECRET_KEY"]), issuer="https://auth.example.com", audience="orders-api"
)

app = FastAPI()
app.add_middleware(JWTAuthMiddleware, verifier=verifier, exclude_paths=["/health", "/docs", "/openapi.json"])


@app.get("/orders")
async def list_orders(request: Request) -> dict[str, Any]:
    return {"user": request.user.identity, "scopes": sorted(request.auth.scopes), "orders": []}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
