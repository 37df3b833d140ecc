"""Revocation: the verifier asks its store about every accepted token, and the in-memory store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from asgi_jwt import (
    ConfigurationError,
    JWTAuthMiddleware,
    MemoryRevocationStore,
    MultiIssuerVerifier,
    RevocationStore,
    RevocationUnavailable,
    SecretKey,
    TokenRevoked,
    TokenVerifier,
)
from asgi_jwt.revocation import EXPIRY_GRACE, FAMILY_CLAIM
from conftest import AUDIENCE, ISSUER, Clock, TokenFactory

REVOKED_BODY = {"detail": "Token has been revoked", "error": "invalid_token"}


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def get(app: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        return await client.get("/", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def store(clock: Clock) -> MemoryRevocationStore:
    return MemoryRevocationStore(clock=clock)


@pytest.fixture
def revoking(secret_key: SecretKey, clock: Clock, store: MemoryRevocationStore) -> TokenVerifier:
    return TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, revocation=store)


class FlakyStore(MemoryRevocationStore):
    """A shared store's behaviour: not ready until loaded, and a load that can fail."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.loaded = False
        self.loads = 0
        self.fail_with: Exception | None = None

    @property
    def ready(self) -> bool:
        return self.loaded

    async def load(self) -> None:
        self.loads += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.loaded = True


def test_the_memory_store_satisfies_the_protocol(store: MemoryRevocationStore) -> None:
    assert isinstance(store, RevocationStore)


async def test_a_revoked_token_is_refused_from_the_cache_the_moment_revoke_returns(
    revoking: TokenVerifier, store: MemoryRevocationStore, make_token: TokenFactory, clock: Clock
) -> None:
    app = JWTAuthMiddleware(ok, verifier=revoking)
    token, other = make_token(jti="j1"), make_token(jti="j2")
    for _ in range(2):
        assert (await get(app, token)).status_code == 200
    assert revoking.cached(token) is not None  # a cache hit from here on
    await store.revoke("j1", expires_at=clock.now + 300)
    refused = await get(app, token)
    assert refused.status_code == 401
    assert refused.json() == REVOKED_BODY
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has been revoked"'
    )
    with pytest.raises(TokenRevoked):
        revoking.cached(token)
    with pytest.raises(TokenRevoked):
        await revoking.verify(token)
    assert (await get(app, other)).status_code == 200


async def test_a_token_revoked_before_it_was_ever_seen_is_refused_and_not_cached(
    revoking: TokenVerifier, store: MemoryRevocationStore, make_token: TokenFactory, clock: Clock
) -> None:
    await store.revoke("j1", expires_at=clock.now + 300)
    token = make_token(jti="j1")
    with pytest.raises(TokenRevoked):
        await revoking.verify(token)
    assert revoking.cache is not None
    assert len(revoking.cache) == 0


async def test_without_a_cache_every_request_still_asks_the_store(
    secret_key: SecretKey, store: MemoryRevocationStore, make_token: TokenFactory, clock: Clock
) -> None:
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, cache_size=0, revocation=store)
    app = JWTAuthMiddleware(ok, verifier=verifier)
    token = make_token(jti="j1")
    assert (await get(app, token)).status_code == 200
    await store.revoke("j1", expires_at=clock.now + 300)
    assert (await get(app, token)).json() == REVOKED_BODY


async def test_a_multi_issuer_verifier_asks_the_issuers_store_on_hits(
    revoking: TokenVerifier, store: MemoryRevocationStore, make_token: TokenFactory, clock: Clock
) -> None:
    app = JWTAuthMiddleware(ok, verifier=MultiIssuerVerifier([revoking]))
    token = make_token(jti="j1")
    for _ in range(2):
        assert (await get(app, token)).status_code == 200
    await store.revoke("j1", expires_at=clock.now + 300)
    assert (await get(app, token)).json() == REVOKED_BODY


