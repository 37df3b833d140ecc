"""Login, refresh and logout for a first-party app: the login is the app's code, the rest is mounted.

    POST /login             {"username": ..., "password": ...}  -> an OAuth 2 token response (access + refresh)
    GET  /orders            Authorization: Bearer <access token>
    POST /oauth/token       grant_type=refresh_token&refresh_token=...  -> a new pair; the old refresh token is spent
    POST /oauth/revoke      token=<refresh token>  -> logout: the whole login (its access tokens too) is refused
    POST /logout/everywhere Authorization: Bearer <access token>  -> every token of this user is refused

Run it with ``uvicorn login_refresh_logout:app`` from this directory. One process: the revocation store lives in
its memory (several workers need a shared store).
"""

import hashlib
import hmac
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import (
    JWTAuthMiddleware,
    KeyPair,
    MemoryRevocationStore,
    RefreshEndpoint,
    RevocationEndpoint,
    TokenIssuer,
    TokenVerifier,
)

ISSUER = "https://shop.example.com"
AUDIENCE = "shop-api"

# A new key at each start logs everyone out on restart; load yours with KeyPair.from_file("private.pem").
keys = KeyPair.generate("ES256")
store = MemoryRevocationStore()
issuer = TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE, revocation=store)
verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, require_at_jwt=True, revocation=store)


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


# The app's own user table: in real life a database, here one user with a salted scrypt hash.
SALT = os.urandom(16)
USERS = {"alice": {"hash": hash_password("correct horse battery staple", SALT), "scope": "orders:read"}}


# --8<-- [start:login]
async def login(request: Request) -> JSONResponse:
    """The app's own login: check the password, then hand out a token pair."""
    try:
        form = await request.json()
        username, password = str(form["username"]), str(form["password"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    user = USERS.get(username)
    expected = user["hash"] if user else hash_password("", SALT)  # the same work for unknown users
    if not hmac.compare_digest(hash_password(password, SALT), expected) or user is None:
        return JSONResponse({"error": "invalid_grant"}, status_code=400, headers={"Cache-Control": "no-store"})
    pair = issuer.issue_pair(username, scope=user["scope"])
    return JSONResponse(pair, headers={"Cache-Control": "no-store"})


# --8<-- [end:login]


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity, "orders": []})


async def logout_everywhere(request: Request) -> JSONResponse:
    await issuer.revoke_subject(request.user.identity)
    return JSONResponse({"logged_out": request.user.identity})


# --8<-- [start:routes]
routes = [
    Route("/login", login, methods=["POST"]),
    Route("/oauth/token", RefreshEndpoint(issuer)),
    Route("/oauth/revoke", RevocationEndpoint(issuer)),
    Route("/orders", orders),
    Route("/logout/everywhere", logout_everywhere, methods=["POST"]),
]
app = JWTAuthMiddleware(
    Starlette(routes=routes), verifier=verifier, exclude_paths=["/login", "/oauth/token", "/oauth/revoke"]
)
# --8<-- [end:routes]
