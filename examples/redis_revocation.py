"""Logout that every worker and every machine sees at once: one RedisRevocationStore per process.

Run it in as many processes as you like against one Redis (pip install 'asgi-jwt[redis]' uvicorn):

    REDIS_URL=redis://localhost:6379/0 uvicorn redis_revocation:app --app-dir examples --port 8001
    REDIS_URL=redis://localhost:6379/0 uvicorn redis_revocation:app --app-dir examples --port 8002

``POST /logout`` on one revokes the presented token on all of them; ``POST /logout/everywhere``
refuses every token of that user issued until now. Checking a token costs no Redis round trip.
"""

import os
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier
from asgi_jwt.redis_store import RedisRevocationStore

ACCESS_TOKEN_LIFETIME = 900  # the longest-lived token your issuer hands out, in seconds

store = RedisRevocationStore(os.environ.get("REDIS_URL", "redis://localhost:6379/0"), prefix="orders-api:")
verifier = TokenVerifier(
    SecretKey(os.environ.get("JWT_SECRET_KEY", "a-secret-of-at-least-32-bytes-for-hs256!")),
    issuer="https://auth.example.com",
    audience="orders-api",
    revocation=store,  # asked on every request, from this process's memory
)


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity, "pid": os.getpid()})


async def logout(request: Request) -> Response:
    """Revoke the token this request came with, in every process, until it would have expired."""
    claims = request.auth.claims
    jti = claims.get("jti")
    if not isinstance(jti, str):
        return JSONResponse({"detail": "This token has no jti: use /logout/everywhere"}, status_code=400)
    await store.revoke(jti, expires_at=claims["exp"])
    return Response(status_code=204)


async def logout_everywhere(request: Request) -> Response:
    """Refuse every token of this user issued until now; new logins work again."""
    now = time.time()
    await store.revoke_subject(request.auth.claims["sub"], before=now, expires_at=now + ACCESS_TOKEN_LIFETIME)
    return Response(status_code=204)


routes = [
    Route("/orders", orders),
    Route("/logout", logout, methods=["POST"]),
    Route("/logout/everywhere", logout_everywhere, methods=["POST"]),
]
app = JWTAuthMiddleware(Starlette(routes=routes), verifier=verifier)
