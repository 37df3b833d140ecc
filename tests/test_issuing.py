"""TokenIssuer: what it mints, how refresh rotates and detects reuse, and how tokens are taken back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from asgi_jwt import (
    ConfigurationError,
    InvalidGrant,
    JWTAuthMiddleware,
    KeyPair,
    MemoryRevocationStore,
    RevocationUnavailable,
    RotatingKeys,
    SecretKey,
    TokenIssuer,
    TokenResponse,
    TokenRevoked,
    TokenVerifier,
    UnknownKey,
    WrongTokenType,
)
from asgi_jwt.revocation import FAMILY_CLAIM
from conftest import AUDIENCE, ISSUER, SECRET, Clock

REVOKED_BODY = {"detail": "Token has been revoked", "error": "invalid_token"}


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def store(clock: Clock) -> MemoryRevocationStore:
    return MemoryRevocationStore(clock=clock)


@pytest.fixture
def issuer(secret_key: SecretKey, clock: Clock, store: MemoryRevocationStore) -> TokenIssuer:
    return TokenIssuer(secret_key, issuer=ISSUER, audience=AUDIENCE, revocation=store, clock=clock)


@pytest.fixture
def guarded(secret_key: SecretKey, clock: Clock, store: MemoryRevocationStore) -> TokenVerifier:
    """The verifier of the services the issued tokens are for, sharing the issuer's store."""
    return TokenVerifier(
        secret_key, issuer=ISSUER, audience=AUDIENCE, require_at_jwt=True, clock=clock, revocation=store
    )


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def get(app: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        return await client.get("/", headers={"Authorization": f"Bearer {token}"})


async def test_an_access_token_carries_the_registered_claims_and_the_at_jwt_type(
    issuer: TokenIssuer, guarded: TokenVerifier, clock: Clock
) -> None:
    clock.now = 1_800_000_000.75
    token = issuer.issue("alice", scope="orders:read orders:write", roles=["admin"], permissions=["reports:read"])
    header, claims = unverified(token)
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    assert {name: claims[name] for name in ("sub", "iss", "aud", "iat", "exp")} == {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": 1_800_000_000,
        "exp": 1_800_000_900,
    }
    assert claims["scope"] == "orders:read orders:write"
    assert claims["roles"] == ["admin"]
    assert claims["permissions"] == ["reports:read"]
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) >= 16  # at least 128 random bits
    assert FAMILY_CLAIM not in claims
    verified = await guarded.verify(token)
    assert verified.scopes == {"orders:read", "orders:write"}


def test_every_token_has_its_own_jti(issuer: TokenIssuer) -> None:
    jtis = {unverified(issuer.issue("alice"))[1]["jti"] for _ in range(200)}
    assert len(jtis) == 200


async def test_custom_claims_ttl_and_audience_per_token(issuer: TokenIssuer, clock: Clock) -> None:
    token = issuer.issue("alice", claims={"tenant": "acme", "email": "a@example.com"}, ttl=60, audience=["a", "b"])
    claims = unverified(token)[1]
    assert claims["tenant"] == "acme"
    assert claims["email"] == "a@example.com"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["aud"] == ["a", "b"]
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience="b", clock=clock)
    assert (await verifier.verify(token))["tenant"] == "acme"


@pytest.mark.parametrize("name", ["exp", "iss", "jti", "sub", "aud", "iat", "nbf", FAMILY_CLAIM, "type", "scope"])
def test_a_custom_claim_may_not_override_a_registered_one(issuer: TokenIssuer, name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"claims may not set '{name}'"):
        issuer.issue("alice", claims={name: "x"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scope": ["orders read"]}, "scope must be non-empty strings without spaces"),
        ({"roles": "admin"}, "roles must be a list of strings, not one string"),
        ({"ttl": 0}, "ttl must be a positive number"),
        ({"audience": []}, "audience must be a non-empty string"),
    ],
)
def test_bad_arguments_to_issue_are_refused(issuer: TokenIssuer, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        issuer.issue("alice", **options)
    with pytest.raises(ConfigurationError, match="subject must be a non-empty string"):
        issuer.issue("")


def test_a_public_key_cannot_issue() -> None:
    pair = KeyPair.generate("ES256")
    with pytest.raises(ConfigurationError, match="a PublicKey can only verify"):
        TokenIssuer(pair.public_key)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="a PublicKey can only verify"):
        TokenIssuer(RotatingKeys(pair.public_key, KeyPair.generate("ES256")))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"access_ttl": -1}, "access_ttl must be a positive number"),
        ({"refresh_ttl": timedelta(0)}, "refresh_ttl must be a positive number"),
        ({"issuer": ""}, "issuer must be a non-empty string"),
        ({"revocation": object()}, "revocation must be a RevocationStore"),
    ],
)
def test_issuer_misconfiguration_fails_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TokenIssuer(SecretKey(SECRET), **options)


