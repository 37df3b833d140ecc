"""RefreshEndpoint and RevocationEndpoint: RFC 6749 §5/§6 and RFC 7009 answers, for any input."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_jwt import (
    ConfigurationError,
    MemoryRevocationStore,
    RefreshEndpoint,
    RevocationEndpoint,
    SecretKey,
    TokenIssuer,
    TokenRevoked,
    TokenVerifier,
)
from conftest import AUDIENCE, ISSUER, Clock

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def store(clock: Clock) -> MemoryRevocationStore:
    return MemoryRevocationStore(clock=clock)


@pytest.fixture
def issuer(secret_key: SecretKey, clock: Clock, store: MemoryRevocationStore) -> TokenIssuer:
    return TokenIssuer(secret_key, issuer=ISSUER, audience=AUDIENCE, revocation=store, clock=clock)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def post(app: Any, **kwargs: Any) -> httpx.Response:
    async with client(app) as http:
        return await http.post("/", **kwargs)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.json()["error"] == error
    assert isinstance(response.json()["error_description"], str)


async def test_a_form_refresh_answers_a_new_pair(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice", scope="orders:read")
    response = await post(
        RefreshEndpoint(issuer), data={"grant_type": "refresh_token", "refresh_token": pair.refresh_token}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "refresh_token", "scope", "token_type"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "orders:read"
    assert body["refresh_token"] != pair.refresh_token


async def test_a_json_refresh_works_too_and_reuse_is_invalid_grant(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice")
    endpoint = RefreshEndpoint(issuer)
    request = {"grant_type": "refresh_token", "refresh_token": pair.refresh_token}
    assert (await post(endpoint, json=request)).status_code == 200
    reused = await post(endpoint, json=request)
    assert_oauth_error(reused, 400, "invalid_grant")
    assert reused.json()["error_description"] == "The refresh token is invalid, expired or revoked"
    assert "www-authenticate" not in reused.headers


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"refresh_token": "x"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "a", "password": "b"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": ""}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "not-a-token"}, 400, "invalid_grant"),
    ],
)
async def test_refresh_requests_are_answered_per_rfc_6749(
    issuer: TokenIssuer, body: dict[str, str], status: int, error: str
) -> None:
    assert_oauth_error(await post(RefreshEndpoint(issuer), data=body), status, error)


@pytest.mark.parametrize(
    "content",
    [
        b"grant_type=refresh_token&grant_type=refresh_token&refresh_token=x",
        b"no-equals-sign",
        b"grant_type=refresh_token&refresh_token=%ff%fe",
        b"\xff\xfe",
    ],
)
async def test_a_malformed_form_is_invalid_request_or_a_bad_grant(issuer: TokenIssuer, content: bytes) -> None:
    response = await post(RefreshEndpoint(issuer), content=content, headers=FORM)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b'"grant_type"',
        b'{"grant_type": "refresh_token", "refresh_token": 5}',
        b'{"grant_type": "refresh_token", "grant_type": "refresh_token", "refresh_token": "x"}',
        b"{",
        b"[" * 10_000,
    ],
)
async def test_a_malformed_json_body_is_invalid_request(issuer: TokenIssuer, content: bytes) -> None:
    response = await post(RefreshEndpoint(issuer), content=content, headers={"Content-Type": "application/json"})
    assert_oauth_error(response, 400, "invalid_request")


async def test_wrong_method_type_and_size(issuer: TokenIssuer) -> None:
    endpoint = RefreshEndpoint(issuer)
    async with client(endpoint) as http:
        wrong_method = await http.get("/")
        wrong_type = await http.post("/", content=b"grant_type=refresh_token", headers={"Content-Type": "text/plain"})
        untyped = await http.post("/", content=b"grant_type=refresh_token")
        too_large = await http.post("/", data={"grant_type": "refresh_token", "refresh_token": "x" * 20_000})
        bad_length = await http.post("/", content=b"a=b", headers={**FORM, "Content-Length": "abc"})

        async def chunks() -> Any:  # no Content-Length: the cap applies while reading
            for _ in range(20):
                yield b"a" * 1000

        streamed = await http.post("/", content=chunks(), headers=FORM)
    assert_oauth_error(wrong_method, 405, "invalid_request")
    assert wrong_method.headers["allow"] == "POST"
    assert_oauth_error(wrong_type, 415, "invalid_request")
    assert_oauth_error(untyped, 415, "invalid_request")
    assert_oauth_error(too_large, 413, "invalid_request")
    assert_oauth_error(bad_length, 400, "invalid_request")
    assert_oauth_error(streamed, 413, "invalid_request")


async def test_a_store_outage_is_a_503_with_retry_after(secret_key: SecretKey, clock: Clock) -> None:
    class DownStore(MemoryRevocationStore):
        async def spend(self, jti: str, *, expires_at: float) -> bool:
            raise ConnectionError("connection refused")

    issuer = TokenIssuer(secret_key, revocation=DownStore(), clock=clock)
    pair = issuer.issue_pair("alice")
    response = await post(
        RefreshEndpoint(issuer), data={"grant_type": "refresh_token", "refresh_token": pair.refresh_token}
    )
    assert_oauth_error(response, 503, "temporarily_unavailable")
    assert response.headers["retry-after"] == "30"


def test_endpoint_misconfiguration_fails_at_construction(secret_key: SecretKey) -> None:
    with pytest.raises(ConfigurationError, match="RefreshEndpoint needs a TokenIssuer with a revocation store"):
        RefreshEndpoint(TokenIssuer(secret_key))
    with pytest.raises(ConfigurationError, match="RefreshEndpoint needs a TokenIssuer"):
        RefreshEndpoint(MemoryRevocationStore())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="RevocationEndpoint needs a TokenIssuer or TokenVerifier"):
        RevocationEndpoint(TokenVerifier(secret_key))
    with pytest.raises(ConfigurationError, match="max_body_size"):
        RevocationEndpoint(TokenIssuer(secret_key, revocation=MemoryRevocationStore()), max_body_size=10)


async def test_revocation_revokes_a_refresh_tokens_family_and_answers_200(
    issuer: TokenIssuer, secret_key: SecretKey, clock: Clock, store: MemoryRevocationStore
) -> None:
    pair = issuer.issue_pair("alice")
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, revocation=store)
    await verifier.verify(pair.access_token)
    response = await post(
        RevocationEndpoint(issuer), data={"token": pair.refresh_token, "token_type_hint": "refresh_token"}
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"
    with pytest.raises(TokenRevoked):
        verifier.cached(pair.access_token)


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 9000, "é"])
async def test_revocation_answers_200_for_tokens_that_are_not_ours(
    issuer: TokenIssuer, store: MemoryRevocationStore, token: str
) -> None:
    response = await post(RevocationEndpoint(issuer), data={"token": token, "token_type_hint": "something-odd"})
    assert response.status_code == 200
    assert len(store) == 0


async def test_revocation_without_a_token_is_invalid_request(issuer: TokenIssuer) -> None:
    assert_oauth_error(
        await post(RevocationEndpoint(issuer), data={"token_type_hint": "access_token"}), 400, "invalid_request"
    )


async def test_revocation_through_a_verifier_revokes_the_access_tokens_it_accepts(
    secret_key: SecretKey, clock: Clock, store: MemoryRevocationStore, issuer: TokenIssuer
) -> None:
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, revocation=store)
    endpoint = RevocationEndpoint(verifier)
    forged = TokenIssuer(SecretKey("another-secret-that-is-long-enough-for-hs256"), issuer=ISSUER).issue("mallory")
    assert (await post(endpoint, data={"token": forged})).status_code == 200
    assert len(store) == 0  # a forged token fills nothing
    token = issuer.issue("alice")
    await verifier.verify(token)
    assert (await post(endpoint, data={"token": token})).status_code == 200
    with pytest.raises(TokenRevoked):
        verifier.cached(token)


async def test_standalone_endpoints_answer_lifespan_and_refuse_websockets(issuer: TokenIssuer) -> None:
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    endpoint = RefreshEndpoint(issuer)
    await endpoint({"type": "lifespan"}, receive, send)
    await endpoint({"type": "websocket", "path": "/", "headers": []}, receive, send)
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
        "websocket.close",
    ]


_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(["grant_type", "refresh_token", "token", "scope", "x"]), _TEXT).map(
        lambda fields: "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)
_CONTENT_TYPES = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "application/json; charset=utf-8", "text/plain", ""]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODIES, content_type=_CONTENT_TYPES, method=st.sampled_from(["POST", "POST", "PUT", "GET"]))
async def test_no_body_is_ever_a_500(issuer: TokenIssuer, body: bytes, content_type: str, method: str) -> None:
    for endpoint in (RefreshEndpoint(issuer), RevocationEndpoint(issuer)):
        async with client(endpoint) as http:
            response = await http.request(method, "/", content=body, headers={"Content-Type": content_type})
        assert response.status_code in (200, 400, 405, 413, 415)
        assert response.headers["cache-control"] == "no-store"
        if response.status_code != 200:
            assert response.json()["error"] in ("invalid_request", "invalid_grant", "unsupported_grant_type")
