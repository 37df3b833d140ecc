"""FastAPI: dependencies that require permissions, a bearer scheme in OpenAPI, and the one error answer.

Authentication stays in :class:`~asgi_jwt.JWTAuthMiddleware`; these dependencies
read what it put in the scope and decide what the caller may do::

    app = FastAPI()
    add_exception_handlers(app)
    app.add_middleware(JWTAuthMiddleware, verifier=verifier, optional=True, policy=ROLES)

    @app.post("/posts", dependencies=[Depends(require("write:posts"))])
    async def create_post(claims: CurrentClaims) -> dict[str, str]: ...

    @app.get("/me")
    async def me(claims: Annotated[Mapping[str, Any], Security(get_claims, scopes=["profile"])]): ...

Every dependency declares :data:`bearer_scheme`, an ``HTTPBearer`` with
``auto_error=False``: Swagger UI gets its "Authorize" button and each route lists
its required scopes, while FastAPI's own 401/403 never replaces ours. Failures
are raised as :class:`~asgi_jwt.AuthError` and answered by the handlers
:func:`add_exception_handlers` registers, which call
:func:`~asgi_jwt.error_response`, so a route answers exactly as the middleware
would. Without them the answer is still right: an ``AuthError`` is a Starlette
``HTTPException``, so FastAPI's default handler sends its status, challenge (realm
``"api"``) or ``Retry-After``, with a body of ``{"detail": ...}`` only.
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import lru_cache
from typing import Annotated, Any

try:
    from fastapi import Depends, FastAPI, Security
    from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('asgi_jwt.integrations.fastapi needs FastAPI: pip install "asgi-jwt[fastapi]"') from exc
from starlette.authentication import BaseUser
from starlette.requests import HTTPConnection

from asgi_jwt.apikeys import ApiKeys
from asgi_jwt.authz import AllOf, HasPermission, Requirement, requirement_from
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.identity import JWTAuth
from asgi_jwt.integrations.starlette import auth_exception_handlers

__all__ = [
    "CurrentClaims",
    "CurrentUser",
    "add_exception_handlers",
    "api_key_scheme",
    "bearer_scheme",
    "document_api_keys",
    "get_auth",
    "get_claims",
    "get_user",
    "require",
]

SCHEME_NAME = "bearerAuth"

bearer_scheme = HTTPBearer(
    auto_error=False,  # the middleware has already answered, per RFC 6750; never FastAPI's own 403/401
    bearerFormat="JWT",
    scheme_name=SCHEME_NAME,
    description="A JWT access token, sent as `Authorization: Bearer <token>`.",
)
"""The OpenAPI security scheme every dependency here declares (``bearerAuth``)."""

API_KEY_SCHEME_NAME = "apiKeyAuth"


def api_key_scheme(api_keys: ApiKeys) -> APIKeyHeader:
    """The OpenAPI security scheme of ``api_keys`` (``apiKeyAuth``: a key in their header)."""
    return APIKeyHeader(
        name=api_keys.header_name,
        scheme_name=API_KEY_SCHEME_NAME,
        auto_error=False,
        description=f"An API key, sent as `{api_keys.header_name}: <key>`.",
    )


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


@lru_cache(maxsize=256)
def _scopes_requirement(scopes: tuple[str, ...]) -> Requirement:
    """``Security(..., scopes=[...])`` lists are fixed per route: validate each list once."""
    return HasPermission(*scopes) if scopes else AllOf()


async def get_auth(conn: HTTPConnection, security_scopes: SecurityScopes, _credentials: Credentials) -> JWTAuth:
    """``scope["auth"]`` of an authenticated request holding every scope of ``Security(..., scopes=[...])``.

    No credentials (optional mode) is a 401 with the bare challenge; a missing
    scope is a 403 ``insufficient_scope``.
    """
    _scopes_requirement(tuple(security_scopes.scopes)).check(conn)
    auth: JWTAuth = conn.scope["auth"]
    return auth


async def get_claims(auth: Annotated[JWTAuth, Depends(get_auth)]) -> Mapping[str, Any]:
    """The verified claims; use ``Security(get_claims, scopes=[...])`` to require scopes too."""
    return auth.claims


async def get_user(conn: HTTPConnection, _auth: Annotated[JWTAuth, Depends(get_auth)]) -> BaseUser:
    """The authenticated user (a :class:`~asgi_jwt.JWTUser`), with the same scope checks as :func:`get_claims`."""
    user: BaseUser = conn.scope["user"]
    return user


CurrentClaims = Annotated[Mapping[str, Any], Depends(get_claims)]
"""``claims: CurrentClaims``: the verified claims of an authenticated request."""
CurrentUser = Annotated[BaseUser, Depends(get_user)]
"""``user: CurrentUser``: the authenticated user."""


def require(*permissions: str | Requirement, roles: str | Iterable[str] = ()) -> Callable[..., Awaitable[JWTAuth]]:
    """A dependency enforcing permissions, roles or any requirement: ``Depends(require("write:posts"))``.

    Arguments are those of :func:`~asgi_jwt.authorize`: strings are permissions (all
    required), ``roles`` are alternatives, requirement objects combine freely. The
    permissions appear as the route's scopes in OpenAPI. The dependency returns the
    request's :class:`~asgi_jwt.JWTAuth`.
    """
    requirement = requirement_from(*permissions, roles=roles)
    scoped = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme, scopes=list(requirement.scopes))]

    async def dependency(conn: HTTPConnection, _credentials: scoped) -> JWTAuth:
        requirement.check(conn)
        auth: JWTAuth = conn.scope["auth"]
        return auth

    dependency.__qualname__ = f"require({requirement!r})"
    return dependency


def add_exception_handlers(app: FastAPI, *, realm: str = "api", api_keys: ApiKeys | None = None) -> None:
    """Answer an :class:`~asgi_jwt.AuthError` raised in a route or dependency with the middleware's builder.

    Use the middleware's ``realm`` (and its ``api_keys``, if any) so both answer with the same challenges.
    """
    for error_class, handler in auth_exception_handlers(realm=realm, api_keys=api_keys).items():
        app.add_exception_handler(error_class, handler)


def document_api_keys(app: FastAPI, api_keys: ApiKeys) -> None:
    """Declare the API-key scheme in ``/openapi.json`` beside ``bearerAuth``.

    Every operation that accepts a bearer token lists ``apiKeyAuth`` as the
    alternative (OpenAPI's ``security`` items are alternatives), with the same
    scopes; public operations stay public. Use it when the middleware has
    ``api_keys=``, with the same :class:`~asgi_jwt.ApiKeys`.
    """
    if not isinstance(api_keys, ApiKeys):
        raise ConfigurationError("document_api_keys needs the middleware's ApiKeys")
    scheme = api_key_scheme(api_keys).model.model_dump(mode="json", by_alias=True, exclude_none=True)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI builds once and keeps it in app.openapi_schema: amend it once
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        if API_KEY_SCHEME_NAME not in schemes:
            schemes[API_KEY_SCHEME_NAME] = scheme
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    security = operation.get("security") if isinstance(operation, dict) else None
                    if security:
                        bearer = [item[SCHEME_NAME] for item in security if SCHEME_NAME in item]
                        security.extend({API_KEY_SCHEME_NAME: scopes} for scopes in bearer)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to amend the schema