async def test_a_store_that_is_not_ready_makes_hits_misses_and_is_loaded_first(
    secret_key: SecretKey, make_token: TokenFactory, clock: Clock
) -> None:
    flaky = FlakyStore(clock)
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, revocation=flaky)
    app = JWTAuthMiddleware(ok, verifier=verifier)
    token = make_token(jti="j1")
    assert (await get(app, token)).status_code == 200
    assert flaky.loads == 1
    assert verifier.cached(token) is not None
    flaky.loaded = False  # the mirror can no longer be vouched for
    assert verifier.cached(token) is None
    flaky.fail_with = ConnectionError("connection refused")
    down = await get(app, token)
    assert down.status_code == 503
    assert down.headers["retry-after"] == "30"
    assert down.json()["detail"] == "Token revocation status is temporarily unavailable"
    flaky.fail_with = None
    assert (await get(app, token)).status_code == 200  # recovers by itself
    assert flaky.loads == 3


async def test_a_store_that_raises_is_an_outage_not_a_500(
    secret_key: SecretKey, make_token: TokenFactory, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenStore(MemoryRevocationStore):
        def check(self, claims: Mapping[str, Any]) -> None:
            raise KeyError("a bug in the store")

    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, revocation=BrokenStore())
    app = JWTAuthMiddleware(ok, verifier=verifier)
    token = make_token()
    with caplog.at_level(logging.WARNING, logger="asgi_jwt"):
        answers = [await get(app, token) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [503, 503]
    assert "revocation store BrokenStore failed: KeyError" in caplog.text
    assert "a bug in the store" not in answers[0].text


async def test_a_family_is_refused_as_a_whole(
    revoking: TokenVerifier, store: MemoryRevocationStore, make_token: TokenFactory, clock: Clock
) -> None:
    first, second = make_token(jti="a1", **{FAMILY_CLAIM: "f1"}), make_token(jti="a2", **{FAMILY_CLAIM: "f1"})
    unrelated = make_token(jti="b1", **{FAMILY_CLAIM: "f2"})
    for token in (first, second, unrelated):
        await revoking.verify(token)
    await store.revoke_family("f1", expires_at=clock.now + 300)
    for token in (first, second):
        with pytest.raises(TokenRevoked):
            revoking.cached(token)
    assert revoking.cached(unrelated) is not None


async def test_a_subject_cut_off_refuses_only_tokens_issued_before_it(
    revoking: TokenVerifier, store: MemoryRevocationStore, make_token: TokenFactory, clock: Clock
) -> None:
    now = int(clock.now)
    before = make_token(iat=now - 10, jti="old")
    after = make_token(iat=now + 1, jti="new")
    undated = make_token(iat=None, jti="undated")
    someone_else = make_token(sub="bob", iat=now - 10)
    await revoking.verify(before)
    await store.revoke_subject("alice", before=now, expires_at=now + 300)
    with pytest.raises(TokenRevoked):
        revoking.cached(before)
    with pytest.raises(TokenRevoked):
        await revoking.verify(undated)  # issue time unknown: treated as before the cut-off
    clock.now += 1
    assert (await revoking.verify(after))["jti"] == "new"
    assert (await revoking.verify(someone_else))["sub"] == "bob"
    await store.revoke_subject("alice", before=now - 100, expires_at=now + 10)  # an earlier cut-off does not undo
    with pytest.raises(TokenRevoked):
        await revoking.verify(before)


@pytest.mark.parametrize("claim", ["jti", FAMILY_CLAIM, "sub"])
@pytest.mark.parametrize("value", [["a", "b"], {"a": 1}, 7, None])
async def test_odd_claim_values_are_simply_not_revoked(
    store: MemoryRevocationStore, clock: Clock, claim: str, value: Any
) -> None:
    await store.revoke("a", expires_at=clock.now + 60)
    await store.revoke_family("a", expires_at=clock.now + 60)
    await store.revoke_subject("a", before=clock.now, expires_at=clock.now + 60)
    store.check({claim: value, "iat": clock.now + 10})


async def test_entries_go_when_their_tokens_would_have_expired(store: MemoryRevocationStore, clock: Clock) -> None:
    await store.revoke("short", expires_at=clock.now + 10)
    await store.revoke_family("long", expires_at=clock.now + 1000)
    await store.revoke_subject("alice", before=clock.now, expires_at=clock.now + 10)
    assert len(store) == 3
    clock.now += 10 + EXPIRY_GRACE - 1  # a verifier's leeway may still accept the token: kept
    await store.revoke("later", expires_at=clock.now + 1000)
    assert len(store) == 4
    with pytest.raises(TokenRevoked):
        store.check({"jti": "short"})
    clock.now += 2
    await store.revoke("latest", expires_at=clock.now + 1000)
    assert len(store) == 3
    store.check({"jti": "short", "sub": "alice", "iat": 0})
    with pytest.raises(TokenRevoked):
        store.check({FAMILY_CLAIM: "long"})


async def test_a_full_store_refuses_new_revocations_and_never_forgets_a_live_one(clock: Clock) -> None:
    store = MemoryRevocationStore(max_entries=2, clock=clock)
    await store.revoke("a", expires_at=clock.now + 10)
    await store.revoke_family("f", expires_at=clock.now + 100)
    with pytest.raises(RevocationUnavailable, match="The revocation list is full"):
        await store.revoke("b", expires_at=clock.now + 100)
    with pytest.raises(RevocationUnavailable):
        await store.spend("r", expires_at=clock.now + 100)
    await store.revoke("a", expires_at=clock.now + 20)  # an existing entry may still be extended
    for claims in ({"jti": "a"}, {FAMILY_CLAIM: "f"}):
        with pytest.raises(TokenRevoked):
            store.check(claims)
    clock.now += 20 + EXPIRY_GRACE + 1  # "a" has expired: its room is free again
    await store.revoke("b", expires_at=clock.now + 100)
    assert len(store) == 2


async def test_many_updates_of_the_same_entries_keep_memory_bounded(clock: Clock) -> None:
    store = MemoryRevocationStore(max_entries=3, clock=clock)
    for step in range(100):
        await store.revoke_subject("alice", before=clock.now + step, expires_at=clock.now + 100 + step)
    assert len(store) == 1
    assert len(store._expiry) <= 2 * store.max_entries + 1


async def test_spend_lets_exactly_one_of_many_concurrent_callers_win(store: MemoryRevocationStore) -> None:
    results = await asyncio.gather(*(store.spend("refresh-1", expires_at=2e9) for _ in range(50)))
    assert results.count(True) == 1
    assert await store.spend("refresh-2", expires_at=2e9) is True
    store.check({"jti": "refresh-1"})  # spent is not revoked: an access token with that jti would be unaffected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_entries": 0}, "max_entries must be a positive integer"),
        ({"max_entries": True}, "max_entries must be a positive integer"),
        ({"clock": 5}, "clock must be a callable"),
    ],
)
def test_store_misconfiguration_fails_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MemoryRevocationStore(**options)


@pytest.mark.parametrize("bad", [object(), {"check": 1}, "redis://localhost"])
def test_a_verifier_refuses_something_that_is_not_a_store(secret_key: SecretKey, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="revocation must be a RevocationStore"):
        TokenVerifier(secret_key, revocation=bad)


async def test_the_verifier_starts_and_stops_its_store(secret_key: SecretKey) -> None:
    events: list[str] = []

    class Recording(MemoryRevocationStore):
        async def startup(self) -> None:
            events.append("startup")

        async def shutdown(self) -> None:
            events.append("shutdown")

    verifier = TokenVerifier(secret_key, revocation=Recording())
    await verifier.startup()
    await verifier.shutdown()
    assert events == ["startup", "shutdown"]
