"""The exception tree: each error's HTTP status, RFC 6750 code, safe description and log reason."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import asgi_jwt
from asgi_jwt import errors
from asgi_jwt.errors import (
    AuthError,
    ConfigurationError,
    CrossSiteRequest,
    InsufficientScope,
    InvalidAlgorithm,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    KeysUnavailable,
    MalformedToken,
    MissingClaim,
    MissingToken,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
    WrongTokenType,
)
from asgi_jwt.responses import error_headers

# class, parent, status, RFC 6750 error code, default description, log reason
TABLE = [
    (MissingToken, AuthError, 401, None, "Not authenticated", "missing_token"),
    (InvalidRequest, AuthError, 400, "invalid_request", "Invalid authentication request", "invalid_request"),
    (InvalidToken, AuthError, 401, "invalid_token", "Invalid token", "invalid_token"),
    (MalformedToken, InvalidToken, 401, "invalid_token", "Malformed token", "malformed_token"),
    (InvalidAlgorithm, InvalidToken, 401, "invalid_token", "Token algorithm is not accepted", "invalid_algorithm"),
    (UnknownKey, InvalidToken, 401, "invalid_token", "Token signing key is not recognised", "unknown_key"),
    (InvalidSignature, InvalidToken, 401, "invalid_token", "Invalid token signature", "invalid_signature"),
    (TokenExpired, InvalidToken, 401, "invalid_token", "Token has expired", "token_expired"),
    (TokenNotYetValid, InvalidToken, 401, "invalid_token", "Token is not yet valid", "token_not_yet_valid"),
    (InvalidIssuer, InvalidToken, 401, "invalid_token", "Token issuer is not accepted", "invalid_issuer"),
    (InvalidAudience, InvalidToken, 401, "invalid_token", "Token audience is not accepted", "invalid_audience"),
    (WrongTokenType, InvalidToken, 401, "invalid_token", "Token type is not accepted here", "wrong_token_type"),
    (InsufficientScope, AuthError, 403, "insufficient_scope", "Insufficient permissions", "insufficient_scope"),
    (CrossSiteRequest, AuthError, 403, None, "Cross-site request refused", "cross_site_request"),
    (
        KeysUnavailable,
        AuthError,
        503,
        None,
        "Authentication keys are temporarily unavailable",
        "keys_unavailable",
    ),
]


@pytest.mark.parametrize(
    ("cls", "parent", "status", "code", "description", "reason"), TABLE, ids=[row[0].__name__ for row in TABLE]
)
def test_error_fields(
    cls: type[AuthError], parent: type[AuthError], status: int, code: str | None, description: str, reason: str
) -> None:
    error = cls()
    assert isinstance(error, parent)
    assert isinstance(error, AuthError)
    assert error.status_code == status
    assert error.error == code
    assert error.description == description
    assert str(error) == description
    assert error.reason == reason


@pytest.mark.parametrize("cls", [row[0] for row in TABLE], ids=[row[0].__name__ for row in TABLE])
def test_description_can_be_replaced_without_changing_the_code(cls: type[AuthError]) -> None:
    error = cls(description="Custom words")
    assert error.description == "Custom words"
    assert str(error) == "Custom words"
    assert error.status_code == cls.status_code
    assert error.error == cls.error


@pytest.mark.parametrize(
    ("cls", "description", "reason"),
    [
        (MissingClaim, "Token is missing the 'exp' claim", "missing_claim"),
        (InvalidClaim, "Token has an invalid 'exp' claim", "invalid_claim"),
    ],
)
def test_claim_errors_name_the_claim(
    cls: type[MissingClaim] | type[InvalidClaim], description: str, reason: str
) -> None:
    error = cls("exp")
    assert isinstance(error, InvalidToken)
    assert error.claim == "exp"
    assert error.status_code == 401
    assert error.error == "invalid_token"
    assert error.description == description
    assert error.reason == reason


def test_insufficient_scope_keeps_the_scopes_as_a_tuple() -> None:
    assert InsufficientScope("orders:read").scope == ("orders:read",)
    assert InsufficientScope(["a", "b"]).scope == ("a", "b")  # type: ignore[arg-type]
    assert InsufficientScope().scope == ()
    error = InsufficientScope(("orders:write",), description="Needs orders:write")
    assert error.description == "Needs orders:write"
    assert error.status_code == 403


def test_keys_unavailable_carries_retry_after() -> None:
    assert KeysUnavailable().retry_after == 30
    error = KeysUnavailable(retry_after=5)
    assert error.retry_after == 5
    assert error.status_code == 503
    assert error.error is None  # an outage is not the client's fault: no invalid_token


def test_configuration_error_is_a_value_error_not_an_auth_error() -> None:
    error = ConfigurationError("JWT_SECRET_KEY is not set")
    assert isinstance(error, ValueError)
    assert not isinstance(error, AuthError)


def test_every_error_is_exported_and_drawn_in_the_tree() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    for cls in classes:
        assert getattr(asgi_jwt, cls.__name__) is cls
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} missing from the docstring tree"
    auth_errors = [cls for cls in classes if issubclass(cls, AuthError)]
    reasons = [cls.reason for cls in auth_errors]
    assert len(reasons) == len(set(reasons)), "each error needs its own log reason"


def test_every_invalid_token_is_a_401_invalid_token() -> None:
    subclasses = [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, InvalidToken)]
    assert len(subclasses) == 15  # InvalidApiKey and ApiKeyExpired among them
    for cls in subclasses:
        assert cls.status_code == 401
        assert cls.error == "invalid_token"


@pytest.mark.parametrize(("cls", "status"), [(row[0], row[2]) for row in TABLE], ids=[row[0].__name__ for row in TABLE])
def test_every_error_is_a_starlette_http_exception(cls: type[AuthError], status: int) -> None:
    """So a framework's default handler answers it with the right status and headers, never a 500."""
    error = cls()
    assert isinstance(error, HTTPException)
    assert (error.status_code, error.detail, str(error)) == (status, error.description, error.description)
    assert error.headers == error_headers(error)
    assert error.headers["Cache-Control"] == "no-store"
    if status == 503:
        assert error.headers["Retry-After"] == "30"
    else:
        assert error.headers["WWW-Authenticate"].startswith('Bearer realm="api"')


async def test_starlette_answers_our_errors_without_our_handlers() -> None:
    async def scoped(request: Request) -> PlainTextResponse:
        raise InsufficientScope("reports:read", "Requires reports:read")

    async def outage(request: Request) -> PlainTextResponse:
        raise KeysUnavailable(retry_after=9)

    app = Starlette(routes=[Route("/scoped", scoped), Route("/outage", outage)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        refused = await client.get("/scoped")
        unavailable = await client.get("/outage")
    assert (refused.status_code, refused.text) == (403, "Requires reports:read")
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", error_description="Requires reports:read", '
        'scope="reports:read"'
    )
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "9")
