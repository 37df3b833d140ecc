"""What a verified token may carry, through the middleware: its kind, its text, its scopes' order.

A signed token from the right issuer can still be the wrong kind (a refresh or an
ID token), or carry a lone surrogate that no JSON encoder can write back out: both
are refused with a 401 before the app runs. Scopes reach the app in issue order.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, MalformedToken, TokenVerifier
from asgi_jwt._text import has_lone_surrogate
from asgi_jwt.claims import ClaimRules
from conftest import AUDIENCE, ISSUER, Clock, TokenFactory, examples
from test_middleware import hs256

reached: list[str] = []


async def echo(request: Request) -> JSONResponse:
    """An app that shows the claims back, as many do (``/me``)."""
    reached.append(request.url.path)
    return JSONResponse({"claims": dict(request.auth.claims), "scopes": list(request.auth.scopes)})


APP = Starlette(routes=[Route("/me", echo)])


async def get(app: Any, token: str) -> httpx.Response:
    reached.clear()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/me", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"typ": "Refresh", "azp": "web"}, "Refresh tokens cannot be used for access"),  # Keycloak refresh token
        ({"typ": "Offline"}, "Refresh tokens cannot be used for access"),  # Keycloak offline token
        ({"typ": "ID", "nonce": "n-0S6_WzA2Mj"}, "ID tokens cannot be used for access"),  # Keycloak ID token
        ({"token_use": "id", "cognito:username": "alice"}, "ID tokens cannot be used for access"),  # Cognito
        ({"type": "refresh"}, "Refresh tokens cannot be used for access"),
    ],
    ids=["keycloak-refresh", "keycloak-offline", "keycloak-id", "cognito-id", "type-refresh"],
)
async def test_tokens_that_are_not_access_tokens_are_refused(
    verifier: TokenVerifier, make_token: TokenFactory, claims: dict[str, Any], description: str
) -> None:
    response = await get(JWTAuthMiddleware(APP, verifier=verifier), make_token(**claims))
    assert response.status_code == 401
    assert response.json() == {"detail": description, "error": "invalid_token"}
    assert f'error_description="{description}"' in response.headers["www-authenticate"]
    assert reached == []


@pytest.mark.parametrize(
    "claims", [{"typ": "Bearer"}, {"token_use": "access"}], ids=["keycloak-access", "cognito-access"]
)
async def test_their_access_tokens_pass(
    verifier: TokenVerifier, make_token: TokenFactory, claims: dict[str, Any]
) -> None:
    response = await get(JWTAuthMiddleware(APP, verifier=verifier), make_token(**claims))
    assert response.status_code == 200
    assert reached == ["/me"]


async def test_a_deployment_can_admit_cognito_id_tokens(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    verifier.rules.accept_token_kinds("id")
    app = JWTAuthMiddleware(APP, verifier=verifier)
    assert (await get(app, make_token(token_use="id"))).status_code == 200
    assert (await get(app, make_token(typ="Refresh"))).status_code == 401


@pytest.mark.parametrize(
    "claims",
    [{"sub": "\ud800"}, {"name": "Mallory \udc00"}, {"groups": ["admins", "\udbff"]}, {"ext": {"\ud800": 1}}],
    ids=["sub", "name", "list", "key"],
)
async def test_a_lone_surrogate_in_the_claims_is_a_malformed_token(
    verifier: TokenVerifier, make_token: TokenFactory, claims: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token(**claims)
    with caplog.at_level(logging.INFO, logger="asgi_jwt"):
        response = await get(JWTAuthMiddleware(APP, verifier=verifier), token)
    assert response.status_code == 401
    assert response.json() == {"detail": "Malformed token", "error": "invalid_token"}
    assert reached == []
    assert all(record.levelno < logging.ERROR for record in caplog.records)


async def test_a_lone_surrogate_in_the_header_is_refused_not_a_500(verifier: TokenVerifier, clock: Clock) -> None:
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60}
    app = JWTAuthMiddleware(APP, verifier=verifier)
    for header in ({"alg": "HS256", "typ": "\udc00"}, {"alg": "\ud800"}, {"alg": "HS256", "crit": ["\ud800"]}):
        response = await get(app, hs256(header, claims))
        assert response.status_code == 401, header
        assert response.json()["error"] == "invalid_token"
        assert reached == []


async def test_a_lone_surrogate_in_the_kid_is_a_malformed_token(verifier: TokenVerifier, clock: Clock) -> None:
    """A single-key resolver ignores ``kid``: the header itself must be refused, as the claims are."""
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60}
    response = await get(JWTAuthMiddleware(APP, verifier=verifier), hs256({"alg": "HS256", "kid": "\ud800"}, claims))
    assert response.status_code == 401
    assert response.json() == {"detail": "Malformed token", "error": "invalid_token"}
    assert reached == []


async def test_properly_paired_characters_pass(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    response = await get(JWTAuthMiddleware(APP, verifier=verifier), make_token(name="Zoë \U0001f600"))
    assert response.status_code == 200
    assert response.json()["claims"]["name"] == "Zoë \U0001f600"


async def test_request_auth_scopes_keep_the_order_of_the_token(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    issued = ["openid", "orders:write", "profile", "orders:read", "admin:reports", "email"]
    app = JWTAuthMiddleware(APP, verifier=verifier)
    token = make_token(scope=" ".join(issued))
    first = await get(app, token)
    again = await get(app, token)  # a cache hit serves the same order
    assert first.json()["scopes"] == issued
    assert again.json()["scopes"] == issued


# Any code point, surrogates included, and strings with a surrogate spliced in (rare in plain st.text).
TEXT = st.text(st.characters(exclude_categories=()), max_size=8) | st.builds(
    "{}{}{}".format,
    st.text(max_size=3),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(max_size=3),
)


@settings(max_examples=examples(150), deadline=None)
@given(
    st.dictionaries(
        TEXT,
        st.recursive(
            TEXT | st.integers() | st.booleans(),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
            max_leaves=12,
        ),
        max_size=6,
    )
)
def test_whatever_text_a_token_carries_the_app_can_encode_what_passes(extra: dict[str, Any]) -> None:
    """Any string, surrogates included: the checks refuse it as malformed, or it encodes as UTF-8 JSON."""
    registered = ("iss", "sub", "jti", "aud", "nbf", "iat", "typ", "type", "token_type", "token_use")
    claims = {name: value for name, value in extra.items() if name not in registered} | {"exp": 2_000_000_000}
    try:
        ClaimRules(clock=lambda: 1_800_000_000).check(claims)
    except MalformedToken:
        assert has_lone_surrogate(claims)
        return
    json.dumps(claims, ensure_ascii=False).encode("utf-8")  # what JSONResponse does: must not raise
