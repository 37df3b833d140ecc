"""The quickstart: a Starlette app whose every route but /health needs a valid token.

Run it with ``JWT_SECRET_KEY`` set (at least 32 bytes) under any ASGI server::

    JWT_SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(48))") uvicorn quickstart:app
"""

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier


async def orders(request: Request) -> JSONResponse:
    # request.user and request.auth were filled in by the middleware.
    return JSONResponse({"user": request.user.identity, "orders": []})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/orders", orders), Route("/health", health)])

verifier = TokenVerifier(
    SecretKey(os.environ["JWT_SECRET_KEY"]),
    issuer="https://auth.example.com",
    audience="orders-api",
)
app = JWTAuthMiddleware(app, verifier=verifier, exclude_paths=["/health", "/docs", "/openapi.json"])
