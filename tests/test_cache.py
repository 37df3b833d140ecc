"""The verified-token cache: what a hit skips, what it still checks, and when entries die.

Each property of the cache has its test: a hit never reaches the key resolver (so no
signature, no parsing, no ``await``), an entry is re-checked against the clock on every
hit, a key-set change drops every entry, a resolver without a version gets a short
lifetime, the size is bounded (least recently used first), and failures are never
cached. The memory an entry costs is measured against the documented figure.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import math
import tracemalloc
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import (
    Claims,
    ConfigurationError,
    InvalidSignature,
    JWTAuthMiddleware,
    SecretKey,
    TokenExpired,
    TokenNotYetValid,
    TokenVerifier,
    VerificationKey,
)
from asgi_jwt.cache import DEFAULT_CACHE_SIZE, ENTRY_BYTES, UNVERSIONED_TTL, VerifiedTokenCache
from asgi_jwt.claims import ClaimRules
from conftest import AUDIENCE, ISSUER, SECRET, Clock, TokenFactory, examples

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"


class CountingKeys:
    """A resolver that counts its calls; ``version`` changes when keys are removed."""

    def __init__(self, *keys: SecretKey) -> None:
        self.keys = list(keys)
        self.calls = 0
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def remove(self, key: SecretKey) -> None:
        self.keys.remove(key)
        self._version += 1

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        self.calls += 1
        return [vk for key in self.keys for vk in key.verification_keys]


class UnversionedKeys:
    """A resolver with no ``version``: the cache cannot know when its keys change."""

    def __init__(self, key: SecretKey) -> None:
        self.key = key
        self.calls = 0

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        self.calls += 1
        return self.key.verification_keys


def entries(verifier: TokenVerifier) -> int:
    assert verifier.cache is not None
    return len(verifier.cache)


def verifier_over(keys: Any, clock: Clock, **options: Any) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock, **options)


# On by default, off with cache_size=0 -----------------------------------------------------------


def test_the_cache_is_on_by_default_with_the_documented_size(verifier: TokenVerifier) -> None:
    assert verifier.cache is not None
    assert verifier.cache.max_size == DEFAULT_CACHE_SIZE == 10_000
    assert verifier.cache.ttl == math.inf  # SecretKey has a version: entries live until exp or a key change


async def test_cache_size_zero_turns_it_off(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    keys = CountingKeys(secret_key)
    verifier = verifier_over(keys, clock, cache_size=0)
    token = make_token()
    for _ in range(3):
        assert (await verifier.verify(token))["sub"] == "alice"
    assert verifier.cache is None
    assert verifier.cached(token) is None
    assert keys.calls == 3


@pytest.mark.parametrize("size", [-1, True, 2.5, "10"])
def test_a_bad_cache_size_is_a_configuration_error(secret_key: SecretKey, size: Any) -> None:
    with pytest.raises(ConfigurationError, match="cache_size must be a non-negative integer"):
        TokenVerifier(secret_key, cache_size=size)


@pytest.mark.parametrize("ttl", [0, -5, True, "60"])
def test_a_bad_cache_ttl_is_a_configuration_error(secret_key: SecretKey, ttl: Any) -> None:
    with pytest.raises(ConfigurationError, match="cache_ttl must be a positive number of seconds"):
        TokenVerifier(secret_key, cache_ttl=ttl)


# A hit skips the work and needs no await ---------------------------------------------------------


async def test_a_repeated_token_never_reaches_the_resolver(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    keys = CountingKeys(secret_key)
    verifier = verifier_over(keys, clock)
    token = make_token(scope="orders:read")
    first = await verifier.verify(token)
    for _ in range(5):
        assert await verifier.verify(token) is first
        assert verifier.cached(token) is first
    assert keys.calls == 1
    assert first["scope"] == "orders:read"
    assert isinstance(first, Claims)


async def test_cached_is_synchronous_and_misses_on_unknown_tokens(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    token = make_token()
    assert not inspect.iscoroutinefunction(verifier.cached)
    assert verifier.cached(token) is None
    claims = await verifier.verify(token)
    assert verifier.cached(token) is claims
    assert verifier.cached(token + "x") is None


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"identity": request.user.identity, "scopes": sorted(request.auth.scopes)})


def client_for(verifier: Any, **options: Any) -> httpx.AsyncClient:
    app = JWTAuthMiddleware(Starlette(routes=[Route("/", whoami)]), verifier=verifier, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_middleware_serves_a_hit_without_awaiting_verify(
    verifier: TokenVerifier, make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_token(scope="orders:read orders:write")
    async with client_for(verifier) as client:
        first = await client.get("/", headers={"Authorization": f"Bearer {token}"})

        async def must_not_be_called(token: str) -> Claims:
            raise AssertionError("a cache hit awaited verify()")

        monkeypatch.setattr(verifier, "verify", must_not_be_called)
        again = await client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert first.status_code == again.status_code == 200
    assert again.json() == {"identity": "alice", "scopes": ["orders:read", "orders:write"]}


async def test_middlewares_sharing_a_verifier_keep_their_own_identity_claim(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    token = make_token(sub="alice", user_id="u-42")
    headers = {"Authorization": f"Bearer {token}"}
    async with client_for(verifier) as by_sub, client_for(verifier, identity_claim="user_id") as by_id:
        for _ in range(2):  # the second round is served from the cache
            assert (await by_sub.get("/", headers=headers)).json()["identity"] == "alice"
            assert (await by_id.get("/", headers=headers)).json()["identity"] == "u-42"


# Times are re-checked on every hit ---------------------------------------------------------------


async def test_a_token_that_expires_while_cached_is_rejected_and_dropped(
    verifier: TokenVerifier, clock: Clock, make_token: TokenFactory
) -> None:
    token = make_token(exp=int(clock.now) + 60)
    await verifier.verify(token)
    clock.now += 60 + 29  # inside the 30 s leeway: still good, still cached
    assert verifier.cached(token) is not None
    clock.now += 2
    with pytest.raises(TokenExpired):
        verifier.cached(token)
    assert entries(verifier) == 0
    with pytest.raises(TokenExpired):
        await verifier.verify(token)


async def test_the_middleware_answers_401_for_a_token_that_expired_in_the_cache(
    verifier: TokenVerifier, clock: Clock, make_token: TokenFactory
) -> None:
    token = make_token(exp=int(clock.now) + 60)
    async with client_for(verifier) as client:
        ok = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        clock.now += 120
        expired = await client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert expired.status_code == 401
    assert expired.json() == {"detail": "Token has expired", "error": "invalid_token"}
    assert expired.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has expired"'
    )


async def test_a_clock_that_steps_back_before_iat_rejects_a_cached_token(
    verifier: TokenVerifier, clock: Clock, make_token: TokenFactory
) -> None:
    token = make_token()
    await verifier.verify(token)
    clock.now -= 120  # iat is now two minutes in the future, beyond the leeway
    with pytest.raises(TokenNotYetValid):
        verifier.cached(token)


finite = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(min_value=-(2.0**40), max_value=2.0**40, allow_nan=False, allow_infinity=False),
    # beyond 2**53, where a float can no longer hold every integer: the cache keeps those as ints
    st.integers(min_value=-(2**62), max_value=2**62),
    st.integers(min_value=2**53 - 4, max_value=2**53 + 4).map(lambda value: value - NOW),
)
NOW = 1_700_000_000


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(
    exp=st.none() | finite.map(lambda offset: NOW + offset),
    nbf=st.none() | finite.map(lambda offset: NOW + offset),
    iat=st.none() | finite.map(lambda offset: NOW + offset),
    leeway=st.sampled_from([0, 0.5, 30, 3600]),
    later=finite,
)
@example(exp=2**53 + 1, nbf=None, iat=None, leeway=0, later=2**53 - NOW)  # float(exp) would round down to now
def test_a_hit_decides_exactly_as_check_times(
    exp: float | None, nbf: float | None, iat: float | None, leeway: float, later: float
) -> None:
    now = [float(NOW)]
    rules = ClaimRules(leeway=leeway, require=(), clock=lambda: now[0])
    claims = Claims({name: value for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)) if value is not None})
    cache = VerifiedTokenCache(4, keys=SecretKey(SECRET), rules=rules)
    cache.put("token", claims, 0)
    now[0] = NOW + later
    try:
        rules.check_times(claims)
    except (TokenExpired, TokenNotYetValid) as expected:
        with pytest.raises(type(expected)):
            cache.get("token")
        assert len(cache) == 0
    else:
        assert cache.get("token") is claims


# Entries die with the keys ------------------------------------------------------------------------


async def test_removing_a_key_drops_the_tokens_it_verified(clock: Clock, make_token: TokenFactory) -> None:
    old, new = SecretKey(SECRET, kid="old"), SecretKey(OTHER_SECRET, kid="new")
    keys = CountingKeys(old, new)
    verifier = verifier_over(keys, clock)
    token = make_token(key=old)
    await verifier.verify(token)
    assert verifier.cached(token) is not None
    keys.remove(old)
    assert verifier.cached(token) is None  # no hit after the key set changed
    with pytest.raises(InvalidSignature):  # only the new key is left to try
        await verifier.verify(token)
    assert keys.calls == 2


async def test_a_key_change_during_verification_keeps_the_result_out_of_the_cache(
    clock: Clock, make_token: TokenFactory
) -> None:
    key = SecretKey(SECRET)
    keys = CountingKeys(key, SecretKey(OTHER_SECRET))
    original_resolve = keys.resolve

    async def resolve_then_rotate(header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        found = await original_resolve(header)
        keys._version += 1  # the key set changed while this token was being checked
        return found

    keys.resolve = resolve_then_rotate  # type: ignore[method-assign]
    verifier = verifier_over(keys, clock)
    token = make_token(key=key)
    assert (await verifier.verify(token))["sub"] == "alice"
    assert verifier.cached(token) is None
    assert entries(verifier) == 0


async def test_a_resolver_without_version_gets_a_short_entry_lifetime(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    keys = UnversionedKeys(secret_key)
    verifier = verifier_over(keys, clock)
    assert verifier.cache is not None
    assert verifier.cache.ttl == UNVERSIONED_TTL == 30
    token = make_token()
    await verifier.verify(token)
    clock.now += UNVERSIONED_TTL - 1
    assert verifier.cached(token) is not None
    clock.now += 1
    assert verifier.cached(token) is None  # trusted no longer: verified again from the resolver's keys
    await verifier.verify(token)
    assert keys.calls == 2


async def test_cache_ttl_bounds_every_entry(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    verifier = verifier_over(secret_key, clock, cache_ttl=5)
    token = make_token()
    await verifier.verify(token)
    clock.now += 4.9
    assert verifier.cached(token) is not None
    clock.now += 0.2
    assert verifier.cached(token) is None


# Bounded, least recently used first ---------------------------------------------------------------


async def test_the_cache_keeps_at_most_cache_size_entries_dropping_the_least_recently_used(
    clock: Clock, make_token: TokenFactory, secret_key: SecretKey
) -> None:
    verifier = verifier_over(secret_key, clock, cache_size=3)
    tokens = [make_token(jti=str(number)) for number in range(5)]
    for token in tokens[:3]:
        await verifier.verify(token)
    assert verifier.cached(tokens[0]) is not None  # now the most recently used
    for token in tokens[3:]:
        await verifier.verify(token)
    assert entries(verifier) == 3
    assert [verifier.cached(token) is not None for token in tokens] == [True, False, False, True, True]


# Failures are never cached -------------------------------------------------------------------------


async def test_failures_are_never_cached(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    keys = CountingKeys(secret_key)
    verifier = verifier_over(keys, clock)
    forged = make_token(key=SecretKey(OTHER_SECRET))
    expired = make_token(exp=int(clock.now) - 3600)
    for _ in range(3):
        with pytest.raises(InvalidSignature):
            await verifier.verify(forged)
        with pytest.raises(TokenExpired):
            await verifier.verify(expired)
        assert verifier.cached(forged) is None
        assert verifier.cached(expired) is None
    assert keys.calls == 6
    assert entries(verifier) == 0


async def test_a_forged_token_keeps_failing_after_the_real_one_is_cached(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    token = make_token()
    await verifier.verify(token)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    async with client_for(verifier) as client:
        response = await client.get("/", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token signature", "error": "invalid_token"}


async def test_concurrent_first_requests_for_one_token_share_one_entry(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    token = make_token()
    results = await asyncio.gather(*(verifier.verify(token) for _ in range(10)))
    assert {result["sub"] for result in results} == {"alice"}
    assert entries(verifier) == 1


# Memory -----------------------------------------------------------------------------------------------


async def test_an_entry_costs_no_more_memory_than_documented(secret_key: SecretKey, clock: Clock) -> None:
    """A typical access token (about 300 characters, 7 claims) through the middleware."""
    verifier = verifier_over(secret_key, clock)
    app = JWTAuthMiddleware(Starlette(routes=[Route("/", whoami)]), verifier=verifier)
    count = 2_000
    now = int(clock.now)

    def token(number: int) -> str:
        claims = {"sub": f"user-{number:06d}", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
        return secret_key.encode({**claims, "scope": "orders:read orders:write", "jti": f"{number:032x}"})

    async def request(number: int) -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"authorization", b"Bearer " + token(number).encode())],
        }
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        assert statuses == [200]

    await request(-1)  # warm up everything that is allocated once
    assert 250 <= len(token(0)) <= 400
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(count):
            await request(number)
        gc.collect()
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    assert entries(verifier) == count + 1
    assert 500 < per_entry <= ENTRY_BYTES, per_entry