async def test_rotating_keys_sign_with_the_current_key_and_its_kid(clock: Clock) -> None:
    current, previous = KeyPair.generate("ES256", kid="2026-12"), KeyPair.generate("ES256", kid="2026-06")
    issuer = TokenIssuer(RotatingKeys(current, previous), issuer=ISSUER, clock=clock)
    token = issuer.issue("alice")
    assert unverified(token)[0] == {"alg": "ES256", "typ": "at+jwt", "kid": "2026-12"}
    assert (await TokenVerifier(current.public_key, issuer=ISSUER, clock=clock).verify(token))["sub"] == "alice"
    with pytest.raises(UnknownKey):
        await TokenVerifier(previous.public_key, issuer=ISSUER, clock=clock).verify(token)


async def test_a_pair_is_an_oauth_token_response_and_its_refresh_token_is_no_access_token(
    issuer: TokenIssuer, guarded: TokenVerifier
) -> None:
    pair = issuer.issue_pair("alice", scope=["orders:read"])
    assert isinstance(pair, TokenResponse)
    assert json.loads(json.dumps(pair)) == {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_token": pair.refresh_token,
        "scope": "orders:read",
    }
    assert pair.scope == "orders:read"
    assert pair.expires_in == 900
    access, refresh = unverified(pair.access_token)[1], unverified(pair.refresh_token or "")
    assert refresh[0]["typ"] == "rt+jwt"
    assert refresh[1]["type"] == "refresh"
    assert "aud" not in refresh[1]  # no service takes it for one of its own tokens
    assert access[FAMILY_CLAIM] == refresh[1][FAMILY_CLAIM]
    await guarded.verify(pair.access_token)
    with pytest.raises(WrongTokenType):
        await guarded.verify(pair.refresh_token or "")
    lenient = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, clock=guarded.rules.clock)
    with pytest.raises(WrongTokenType):
        await lenient.verify(pair.refresh_token or "")


async def test_refresh_needs_a_store(secret_key: SecretKey) -> None:
    issuer = TokenIssuer(secret_key)
    pair = issuer.issue_pair("alice")
    with pytest.raises(ConfigurationError, match=r"TokenIssuer.refresh\(\) needs a revocation store"):
        await issuer.refresh(pair.refresh_token or "")


async def test_refresh_rotates_within_the_family_and_keeps_the_grant(
    issuer: TokenIssuer, guarded: TokenVerifier, clock: Clock
) -> None:
    first = issuer.issue_pair("alice", scope="orders:read", roles=["clerk"], claims={"tenant": "acme"}, ttl=300)
    clock.now += 200
    second = await issuer.refresh(first.refresh_token or "")
    assert second.refresh_token != first.refresh_token
    assert second.expires_in == 300
    old, new = unverified(first.access_token)[1], (await guarded.verify(second.access_token))
    assert new[FAMILY_CLAIM] == old[FAMILY_CLAIM]
    assert new["jti"] != old["jti"]
    assert {name: new[name] for name in ("sub", "scope", "roles", "tenant", "aud")} == {
        "sub": "alice",
        "scope": "orders:read",
        "roles": ["clerk"],
        "tenant": "acme",
        "aud": AUDIENCE,
    }
    assert new["exp"] == int(clock.now) + 300
    third = await issuer.refresh(second.refresh_token or "")  # the new refresh token works once in its turn
    await guarded.verify(third.access_token)


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    issuer: TokenIssuer, guarded: TokenVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    stolen = issuer.issue_pair("alice")
    rotated = await issuer.refresh(stolen.refresh_token or "")
    other_login = issuer.issue_pair("alice")
    app = JWTAuthMiddleware(ok, verifier=guarded)
    assert (await get(app, rotated.access_token)).status_code == 200  # cached from here on
    with pytest.raises(InvalidGrant) as refused:
        await issuer.refresh(stolen.refresh_token or "")
    assert refused.value.status_code == 400
    assert refused.value.error == "invalid_grant"
    assert "refresh token reused: its family" in caplog.text
    for token in (rotated.access_token, stolen.access_token):
        answer = await get(app, token)
        assert answer.status_code == 401
        assert answer.json() == REVOKED_BODY
    with pytest.raises(InvalidGrant):
        await issuer.refresh(rotated.refresh_token or "")  # the legitimate holder must log in again too
    assert (await get(app, other_login.access_token)).status_code == 200


async def test_of_two_concurrent_refreshes_exactly_one_wins(issuer: TokenIssuer) -> None:
    pair = issuer.issue_pair("alice")
    results = await asyncio.gather(
        *(issuer.refresh(pair.refresh_token or "") for _ in range(2)), return_exceptions=True
    )
    assert sorted(type(result).__name__ for result in results) == ["InvalidGrant", "TokenResponse"]


