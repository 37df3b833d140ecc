"""The apps under test: asgi-jwt, and each alternative wired the way its documentation shows.

The alternatives' packages are benchmark-only dependencies (``pip install -e '.[bench]'``),
imported inside the function that builds their app, so the core rows run without them.
Every authenticating app checks the signature, ``exp``, ``iss`` and ``aud``, and refuses a
request without a valid token.
"""

# No "from __future__ import annotations": FastAPI reads the annotations of functions defined
# inside the builders, whose imports are local, at run time.
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_jwt import JWTAuthMiddleware, TokenVerifier
from benchmarks.common import AUDIENCE, ISSUER, SECRET, endpoint

PYJWT_OPTIONS: Any = {"require": ["exp", "iss", "aud"]}


def asgi_jwt_app(verifier: TokenVerifier) -> Starlette:
    """asgi-jwt as Starlette's documentation adds a pure ASGI middleware."""
    return Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(JWTAuthMiddleware, verifier=verifier)])


def pyjwt_decode(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    """``jwt.decode`` configured like asgi-jwt: algorithm pinned, ``exp``/``iss``/``aud`` required."""
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[algorithm], audience=AUDIENCE, issuer=ISSUER, options=PYJWT_OPTIONS
    )
    return claims


class MinimalPyJWTMiddleware:
    """The smallest honest hand-written pure ASGI middleware: find the bearer token, ``jwt.decode`` it.

    With ``remember=True`` it keeps a dict of tokens it has verified and skips
    ``jwt.decode`` for them (and, unlike asgi-jwt's cache, never re-checks ``exp``).
    """

    def __init__(self, app: ASGIApp, *, key: Any, algorithm: str, remember: bool = False) -> None:
        self.app = app
        self.key = key
        self.algorithm = algorithm
        self.verified: dict[str, dict[str, Any]] | None = {} if remember else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = credentials
                break
        claims = self.verified.get(token) if self.verified is not None else None
        if claims is None:
            try:
                claims = pyjwt_decode(token, self.key, self.algorithm)
            except jwt.InvalidTokenError:
                response = JSONResponse({"detail": "Invalid token"}, 401, {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
            if self.verified is not None:
                self.verified[token] = claims
        scope["user"] = claims
        await self.app(scope, receive, send)


def minimal_pyjwt_app(key: Any, algorithm: str, *, remember: bool = False) -> Starlette:
    return Starlette(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(MinimalPyJWTMiddleware, key=key, algorithm=algorithm, remember=remember)],
    )


class PrimitivesOnlyMiddleware:
    """A middleware doing nothing but a token's primitives: its ``Bearer`` token split, base64url-decoded, the
    signature checked and the payload parsed (``check``), the result put in the scope; no claim checks, no
    cache, no error answers. Not an authenticator: the floor of what any verifying middleware adds."""

    def __init__(self, app: ASGIApp, *, check: Any) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scope["auth"] = self.check(value[7:].decode("latin-1"))
        await self.app(scope, receive, send)


def primitives_only_app(check: Any) -> Starlette:
    return Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(PrimitivesOnlyMiddleware, check=check)])


class PyJWTBackend(AuthenticationBackend):
    """A Starlette authentication backend over ``jwt.decode``, as in Starlette's docs."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        authorization = conn.headers.get("Authorization")
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            claims = pyjwt_decode(token, SECRET, "HS256")
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("Invalid token") from exc
        return AuthCredentials(["authenticated", *claims.get("scope", "").split()]), SimpleUser(claims["sub"])


@requires("authenticated")
async def protected_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def starlette_auth_app() -> Starlette:
    """Starlette's ``AuthenticationMiddleware`` with a PyJWT backend and ``@requires``."""
    return Starlette(
        routes=[Route("/", protected_endpoint)],
        middleware=[Middleware(AuthenticationMiddleware, backend=PyJWTBackend())],
    )


def fastapi_alone_app() -> Any:
    """FastAPI with one trivial route: what FastAPI itself costs, before any authentication."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"ok": True}

    return app


def fastapi_bearer_app() -> Any:
    """FastAPI's ``HTTPBearer`` security dependency and ``jwt.decode``, as in FastAPI's tutorial."""
    from typing import Annotated

    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    app = FastAPI()
    bearer = HTTPBearer()

    async def current_claims(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
        try:
            return pyjwt_decode(credentials.credentials, SECRET, "HS256")
        except jwt.InvalidTokenError as exc:
            raise HTTPException(401, "Invalid token", headers={"WWW-Authenticate": "Bearer"}) from exc

    @app.get("/")
    async def root(claims: Annotated[dict[str, Any], Depends(current_claims)]) -> dict[str, bool]:
        return {"ok": True}

    return app


def mcp_app() -> Starlette:
    """The MCP SDK's bearer stack as its server wires it, with a PyJWT token verifier.

    ``AuthenticationMiddleware(BearerAuthBackend)`` and ``AuthContextMiddleware`` around
    the app, ``RequireAuthMiddleware`` in front of the endpoint.
    """
    from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
    from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
    from mcp.server.auth.provider import AccessToken
    from starlette.routing import request_response

    class PyJWTVerifier:
        async def verify_token(self, token: str) -> AccessToken | None:
            try:
                claims = pyjwt_decode(token, SECRET, "HS256")
            except jwt.InvalidTokenError:
                return None
            return AccessToken(
                token=token,
                client_id=claims["sub"],
                scopes=claims.get("scope", "").split(),
                expires_at=claims["exp"],
                resource=AUDIENCE,
                subject=claims["sub"],
            )

    return Starlette(
        routes=[Route("/", RequireAuthMiddleware(request_response(endpoint), required_scopes=[]))],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(PyJWTVerifier())),
            Middleware(AuthContextMiddleware),
        ],
    )


def authx_app() -> Any:
    """AuthX on FastAPI, as its quick-start shows: ``AuthX`` config and ``access_token_required``."""
    from authx import AuthX, AuthXConfig, TokenPayload
    from fastapi import Depends, FastAPI

    config = AuthXConfig(
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_SECRET_KEY=SECRET,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_DECODE_ISSUER=ISSUER,
        JWT_DECODE_AUDIENCE=AUDIENCE,
    )
    auth = AuthX(config=config)
    app = FastAPI()
    auth.handle_errors(app)

    @app.get("/")
    async def root(payload: TokenPayload = Depends(auth.access_token_required)) -> dict[str, bool]:  # noqa: B008
        return {"ok": True}

    return app
