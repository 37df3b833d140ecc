"""Refuse revoked tokens before they expire: a revocation store on the verifier.

``TokenVerifier(revocation=store)`` asks the store about every accepted token, the
repeated ones answered from the verified-token cache included, so a token is refused
from the moment ``revoke`` returns. Revocation is keyed on the token's ``jti`` (one
token) or its subject with a cut-off time ("log out everywhere"), never on the token
string. ``MemoryRevocationStore`` serves one process; several workers share a Redis one.
"""

import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, MemoryRevocationStore, SecretKey, TokenVerifier

# --8<-- [start:verifier]
store = MemoryRevocationStore()
verifier = TokenVerifier(
    SecretKey("a-secret-of-at-least-32-bytes-for-hs256!"),
    issuer="https://auth.example.com",
    audience="orders-api",
    revocation=store,
)


async def logout(request: Request) -> JSONResponse:
    """Revoke the token this request came with: it is refused from now on, until it would have expired."""
    claims = request.auth.claims
    await store.revoke(claims["jti"], expires_at=claims["exp"])
    return JSONResponse({"revoked": claims["jti"]})


async def logout_everywhere(request: Request) -> JSONResponse:
    """Refuse every token of this user issued until now, on every device."""
    claims = request.auth.claims
    now = time.time()
    await store.revoke_subject(claims["sub"], before=now, expires_at=now + 86_400)  # the longest token lifetime
    return JSONResponse({"logged_out": claims["sub"]})


# --8<-- [end:verifier]


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity})


routes = [Route("/orders", orders), Route("/logout", logout, methods=["POST"])]
routes.append(Route("/logout/everywhere", logout_everywhere, methods=["POST"]))
app = JWTAuthMiddleware(Starlette(routes=routes), verifier=verifier)