async def test_expired_forged_and_access_tokens_are_invalid_grants(issuer: TokenIssuer, clock: Clock) -> None:
    pair = issuer.issue_pair("alice")
    forger = TokenIssuer(SecretKey("another-secret-that-is-long-enough-for-hs256"), issuer=ISSUER, clock=clock)
    foreign = TokenIssuer(SecretKey(SECRET), issuer="https://elsewhere.example.com", clock=clock)
    refused = [
        pair.access_token,
        forger.issue_pair("alice").refresh_token,
        foreign.issue_pair("alice").refresh_token,
        "not.a.token",
        "",
        "é" * 40,
        "x" * 10_000,
    ]
    for token in refused:
        with pytest.raises(InvalidGrant):
            await issuer.refresh(token or "")
    clock.now += timedelta(days=14).total_seconds() + 31  # past the refresh token's exp and the leeway
    with pytest.raises(InvalidGrant):
        await issuer.refresh(pair.refresh_token or "")


async def test_a_refresh_token_of_a_logged_out_subject_is_refused(issuer: TokenIssuer, clock: Clock) -> None:
    pair = issuer.issue_pair("alice")
    clock.now += 5
    await issuer.revoke_subject("alice")
    with pytest.raises(InvalidGrant):
        await issuer.refresh(pair.refresh_token or "")
    clock.now += 1  # issue times are whole seconds: a login in the next one is fine
    await issuer.refresh(issuer.issue_pair("alice").refresh_token or "")


async def test_revoking_a_refresh_token_logs_its_family_out(
    issuer: TokenIssuer, guarded: TokenVerifier, clock: Clock
) -> None:
    pair = issuer.issue_pair("alice")
    app = JWTAuthMiddleware(ok, verifier=guarded)
    assert (await get(app, pair.access_token)).status_code == 200
    assert await issuer.revoke(pair.refresh_token or "") is True
    assert (await get(app, pair.access_token)).json() == REVOKED_BODY
    with pytest.raises(InvalidGrant):
        await issuer.refresh(pair.refresh_token or "")


async def test_revoking_an_access_token(issuer: TokenIssuer, guarded: TokenVerifier) -> None:
    alone, paired = issuer.issue("alice"), issuer.issue_pair("alice")
    for token in (alone, paired.access_token):
        await guarded.verify(token)
        assert await issuer.revoke(token) is True
        assert guarded.cache is not None
        with pytest.raises(TokenRevoked):
            guarded.cached(token)
    with pytest.raises(InvalidGrant):  # an access token from a pair takes its family with it
        await issuer.refresh(paired.refresh_token or "")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 5])
async def test_revoking_something_that_is_not_our_token_does_nothing(
    issuer: TokenIssuer, store: MemoryRevocationStore, token: Any
) -> None:
    assert await issuer.revoke(token) is False
    assert len(store) == 0


async def test_a_failing_store_during_refresh_is_an_outage(secret_key: SecretKey, clock: Clock) -> None:
    class DownStore(MemoryRevocationStore):
        async def spend(self, jti: str, *, expires_at: float) -> bool:
            raise ConnectionError("connection refused")

    issuer = TokenIssuer(secret_key, revocation=DownStore(), clock=clock)
    with pytest.raises(RevocationUnavailable):
        await issuer.refresh(issuer.issue_pair("alice").refresh_token or "")


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "none", "RS256", "ES256"]) | _JSON_VALUES,
        "typ": st.sampled_from(["at+jwt", "rt+jwt", "JWT"]) | _JSON_VALUES,
        "kid": _JSON_VALUES,
        "crit": _JSON_VALUES,
    },
)
_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        name: _JSON_VALUES | st.just(value)
        for name, value in {
            "sub": "alice",
            "jti": "j",
            "iat": 1_800_000_000,
            "exp": 1_800_000_900,
            "iss": ISSUER,
            "type": "refresh",
            FAMILY_CLAIM: "f",
            "grant": {"claims": {}, "ttl": 900, "aud": None},
        }.items()
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_HEADERS, payload=_PAYLOADS, signature=st.binary(max_size=64), sign=st.booleans())
async def test_any_token_shape_is_an_invalid_grant_or_nothing_revoked(
    issuer: TokenIssuer, clock: Clock, header: dict[str, Any], payload: dict[str, Any], signature: bytes, sign: bool
) -> None:
    """Tokens of every shape, signed with the right key or not: never anything but InvalidGrant."""
    clock.now = 1_800_000_100
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    if sign:  # a valid HS256 signature by the issuer's own key over whatever the header and payload say
        signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    try:
        answer = await issuer.refresh(token)
    except InvalidGrant:
        pass
    else:
        assert answer.access_token
    await issuer.revoke(token)
