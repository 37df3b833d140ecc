"""End to end through the middleware: every row of the answers table, token sources, scope, options.

Requests go through ``httpx.ASGITransport`` (and Starlette's ``TestClient`` where a
thread-backed client matters); each answer is checked for its status, the exact
``WWW-Authenticate`` challenge, ``Cache-Control`` and the JSON body, and for never
echoing the token.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_jwt import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidSignature,
    JWTAuth,
    JWTAuthMiddleware,
    JWTUser,
    KeysUnavailable,
    SecretKey,
    TokenVerifier,
    current_claims,
    error_response,
)
from conftest import AUDIENCE, ISSUER, SECRET, Clock, TokenFactory
from jwks_support import b64

BARE = 'Bearer realm="api"'
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"


def invalid_token(description: str) -> str:
    return f'Bearer realm="api", error="invalid_token", error_description="{description}"'


def invalid_request(description: str) -> str:
    return f'Bearer realm="api", error="invalid_request", error_description="{description}"'


async def whoami(request: Request) -> JSONResponse:
    """What a route sees of the authentication: user, auth and the context variable."""
    auth = request.auth
    claims = current_claims()
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "identity": request.user.identity,
            "display_name": request.user.display_name,
            "scopes": sorted(auth.scopes) if isinstance(auth.scopes, frozenset) else list(auth.scopes),
            "claims": dict(auth.claims),
            "has_token": auth.token is not None,
            "current_claims": None if claims is None else dict(claims),
        }
    )


def inner_app() -> Starlette:
    paths = ["/orders", "/health", "/health/live", "/healthz", "/docs"]
    return Starlette(routes=[Route(path, whoami, methods=["GET", "POST", "OPTIONS"]) for path in paths])


def client_for(app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://testserver")


async def get(app: ASGIApp, path: str = "/orders", **kwargs: Any) -> httpx.Response:
    async with client_for(app) as client:
        return await client.get(path, **kwargs)


def assert_answer(response: httpx.Response, status: int, challenge: str | None, body: Mapping[str, Any]) -> None:
    assert response.status_code == status
    assert response.headers.get("www-authenticate") == challenge
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


def assert_not_echoed(response: httpx.Response, secret: str) -> None:
    assert secret not in response.text
    for name, value in response.headers.items():
        assert secret not in name
        assert secret not in value


@pytest.fixture
def app(verifier: TokenVerifier) -> JWTAuthMiddleware:
    return JWTAuthMiddleware(inner_app(), verifier=verifier, current_claims=True)


# --- the answers table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, id="basic-scheme"),
        pytest.param({"Authorization": "Digest username=alice"}, id="digest-scheme"),
    ],
)
async def test_no_bearer_credentials_get_the_bare_challenge(app: ASGIApp, headers: dict[str, str]) -> None:
    response = await get(app, headers=headers)
    assert_answer(response, 401, BARE, {"detail": "Not authenticated", "error": None})


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "bearer    "])
async def test_bearer_without_a_token_is_an_invalid_request(app: ASGIApp, value: str) -> None:
    response = await get(app, headers={"Authorization": value})
    description = "The Bearer token is empty"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})


async def test_two_authorization_headers_are_an_invalid_request(app: ASGIApp, make_token: TokenFactory) -> None:
    token = make_token()
    response = await get(app, headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])
    description = "Only one Authorization header is allowed"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})
    assert_not_echoed(response, token)


async def test_a_token_in_header_and_cookie_is_an_invalid_request(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, cookie="session")
    token = make_token()
    response = await get(app, headers={"Authorization": f"Bearer {token}", "Cookie": f"session={token}"})
    description = "The token must be sent in one place only"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})
    assert_not_echoed(response, token)


async def test_a_token_in_header_and_query_is_an_invalid_request(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param=True, query_param_http=True)
    token = make_token()
    response = await get(app, params={"access_token": token}, headers={"Authorization": f"Bearer {token}"})
    description = "The token must be sent in one place only"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})


def _bad_tokens(make_token: TokenFactory, clock: Clock) -> dict[str, tuple[str, str]]:
    """Tokens the fixture verifier must refuse, with the description each deserves."""
    now = int(clock.now)
    return {
        "malformed": ("not-a-jwt", "Malformed token"),
        "two-segments": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0", "Malformed token"),
        "oversized": (make_token(padding="x" * 9000), "Token is too large"),
        "badly-signed": (make_token(key=SecretKey(OTHER_SECRET)), "Invalid token signature"),
        "tampered": (make_token()[:-4] + "AAAA", "Invalid token signature"),
        "expired": (make_token(iat=now - 600, exp=now - 120), "Token has expired"),
        "not-yet-valid": (make_token(nbf=now + 600), "Token is not yet valid"),
        "issued-in-the-future": (make_token(iat=now + 600), "Token was issued in the future"),
        "wrong-issuer": (make_token(iss="https://evil.example.com"), "Token issuer is not accepted"),
        "wrong-audience": (make_token(aud="billing-api"), "Token audience is not accepted"),
        "no-exp": (make_token(exp=None), "Token is missing the 'exp' claim"),
        "refresh-type": (make_token(type="refresh"), "Refresh tokens cannot be used for access"),
        "refresh-token-type": (make_token(token_type="Refresh"), "Refresh tokens cannot be used for access"),
        "refresh-typ-header": (make_token(headers={"typ": "refresh+jwt"}), "Token type is not accepted here"),
        "alg-none": ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "Token algorithm is not accepted"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "malformed",
        "two-segments",
        "oversized",
        "badly-signed",
        "tampered",
        "expired",
        "not-yet-valid",
        "issued-in-the-future",
        "wrong-issuer",
        "wrong-audience",
        "no-exp",
        "refresh-type",
        "refresh-token-type",
        "refresh-typ-header",
        "alg-none",
    ],
)
async def test_bad_tokens_are_invalid_token(app: ASGIApp, make_token: TokenFactory, clock: Clock, case: str) -> None:
    token, description = _bad_tokens(make_token, clock)[case]
    response = await get(app, headers={"Authorization": f"Bearer {token}"})
    assert_answer(response, 401, invalid_token(description), {"detail": description, "error": "invalid_token"})
    assert_not_echoed(response, token)


async def test_a_non_ascii_token_is_malformed(app: ASGIApp, make_token: TokenFactory) -> None:
    token = make_token()
    raw = f"Bearer {token[:10]}".encode() + "é".encode() + token[10:].encode()
    response = await get(app, headers={"Authorization": raw})
    assert_answer(
        response, 401, invalid_token("Malformed token"), {"detail": "Malformed token", "error": "invalid_token"}
    )
    assert_not_echoed(response, token[10:])


async def test_an_unknown_kid_is_invalid_token(clock: Clock) -> None:
    verifier = TokenVerifier(SecretKey(SECRET, kid="2024-01"), issuer=ISSUER, audience=AUDIENCE, clock=clock)
    app = JWTAuthMiddleware(inner_app(), verifier=verifier)
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60}
    token = SecretKey(SECRET, kid="2023-12").encode(payload)
    response = await get(app, headers={"Authorization": f"Bearer {token}"})
    description = "Token signing key is not recognised"
    assert_answer(response, 401, invalid_token(description), {"detail": description, "error": "invalid_token"})
    good = SecretKey(SECRET, kid="2024-01").encode(payload)
    assert (await get(app, headers={"Authorization": f"Bearer {good}"})).status_code == 200


async def test_expiry_follows_the_verifier_clock(app: ASGIApp, make_token: TokenFactory, clock: Clock) -> None:
    token = make_token()  # valid for 300 s
    assert (await get(app, headers={"Authorization": f"Bearer {token}"})).status_code == 200
    clock.now += 300 + 31  # past exp and the default 30 s leeway
    response = await get(app, headers={"Authorization": f"Bearer {token}"})
    assert_answer(
        response, 401, invalid_token("Token has expired"), {"detail": "Token has expired", "error": "invalid_token"}
    )


class _RaisingVerifier:
    """A verifier that fails the way a broken key infrastructure (or a policy) would."""

    def __init__(self, error: AuthError) -> None:
        self.error = error
        self.seen: list[str] = []

    async def verify(self, token: str) -> Mapping[str, Any]:
        self.seen.append(token)
        raise self.error


async def test_keys_unavailable_is_a_503_with_retry_after_and_no_challenge() -> None:
    verifier = _RaisingVerifier(KeysUnavailable(retry_after=17))
    app = JWTAuthMiddleware(inner_app(), verifier=verifier)
    response = await get(app, headers={"Authorization": "Bearer a.b.c"})
    body = {"detail": "Authentication keys are temporarily unavailable", "error": None}
    assert_answer(response, 503, None, body)
    assert response.headers["retry-after"] == "17"
    assert verifier.seen == ["a.b.c"]


async def test_a_failing_key_resolver_is_a_503_not_a_401(make_token: TokenFactory, clock: Clock) -> None:
    class BrokenVault:
        async def resolve(self, header: Mapping[str, Any]) -> list[Any]:
            raise ConnectionError("vault.internal:8200 refused the connection")

    app = JWTAuthMiddleware(inner_app(), verifier=TokenVerifier(BrokenVault(), clock=clock))
    token = make_token()
    response = await get(app, headers={"Authorization": f"Bearer {token}"})
    assert_answer(response, 503, None, {"detail": "Authentication keys are temporarily unavailable", "error": None})
    assert response.headers["retry-after"] == "30"
    assert "vault" not in response.text
    assert_not_echoed(response, token)


async def test_insufficient_scope_from_the_verifier_is_a_403_with_the_scope() -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=_RaisingVerifier(InsufficientScope(("orders:read", "orders:write"))))
    response = await get(app, headers={"Authorization": "Bearer a.b.c"})
    challenge = (
        'Bearer realm="api", error="insufficient_scope", error_description="Insufficient permissions", '
        'scope="orders:read orders:write"'
    )
    assert_answer(response, 403, challenge, {"detail": "Insufficient permissions", "error": "insufficient_scope"})


def test_error_response_builds_the_insufficient_scope_answer() -> None:
    response = error_response(InsufficientScope("orders:write", "Writing orders needs orders:write"), realm="shop")
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="shop", error="insufficient_scope", '
        'error_description="Writing orders needs orders:write", scope="orders:write"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.body == b'{"detail":"Writing orders needs orders:write","error":"insufficient_scope"}'


async def test_a_route_raising_insufficient_scope_is_answered_by_the_one_builder(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    async def delete_order(request: Request) -> Response:
        if "orders:delete" not in request.auth.scopes:
            raise InsufficientScope("orders:delete")
        return Response(status_code=204)

    async def on_auth_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthError)
        return error_response(exc)

    inner = Starlette(
        routes=[Route("/orders/1", delete_order, methods=["DELETE"])],
        exception_handlers={AuthError: on_auth_error},
    )
    app = JWTAuthMiddleware(inner, verifier=verifier)
    async with client_for(app) as client:
        denied = await client.delete(
            "/orders/1", headers={"Authorization": f"Bearer {make_token(scope='orders:read')}"}
        )
        allowed = await client.delete(
            "/orders/1", headers={"Authorization": f"Bearer {make_token(scope='orders:read orders:delete')}"}
        )
    challenge = (
        'Bearer realm="api", error="insufficient_scope", error_description="Insufficient permissions", '
        'scope="orders:delete"'
    )
    assert_answer(denied, 403, challenge, {"detail": "Insufficient permissions", "error": "insufficient_scope"})
    assert allowed.status_code == 204


async def test_the_realm_appears_in_every_challenge(verifier: TokenVerifier) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, realm="orders")
    assert (await get(app)).headers["www-authenticate"] == 'Bearer realm="orders"'
    response = await get(app, headers={"Authorization": "Bearer nope"})
    assert response.headers["www-authenticate"] == (
        'Bearer realm="orders", error="invalid_token", error_description="Malformed token"'
    )


@pytest.mark.parametrize("value", ["Bearer \t", "bearer  \t "])
async def test_bearer_with_only_whitespace_is_an_invalid_request(verifier: TokenVerifier, value: str) -> None:
    response = await get(JWTAuthMiddleware(inner_app(), verifier=verifier), headers={"Authorization": value})
    description = "The Bearer token is empty"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})


def hs256(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign by hand: PyJWT drops a ``typ`` of ``None`` instead of writing ``null``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.digest(SECRET.encode(), signing_input.encode(), 'sha256'))}"


async def test_a_null_typ_header_is_refused(verifier: TokenVerifier, clock: Clock) -> None:
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60}
    app = JWTAuthMiddleware(inner_app(), verifier=verifier)
    assert (await get(app, headers={"Authorization": f"Bearer {hs256({'alg': 'HS256'}, claims)}"})).status_code == 200
    token = hs256({"alg": "HS256", "typ": None}, claims)
    response = await get(app, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Token type is not accepted here", "error": "invalid_token"}


# --- token sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_the_scheme_is_case_insensitive(app: ASGIApp, make_token: TokenFactory, scheme: str) -> None:
    response = await get(app, headers={"Authorization": f"{scheme} {make_token()}"})
    assert response.status_code == 200
    assert response.json()["identity"] == "alice"


async def test_the_cookie_source(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, cookie="session")
    token = make_token(sub="bob")
    response = await get(app, headers={"Cookie": f"theme=dark; session={token}"})
    assert response.status_code == 200
    assert response.json()["identity"] == "bob"
    assert (await get(app, headers={"Cookie": "theme=dark"})).status_code == 401
    bad = await get(app, headers={"Cookie": "session=garbage"})
    assert bad.headers["www-authenticate"] == invalid_token("Malformed token")


async def test_the_cookie_is_ignored_unless_enabled(app: ASGIApp, make_token: TokenFactory) -> None:
    response = await get(app, headers={"Cookie": f"session={make_token()}"})
    assert_answer(response, 401, BARE, {"detail": "Not authenticated", "error": None})


async def test_the_query_param_source_answers_no_store(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param=True, query_param_http=True)
    token = make_token(sub="carol")
    response = await get(app, params={"page": "2", "access_token": token})
    assert response.status_code == 200
    assert response.json()["identity"] == "carol"
    assert response.headers["cache-control"] == "no-store"  # the URL carried a credential
    rejected = await get(app, params={"access_token": make_token(exp=1)})
    assert_answer(
        rejected, 401, invalid_token("Token has expired"), {"detail": "Token has expired", "error": "invalid_token"}
    )
    header_only = await get(app, headers={"Authorization": f"Bearer {token}"})
    assert header_only.status_code == 200
    assert "cache-control" not in header_only.headers  # no credential in the URL: the app's caching stands


async def test_a_custom_query_param_name(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param="jwt", query_param_http=True)
    assert (await get(app, params={"jwt": make_token()})).status_code == 200
    assert (await get(app, params={"access_token": make_token()})).status_code == 401


async def test_the_query_param_is_ignored_unless_enabled(app: ASGIApp, make_token: TokenFactory) -> None:
    response = await get(app, params={"access_token": make_token()})
    assert_answer(response, 401, BARE, {"detail": "Not authenticated", "error": None})


async def test_a_repeated_query_param_is_an_invalid_request(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param=True, query_param_http=True)
    token = make_token()
    response = await get(app, params=[("access_token", token), ("access_token", token)])
    description = "Only one access token query parameter is allowed"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})
    assert_not_echoed(response, token)


async def test_an_empty_query_param_is_an_invalid_request(verifier: TokenVerifier) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param=True, query_param_http=True)
    response = await get(app, "/orders?access_token=&page=2")
    description = "The access token query parameter is empty"
    assert_answer(response, 400, invalid_request(description), {"detail": description, "error": "invalid_request"})


async def test_a_look_alike_query_param_is_not_a_token(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param=True, query_param_http=True)
    response = await get(app, params={"my_access_token": make_token()})
    assert_answer(response, 401, BARE, {"detail": "Not authenticated", "error": None})


# --- what the app sees -----------------------------------------------------------------------------


async def test_the_scope_carries_claims_scopes_token_and_user(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["auth"], seen["user"] = scope["auth"], scope["user"]
        await JSONResponse({"ok": True})(scope, receive, send)

    token = make_token(scope="orders:read orders:write", name="Alice Example")
    response = await get(JWTAuthMiddleware(app, verifier=verifier), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    auth, user = seen["auth"], seen["user"]
    assert isinstance(auth, JWTAuth)
    assert auth.token == token
    assert auth.claims["sub"] == "alice"
    assert auth.claims["scope"] == "orders:read orders:write"
    assert "orders:read" in auth.scopes
    assert "orders:write" in auth.scopes
    assert "orders:delete" not in auth.scopes
    assert isinstance(user, JWTUser)
    assert user.is_authenticated
    assert user.identity == "alice"
    assert user.display_name == "Alice Example"
    assert token not in repr(auth)


async def test_the_route_sees_user_auth_and_current_claims(app: ASGIApp, make_token: TokenFactory) -> None:
    response = await get(app, headers={"Authorization": f"Bearer {make_token(scp=['orders:read'])}"})
    body = response.json()
    assert body["authenticated"] is True
    assert body["identity"] == "alice"
    assert body["display_name"] == "alice"  # no name claim: the identity
    assert body["scopes"] == ["orders:read"]
    assert body["has_token"] is True
    assert body["claims"]["iss"] == ISSUER
    assert body["current_claims"] == body["claims"]
    assert current_claims() is None  # reset once the request is over


async def test_identity_claim_user_id(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, identity_claim="user_id")
    response = await get(app, headers={"Authorization": f"Bearer {make_token(sub=None, user_id=42)}"})
    assert response.status_code == 200
    assert response.json()["identity"] == "42"
    assert response.json()["display_name"] == "42"


@pytest.mark.parametrize(
    ("identity_claim", "claims", "description"),
    [
        ("sub", {"sub": None}, "Token is missing the 'sub' claim"),
        ("user_id", {"user_id": None}, "Token is missing the 'user_id' claim"),
        ("sub", {"sub": ""}, "Token has an invalid 'sub' claim"),
        ("user_id", {"user_id": ["1"]}, "Token has an invalid 'user_id' claim"),
        ("user_id", {"user_id": True}, "Token has an invalid 'user_id' claim"),
    ],
)
async def test_a_token_that_identifies_nobody_is_refused(
    verifier: TokenVerifier, make_token: TokenFactory, identity_claim: str, claims: dict[str, Any], description: str
) -> None:
    """A verified token without the identity claim is a 401, not a user with an empty identity."""
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, identity_claim=identity_claim)
    token = make_token(**claims)
    for _ in range(2):  # the second time from the verified-token cache: refused all the same
        response = await get(app, headers={"Authorization": f"Bearer {token}"})
        assert_answer(response, 401, invalid_token(description), {"detail": description, "error": "invalid_token"})


async def test_optional_mode_lets_anonymous_requests_through(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, optional=True)
    anonymous = await get(app)
    assert anonymous.status_code == 200
    assert anonymous.json() == {
        "authenticated": False,
        "identity": "",
        "display_name": "",
        "scopes": [],
        "claims": {},
        "has_token": False,
        "current_claims": None,
    }
    signed_in = await get(app, headers={"Authorization": f"Bearer {make_token()}"})
    assert signed_in.json()["authenticated"] is True
    basic = await get(app, headers={"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"})
    assert basic.json()["authenticated"] is False


async def test_optional_mode_still_rejects_a_bad_token(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, optional=True)
    response = await get(app, headers={"Authorization": f"Bearer {make_token(exp=1)}"})
    assert_answer(
        response, 401, invalid_token("Token has expired"), {"detail": "Token has expired", "error": "invalid_token"}
    )
    empty = await get(app, headers={"Authorization": "Bearer"})
    assert empty.status_code == 400


async def test_anonymous_claims_are_read_only(verifier: TokenVerifier) -> None:
    """The anonymous ``scope["auth"]`` is shared by every request: nothing may write into it."""
    errors: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            scope["auth"].claims["sub"] = "mallory"
        except TypeError as exc:
            errors.append(type(exc).__name__)
        await JSONResponse(dict(scope["auth"].claims))(scope, receive, send)

    middleware = JWTAuthMiddleware(app, verifier=verifier, optional=True)
    assert (await get(middleware)).json() == {}
    assert (await get(middleware)).json() == {}
    assert errors == ["TypeError", "TypeError"]


async def test_scopes_are_read_from_the_claims_when_asked_and_stay_read_only(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    """``scope["auth"].scopes`` is parsed on first read (in issue order), kept, and cannot be replaced."""
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        auth = scope["auth"]
        first, second = auth.scopes, auth.scopes
        for write in (lambda: setattr(auth, "scopes", ["admin"]), lambda: delattr(auth, "scopes")):
            try:
                write()
            except AttributeError as exc:
                seen.append(str(exc))
        try:
            auth.no_such_attribute  # noqa: B018
        except AttributeError as exc:
            seen.append(str(exc))
        seen.append(first is second)
        await JSONResponse({"scopes": list(auth.scopes), "admin": "admin" in auth.scopes})(scope, receive, send)

    middleware = JWTAuthMiddleware(app, verifier=verifier)
    token = make_token(scope="orders:write openid orders:write")
    for _ in range(2):  # verified, then from the cache: the same answer
        response = await get(middleware, headers={"Authorization": f"Bearer {token}"})
        assert response.json() == {"scopes": ["orders:write", "openid"], "admin": False}
    read_only = "JWTAuth is read-only: the middleware shares it between requests (and users)"
    missing = "'JWTAuth' object has no attribute 'no_such_attribute'"
    assert seen == [read_only, read_only, missing, True] * 2


async def test_excluding_the_root_excludes_only_the_root(verifier: TokenVerifier) -> None:
    app = JWTAuthMiddleware(Starlette(routes=[Route("/{rest:path}", whoami)]), verifier=verifier, exclude_paths=["/"])
    assert (await get(app, "/")).status_code == 200
    assert (await get(app, "/orders")).status_code == 401


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("/health", True),
        ("/health/", True),
        ("/health/live", True),
        ("/docs", True),
        ("/healthz", False),
        ("/orders", False),
        ("/", False),
    ],
)
async def test_excluded_paths_match_by_segment(verifier: TokenVerifier, path: str, excluded: bool) -> None:
    inner = Starlette(routes=[Route("/{rest:path}", whoami)])
    app = JWTAuthMiddleware(inner, verifier=verifier, exclude_paths=["/health", "/docs/"])
    response = await get(app, path)
    if excluded:
        assert response.status_code == 200
        assert response.json()["authenticated"] is False
        assert response.json()["scopes"] == []
    else:
        assert_answer(response, 401, BARE, {"detail": "Not authenticated", "error": None})


async def test_a_token_on_an_excluded_path_is_not_checked(verifier: TokenVerifier) -> None:
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, exclude_paths=["/health"])
    response = await get(app, "/health", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200
    assert response.json()["authenticated"] is False


@pytest.mark.parametrize(("path", "status"), [("/api/health", 200), ("/api/health/live", 200), ("/api/healthz", 401)])
async def test_excluded_paths_ignore_the_root_path(verifier: TokenVerifier, path: str, status: int) -> None:
    app = JWTAuthMiddleware(
        Starlette(routes=[Route("/{rest:path}", whoami)]), verifier=verifier, exclude_paths=["/health"]
    )
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(path)
    assert response.status_code == status


# --- CORS, lifespan, other scope types --------------------------------------------------------------


PREFLIGHT = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}


@pytest.fixture
def cors_app(verifier: TokenVerifier) -> ASGIApp:
    """The usual order: CORS outside, so it answers preflights and adds its headers to our refusals too."""
    protected = JWTAuthMiddleware(inner_app(), verifier=verifier)
    return CORSMiddleware(protected, allow_origins=["https://shop.example"], allow_methods=["GET", "POST"])


async def test_cors_outside_answers_preflights_and_real_requests_are_authenticated(
    cors_app: ASGIApp, make_token: TokenFactory
) -> None:
    async with client_for(cors_app) as client:
        preflight = await client.options("/orders", headers=PREFLIGHT)
        anonymous = await client.post("/orders", headers={"Origin": "https://shop.example"})
        signed_in = await client.post(
            "/orders", headers={"Origin": "https://shop.example", "Authorization": f"Bearer {make_token(sub='ann')}"}
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "www-authenticate" not in preflight.headers
    assert_answer(anonymous, 401, BARE, {"detail": "Not authenticated", "error": None})
    assert anonymous.headers["access-control-allow-origin"] == "https://shop.example"  # the browser can read it
    assert (signed_in.status_code, signed_in.json()["identity"]) == (200, "ann")


async def test_a_preflight_never_runs_an_endpoint_anonymously(verifier: TokenVerifier) -> None:
    """Apps that answer OPTIONS themselves (HTTPEndpoint.options, raw ASGI apps) once ran here unauthenticated."""
    ran: list[str] = []

    class Orders(HTTPEndpoint):
        async def options(self, request: Request) -> Response:
            ran.append(request.method)
            return Response("all the orders", headers={"Allow": "GET, POST, OPTIONS"})

    app = JWTAuthMiddleware(Starlette(routes=[Route("/orders", Orders)]), verifier=verifier)
    async with client_for(app) as client:
        response = await client.options("/orders", headers=PREFLIGHT)
    assert_answer(response, 401, BARE, {"detail": "Not authenticated", "error": None})
    assert ran == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "https://shop.example"}, {"Access-Control-Request-Method": "POST"}],
    ids=["plain", "origin-only", "method-only"],
)
async def test_other_options_requests_are_authenticated(verifier: TokenVerifier, headers: dict[str, str]) -> None:
    async with client_for(JWTAuthMiddleware(inner_app(), verifier=verifier)) as client:
        response = await client.options("/orders", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE


async def test_lifespan_messages_pass_through(verifier: TokenVerifier) -> None:
    received: list[Message] = []
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    inbound: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbound.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await JWTAuthMiddleware(app, verifier=verifier)(scope, receive, send)
    assert received == [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert scopes[0]["type"] == "lifespan"
    assert "auth" not in scopes[0]
    assert "user" not in scopes[0]


async def test_unknown_scope_types_pass_through(verifier: TokenVerifier) -> None:
    calls: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope)
        await send({"type": "custom.done"})

    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("not called")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "webtransport", "path": "/orders", "headers": []}
    await JWTAuthMiddleware(app, verifier=verifier)(scope, receive, send)
    assert calls == [{"type": "webtransport", "path": "/orders", "headers": []}]
    assert sent == [{"type": "custom.done"}]


async def test_the_app_is_not_called_on_rejection(verifier: TokenVerifier) -> None:
    calls: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope)

    response = await get(JWTAuthMiddleware(app, verifier=verifier))
    assert response.status_code == 401
    assert calls == []


@pytest.mark.parametrize("optional", [False, True])
async def test_an_auth_error_raised_by_the_app_is_not_answered_twice(
    verifier: TokenVerifier, make_token: TokenFactory, optional: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise InsufficientScope("orders:write")

    headers = {} if optional else {"Authorization": f"Bearer {make_token()}"}
    with pytest.raises(InsufficientScope):
        await get(JWTAuthMiddleware(app, verifier=verifier, optional=optional), headers=headers)


# --- on_error ------------------------------------------------------------------------------------


async def test_on_error_replaces_the_answer(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    calls: list[tuple[HTTPConnection, AuthError]] = []

    def jsonrpc_error(conn: HTTPConnection, error: AuthError) -> Response:
        calls.append((conn, error))
        return JSONResponse(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": error.description}},
            status_code=error.status_code,
            headers={"WWW-Authenticate": 'Bearer realm="mcp"'},
        )

    app = JWTAuthMiddleware(inner_app(), verifier=verifier, on_error=jsonrpc_error)
    token = make_token(key=SecretKey(OTHER_SECRET))
    async with client_for(app) as client:
        response = await client.post("/orders", headers={"Authorization": f"Bearer {token}"}, json={"jsonrpc": "2.0"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="mcp"'
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32001, "message": "Invalid token signature"},
    }
    assert_not_echoed(response, token)
    [(conn, error)] = calls
    assert isinstance(conn, HTTPConnection)
    assert conn.url.path == "/orders"
    assert isinstance(error, InvalidSignature)
    assert error.error == "invalid_token"


async def test_on_error_sees_insufficient_scope_and_keys_unavailable() -> None:
    def plain_text(conn: HTTPConnection, error: AuthError) -> Response:
        return Response(f"{type(error).__name__} {error.status_code}", status_code=error.status_code)

    forbidden = JWTAuthMiddleware(
        inner_app(), verifier=_RaisingVerifier(InsufficientScope("orders:read")), on_error=plain_text
    )
    response = await get(forbidden, headers={"Authorization": "Bearer a.b.c"})
    assert (response.status_code, response.text) == (403, "InsufficientScope 403")
    outage = JWTAuthMiddleware(inner_app(), verifier=_RaisingVerifier(KeysUnavailable()), on_error=plain_text)
    response = await get(outage, headers={"Authorization": "Bearer a.b.c"})
    assert (response.status_code, response.text) == (503, "KeysUnavailable 503")


@pytest.mark.parametrize("cache_control", [None, "public, max-age=600"], ids=["none", "cacheable"])
async def test_on_error_answers_are_never_cached_when_a_query_param_is_configured(
    verifier: TokenVerifier, make_token: TokenFactory, cache_control: str | None
) -> None:
    def custom(conn: HTTPConnection, error: AuthError) -> Response:
        headers = {} if cache_control is None else {"Cache-Control": cache_control}
        return Response(f"custom {error.reason}", status_code=error.status_code, headers=headers)

    forged = make_token(key=SecretKey(OTHER_SECRET))
    app = JWTAuthMiddleware(inner_app(), verifier=verifier, query_param=True, query_param_http=True, on_error=custom)
    for request in ({"params": {"access_token": forged}}, {"headers": {"Authorization": f"Bearer {forged}"}}):
        response = await get(app, **request)
        assert (response.status_code, response.text) == (401, "custom invalid_signature")
        assert response.headers.get_list("cache-control") == ["no-store"]  # RFC 6750 §2.3, whoever built it
    without = JWTAuthMiddleware(inner_app(), verifier=verifier, on_error=custom)
    response = await get(without, headers={"Authorization": f"Bearer {forged}"})
    assert response.headers.get("cache-control") == cache_control  # no URL tokens: the answer is the app's own


async def test_on_error_is_asked_for_every_refusal(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    errors: list[str] = []

    def custom(conn: HTTPConnection, error: AuthError) -> Response:
        errors.append(error.reason)
        return Response(f"custom {error.reason}", status_code=error.status_code)

    app = JWTAuthMiddleware(inner_app(), verifier=verifier, on_error=custom)
    forged = make_token(key=SecretKey(OTHER_SECRET))
    for _ in range(2):  # the standard answers are replayed; a custom one is built each time
        response = await get(app, headers={"Authorization": f"Bearer {forged}"})
        assert (response.status_code, response.text) == (401, "custom invalid_signature")
    assert errors == ["invalid_signature", "invalid_signature"]


def test_on_error_must_be_callable(verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match="on_error must be a function"):
        JWTAuthMiddleware(inner_app(), verifier=verifier, on_error="json")  # type: ignore[arg-type]


# --- logging -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason", "status"),
    [
        ({}, "missing_token", 401),
        ({"Authorization": "Bearer"}, "invalid_request", 400),
        ({"Authorization": "Bearer {expired}"}, "token_expired", 401),
        ({"Authorization": "Bearer {forged}"}, "invalid_signature", 401),
    ],
)
async def test_one_info_line_per_rejection(
    verifier: TokenVerifier,
    make_token: TokenFactory,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    reason: str,
    status: int,
) -> None:
    expired, forged = make_token(exp=1), make_token(key=SecretKey(OTHER_SECRET))
    headers = {name: value.format(expired=expired, forged=forged) for name, value in headers.items()}
    app = JWTAuthMiddleware(inner_app(), verifier=verifier)
    caplog.set_level(logging.INFO, logger="asgi_jwt")
    async with client_for(app, client=("203.0.113.7", 40123)) as client:
        response = await client.get("/orders", headers=headers)
    assert response.status_code == status
    records = [record for record in caplog.records if record.name == "asgi_jwt"]
    assert len(records) == 1
    [record] = records
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert reason in message
    assert "203.0.113.7" in message
    assert str(status) in message
    for token in (expired, forged):
        assert token not in message
        assert token.split(".")[1] not in message  # not even the payload


async def test_accepted_requests_are_not_logged(
    app: ASGIApp, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asgi_jwt")
    assert (await get(app, headers={"Authorization": f"Bearer {make_token()}"})).status_code == 200
    assert [record for record in caplog.records if record.name == "asgi_jwt"] == []


async def test_a_request_path_cannot_forge_log_lines(verifier: TokenVerifier, caplog: pytest.LogCaptureFixture) -> None:
    scope_path = "/x\nINFO asgi_jwt accepted GET /admin"

    async def receive() -> Mapping[str, Any]:
        return {"type": "http.request", "body": b""}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": scope_path, "headers": [], "query_string": b""}
    with caplog.at_level(logging.INFO, logger="asgi_jwt"):
        await JWTAuthMiddleware(inner_app(), verifier=verifier)(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 401
    (line,) = [record.getMessage() for record in caplog.records if record.name == "asgi_jwt"]
    assert "\n" not in line
    assert "/x\\nINFO asgi_jwt accepted GET /admin" in line


# --- Starlette's TestClient ----------------------------------------------------------------------


def test_through_starlettes_test_client(app: ASGIApp, make_token: TokenFactory) -> None:
    with TestClient(app) as client:
        anonymous = client.get("/orders")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == BARE
        assert anonymous.json() == {"detail": "Not authenticated", "error": None}
        response = client.get("/orders", headers={"Authorization": f"Bearer {make_token(sub='dave')}"})
        assert response.status_code == 200
        assert response.json()["identity"] == "dave"
        assert response.json()["current_claims"]["sub"] == "dave"


# --- misconfiguration ----------------------------------------------------------------------------


def _noop_app() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    return app


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"verifier": object()}, "verifier must have an async verify"),
        ({"verifier": "secret"}, "verifier must have an async verify"),
        ({"realm": 'api", error="x'}, "realm must be"),
        ({"realm": ""}, "realm must be"),
        ({"realm": "caf\u00e9"}, "realm must be"),
        ({"exclude_paths": "/health"}, "not one string"),
        ({"exclude_paths": ["health"]}, "must start with '/'"),
        ({"exclude_paths": ["/docs", ""]}, "must start with '/'"),
        ({"identity_claim": ""}, "identity_claim must be"),
        ({"cookie": ""}, "cookie must be"),
        ({"query_param": ""}, "query_param must be"),
        ({"current_claims": "yes"}, "current_claims must be True or False"),
    ],
)
def test_misconfiguration_fails_at_construction(verifier: TokenVerifier, options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"verifier": verifier, **options}
    with pytest.raises(ConfigurationError, match=message):
        JWTAuthMiddleware(_noop_app(), **arguments)


async def test_current_claims_is_opt_in_and_says_so_once(
    verifier: TokenVerifier, make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without ``current_claims=True`` no request sets the variable, and the first read logs why it is None."""
    from asgi_jwt import identity

    monkeypatch.setattr(identity, "_publishing", False)
    monkeypatch.setattr(identity, "_warned", False)
    app = JWTAuthMiddleware(inner_app(), verifier=verifier)
    headers = {"Authorization": f"Bearer {make_token()}"}
    with caplog.at_level(logging.WARNING, logger="asgi_jwt"):
        first, second = await get(app, headers=headers), await get(app, headers=headers)
    assert first.json()["identity"] == second.json()["identity"] == "alice"
    assert first.json()["current_claims"] is None
    assert second.json()["current_claims"] is None
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == ["current_claims() is always None: no JWTAuthMiddleware was created with current_claims=True"]
    published = await get(JWTAuthMiddleware(inner_app(), verifier=verifier, current_claims=True), headers=headers)
    assert published.json()["current_claims"]["sub"] == "alice"
