"""JWK Sets: the static ``JWKSet`` and the remote ``JWKSResolver``, against a scripted identity provider.

Everything here runs on ``httpx.MockTransport`` and a settable clock: TTLs, cooldowns
and stale periods are crossed by moving the clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import (
    ConfigurationError,
    InvalidAlgorithm,
    InvalidSignature,
    JWKSError,
    JWKSet,
    JWKSResolver,
    JWTAuthMiddleware,
    KeyPair,
    KeysUnavailable,
    MalformedToken,
    TokenVerifier,
    UnknownKey,
    VersionedKeyResolver,
    auth_exception_handlers,
)
from conftest import AUDIENCE, ISSUER, Clock
from jwks_support import (
    JWKS_URL,
    FakeIdP,
    claims_for,
    ec_key,
    jwk_set,
    resolver,
    rsa_key,
    settle,
    until,
    verifier_over,
)

# ---------------------------------------------------------------------------- JWKSet


def test_jwk_set_from_dict_string_bytes_and_file(tmp_path: Any, clock: Clock) -> None:
    document = jwk_set(rsa_key("k1"), ec_key("e1"))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    for key_set in (JWKSet(document), JWKSet(json.dumps(document)), JWKSet(json.dumps(document).encode())):
        assert key_set.kids == {"k1", "e1"}
    from_file = JWKSet.from_file(path)
    assert "k1" in from_file
    assert "nope" not in from_file
    assert [key.algorithm for key in from_file.verification_keys] == ["RS256", "ES256"]


@pytest.mark.parametrize("algorithm", ["RS256", "PS384", "ES256", "ES384", "ES512", "EdDSA"])
async def test_jwk_set_verifies_each_algorithm(algorithm: str, clock: Clock) -> None:
    pair = KeyPair.generate(algorithm) if algorithm != "RS256" else rsa_key("k1")
    verifier = verifier_over(JWKSet(jwk_set(pair)), clock)  # type: ignore[arg-type]
    claims = await verifier.verify(pair.encode(claims_for(clock.now)))
    assert claims["sub"] == "alice"


async def test_a_key_without_alg_is_pinned_to_what_its_type_implies(clock: Clock) -> None:
    pair = rsa_key("k1")
    jwk = {name: value for name, value in pair.to_jwk().items() if name != "alg"}
    verifier = verifier_over(JWKSet({"keys": [jwk]}), clock)  # type: ignore[arg-type]
    assert (await verifier.verify(pair.encode(claims_for(clock.now))))["sub"] == "alice"
    # The same key may not verify PS256: the token's alg never chooses the algorithm.
    ps256 = KeyPair(pair.private_pem(), algorithm="PS256", kid="k1")
    with pytest.raises(InvalidAlgorithm):
        await verifier.verify(ps256.encode(claims_for(clock.now)))


async def test_keys_without_kid_match_by_algorithm(clock: Clock) -> None:
    pair = KeyPair.generate("ES256")
    jwk = {name: value for name, value in pair.to_jwk().items() if name != "kid"}
    verifier = verifier_over(JWKSet({"keys": [jwk]}), clock)  # type: ignore[arg-type]
    unnamed = KeyPair(pair.private_pem(), algorithm="ES256")
    assert (await verifier.verify(unnamed.encode(claims_for(clock.now))))["sub"] == "alice"
    assert (await verifier.verify(pair.encode(claims_for(clock.now))))["sub"] == "alice"  # any kid falls back


async def test_tampered_tokens_fail(clock: Clock) -> None:
    pair = rsa_key("k1")
    verifier = verifier_over(JWKSet(jwk_set(pair)), clock)  # type: ignore[arg-type]
    header, payload, signature = pair.encode(claims_for(clock.now)).split(".")
    forged_payload = pair.encode(claims_for(clock.now, sub="admin")).split(".")[1]
    with pytest.raises(InvalidSignature) as caught:
        await verifier.verify(f"{header}.{forged_payload}.{signature}")
    assert caught.value.error == "invalid_token"
    with pytest.raises(InvalidSignature):
        await verifier.verify(f"{header}.{payload}.{signature[:-8]}AAAAAAAA")


def _rsa_jwk(**changes: Any) -> dict[str, Any]:
    jwk = rsa_key("k1").to_jwk()
    jwk.update(kid="bad", **changes)
    return {name: value for name, value in jwk.items() if value is not None}


SKIPPED = {
    "encryption key": (_rsa_jwk(use="enc", alg="RSA-OAEP"), logging.DEBUG, "for use 'enc'"),
    "key_ops without verify": (_rsa_jwk(key_ops=["encrypt"]), logging.DEBUG, "key_ops do not include 'verify'"),
    "unknown kty": ({"kty": "AKP", "kid": "bad", "alg": "ML-DSA-44", "pub": "AAAA"}, logging.WARNING, "'AKP'"),
    "alg of another family": (_rsa_jwk(alg="ES256"), logging.WARNING, "cannot be used with 'ES256'"),
    "encryption alg": (
        _rsa_jwk(alg="RSA-OAEP", use=None),
        logging.WARNING,
        "'RSA-OAEP' is not a supported signature algorithm",
    ),
    "EC alg for another curve": (
        {**ec_key("e1").to_jwk(), "kid": "bad", "alg": "ES384"},
        logging.WARNING,
        "cannot be used with 'ES384'",
    ),
    "broken numbers": (_rsa_jwk(n="AQAB!"), logging.WARNING, "not a valid public key"),
    "not an object": ("a string", logging.WARNING, "not a JSON object"),
}


@pytest.fixture(scope="module")
def small_rsa_jwk() -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": "bad"}


@pytest.mark.parametrize(("jwk", "level", "reason"), SKIPPED.values(), ids=SKIPPED.keys())
async def test_unusable_keys_are_skipped_and_logged(
    jwk: Any, level: int, reason: str, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    caplog.set_level(logging.DEBUG, logger="asgi_jwt")
    key_set = JWKSet({"keys": [jwk, rsa_key("k2").to_jwk()]})
    assert key_set.kids == {"k2"}
    skipped = [record for record in caplog.records if "skipping key" in record.getMessage()]
    assert len(skipped) == 1
    assert skipped[0].levelno == level
    assert reason in skipped[0].getMessage()
    verifier = verifier_over(key_set, clock)  # type: ignore[arg-type]
    assert (await verifier.verify(rsa_key("k2").encode(claims_for(clock.now))))["sub"] == "alice"


def test_rsa_keys_under_2048_bits_are_skipped(small_rsa_jwk: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    key_set = JWKSet({"keys": [small_rsa_jwk, rsa_key("k2").to_jwk()]})
    assert key_set.kids == {"k2"}
    assert "at least 2048 bits, this one has 1024" in caplog.text


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_private_key_material_refuses_the_whole_set(member: str) -> None:
    leaked = {**rsa_key("k1").to_jwk(), member: "c2VjcmV0"}
    with pytest.raises(ConfigurationError) as caught:
        JWKSet({"keys": [rsa_key("k2").to_jwk(), leaked]})
    assert f"private or symmetric key material (member {member!r} of key 'k1')" in str(caught.value)
    assert "the whole set is refused" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "is not a JSON object with a 'keys' list"),
        ({"keys": {}}, "is not a JSON object with a 'keys' list"),
        ({"keys": []}, "has no usable signature verification key"),
        ('{"keys": [NaN]}', "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        ("[" * 100_000, "is not valid JSON"),
    ],
)
def test_documents_that_are_not_key_sets(document: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        JWKSet(document)
    assert message in str(caught.value)


def test_jwk_set_missing_file() -> None:
    with pytest.raises(ConfigurationError, match="cannot read key file"):
        JWKSet.from_file("/nonexistent/jwks.json")


def test_to_dict_publishes_public_members_with_alg_use_and_kid() -> None:
    published = JWKSet(jwk_set(rsa_key("k1"))).to_dict()["keys"][0]
    assert published["kid"] == "k1"
    assert published["alg"] == "RS256"
    assert published["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)


# ---------------------------------------------------------------------------- JWKSResolver: configuration


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs the JWK Set url, or issuer="),
        ({"url": JWKS_URL, "issuer": ISSUER}, "not both"),
        ({"url": "ftp://idp.example.com/jwks"}, "must be an https:// URL"),
        ({"url": "/jwks.json"}, "must be an https:// URL"),
        ({"url": JWKS_URL, "ttl": 10}, "ttl must lie between min_ttl"),
        ({"url": JWKS_URL, "cooldown": 0}, "cooldown must be more than zero"),
        ({"url": JWKS_URL, "stale_for": -1}, "stale_for must be zero or more"),
        ({"url": JWKS_URL, "timeout": float("nan")}, "timeout must be a number of seconds"),
        ({"url": JWKS_URL, "max_bytes": 10}, "max_bytes must be an integer of at least 1024"),
        ({"url": JWKS_URL, "client": httpx.Client()}, "client must be an httpx.AsyncClient"),
    ],
)
def test_resolver_configuration_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        JWKSResolver(**options)
    assert message in str(caught.value)


def test_plain_http_off_the_loopback_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    JWKSResolver("http://keycloak:8080/realms/x/protocol/openid-connect/certs")
    assert "uses plain HTTP" in caplog.text
    caplog.clear()
    JWKSResolver("http://127.0.0.1:8080/jwks.json")
    assert caplog.text == ""


# ---------------------------------------------------------------------------- fetching and caching


async def test_first_request_fetches_then_the_cache_serves(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    assert isinstance(keys, VersionedKeyResolver)
    assert (keys.ready, keys.version) == (False, 0)
    verifier = verifier_over(keys, clock)
    for _ in range(3):
        assert (await verifier.verify(rsa_key("k1").encode(claims_for(clock.now))))["sub"] == "alice"
    assert idp.fetches == 1
    assert idp.requests[0].headers["accept"] == "application/jwk-set+json, application/json"
    assert (keys.ready, keys.version, keys.url) == (True, 1, JWKS_URL)
    assert keys.key_set is not None
    assert keys.key_set.kids == {"k1"}


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [
        (None, 300),
        ("max-age=120", 120),
        ("public, max-age=600, must-revalidate", 600),
        ("max-age=5", 60),  # held to min_ttl
        ("max-age=999999", 3600),  # held to max_ttl
        ("no-store", 60),
        ("no-cache, max-age=900", 60),
    ],
)
async def test_cache_control_max_age_is_honoured_within_bounds(
    cache_control: str | None, ttl: int, clock: Clock
) -> None:
    idp = FakeIdP(headers={"cache-control": cache_control} if cache_control else {})
    keys = resolver(idp, clock)
    await keys.refresh()
    start = clock.now
    clock.now = start + ttl - 1
    await keys.resolve({"kid": "k1"})
    await settle(keys)
    assert idp.fetches == 1
    clock.now = start + ttl
    await keys.resolve({"kid": "k1"})
    await settle(keys)
    assert idp.fetches == 2


async def test_expired_keys_are_refreshed_in_the_background_without_delaying_requests(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    await keys.refresh()
    idp.gate = asyncio.Event()  # the identity provider becomes slow
    clock.now += 301
    found = await asyncio.wait_for(keys.resolve({"kid": "k1"}), 1)  # answered from the expired set at once
    assert [key.kid for key in found] == ["k1"]
    idp.gate.set()
    await settle(keys)
    assert idp.fetches == 2


async def test_a_new_kid_is_accepted_after_one_refetch(clock: Clock) -> None:
    idp = FakeIdP(jwk_set(rsa_key("k1")))
    keys = resolver(idp, clock)
    verifier = verifier_over(keys, clock)
    await keys.refresh()
    idp.document = jwk_set(rsa_key("k1"), rsa_key("k2"))  # the identity provider rotates
    clock.now += 31  # past the cooldown since the last fetch
    claims = await verifier.verify(rsa_key("k2").encode(claims_for(clock.now)))
    assert claims["sub"] == "alice"  # the very request that met the new kid succeeds
    assert (idp.fetches, keys.version) == (2, 2)


async def test_unknown_kid_within_the_cooldown_fails_without_fetching(clock: Clock) -> None:
    idp = FakeIdP(jwk_set(rsa_key("k1"), rsa_key("k2")))
    keys = resolver(idp, clock)
    await keys.refresh()
    clock.now += 10
    with pytest.raises(UnknownKey) as caught:
        await keys.resolve({"kid": "k3", "alg": "RS256"})
    assert (caught.value.status_code, caught.value.error) == (401, "invalid_token")
    assert idp.fetches == 1


async def test_concurrent_unknown_kids_share_one_fetch(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    await keys.refresh()
    clock.now += 31
    idp.gate = asyncio.Event()
    idp.document = jwk_set(rsa_key("k1"), rsa_key("k2"))
    lookups = [asyncio.ensure_future(keys.resolve({"kid": "k2"})) for _ in range(200)]
    for _ in range(5):
        await asyncio.sleep(0)
    idp.gate.set()
    results = await asyncio.gather(*lookups)
    assert {key.kid for found in results for key in found} == {"k2"}
    assert idp.fetches == 2


async def test_a_cancelled_request_does_not_cancel_the_shared_fetch(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    idp.gate = asyncio.Event()
    first = asyncio.ensure_future(keys.resolve({"kid": "k1"}))
    second = asyncio.ensure_future(keys.resolve({"kid": "k1"}))
    await until(lambda: idp.fetches == 1)  # both requests wait on the one fetch, held at the gate
    first.cancel()  # the client went away
    idp.gate.set()
    assert [key.kid for key in await second] == ["k1"]
    assert idp.fetches == 1


async def test_still_unknown_kids_are_remembered_until_the_next_refresh(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    await keys.refresh()
    clock.now += 31
    with pytest.raises(UnknownKey):
        await keys.resolve({"kid": "ghost"})
    assert idp.fetches == 2  # one refetch, in case the key was new
    clock.now += 31
    with pytest.raises(UnknownKey):
        await keys.resolve({"kid": "ghost"})
    assert idp.fetches == 2  # remembered: no fetch, cooldown or not
    with pytest.raises(UnknownKey):
        await keys.resolve({"kid": "another"})
    assert idp.fetches == 3  # a different kid may refetch once the cooldown has passed
    clock.now += 301  # the set expires: the next request refreshes it in the background
    await keys.resolve({"kid": "k1"})
    await settle(keys)
    assert idp.fetches == 4
    idp.document = jwk_set(rsa_key("k1"), rsa_key("ghost"))
    clock.now += 31
    assert [key.kid for key in await keys.resolve({"kid": "ghost"})] == ["ghost"]  # forgotten after the refresh


async def test_version_changes_only_when_the_key_set_does(clock: Clock) -> None:
    idp = FakeIdP(jwk_set(rsa_key("k1"), ec_key("e1")))
    keys = resolver(idp, clock)
    await keys.refresh()
    assert keys.version == 1
    await keys.refresh()
    idp.document = {"keys": list(reversed(idp.document["keys"]))}  # same keys, another order
    await keys.refresh()
    assert keys.version == 1
    idp.document = jwk_set(ec_key("e1"))
    await keys.refresh()
    assert keys.version == 2


async def test_version_moves_when_the_keys_come_due_and_every_cooldown_while_stale(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock, cooldown=30, stale_for=120)
    await keys.refresh()
    fresh = keys.version
    clock.now += 299
    assert keys.version == fresh  # within the TTL: a cache hit stays a hit
    clock.now += 1
    due = keys.version
    assert due > fresh  # the TTL is over: whatever was verified under these keys must come back through resolve
    clock.now += 29
    assert keys.version == due
    clock.now += 1
    assert keys.version > due  # refreshes fail: cached tokens bring a new attempt every cooldown
    await keys.refresh()  # the same keys again: the version stays where it moved to, and holds for a TTL
    refreshed = keys.version
    assert refreshed > due
    clock.now += 299
    assert keys.version == refreshed
    seen = [keys.version]
    for _ in range(6):  # the stale period runs out: the version only ever grows
        clock.now += 30
        seen.append(keys.version)
    assert seen == sorted(seen)
    assert not keys.ready


async def test_header_urls_and_embedded_keys_are_never_used(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    verifier = verifier_over(keys, clock)
    attacker = KeyPair.generate("ES256", kid="k1")
    headers = {
        "jku": "https://evil.example/jwks.json",
        "x5u": "https://evil.example/cert.pem",
        "jwk": attacker.to_jwk(),
        "x5c": ["MIIB"],
    }
    forged = KeyPair(attacker.private_pem(), kid="k1").encode(claims_for(clock.now), headers=headers)
    with pytest.raises(InvalidAlgorithm):  # k1 is our RS256 key: an ES256 token cannot match it
        await verifier.verify(forged)
    assert {str(request.url) for request in idp.requests} == {JWKS_URL}


async def test_a_non_string_kid_is_malformed(clock: Clock) -> None:
    keys = resolver(FakeIdP(), clock)
    with pytest.raises(MalformedToken):
        await keys.resolve({"kid": 7, "alg": "RS256"})


# ---------------------------------------------------------------------------- outages


def _status(code: int) -> Any:
    return lambda request: httpx.Response(code, text="upstream trouble")


def _body(content: bytes, **headers: str) -> Any:
    return lambda request: httpx.Response(200, content=content, headers=headers)


FAILURES = {
    "connection refused": (httpx.ConnectError("refused"), "request failed (ConnectError)"),
    "read timeout": (httpx.ReadTimeout("slow"), "no complete answer within 5 s"),
    "500": (_status(500), "HTTP status 500"),
    "redirect": (lambda request: httpx.Response(302, headers={"location": "https://x/"}), "HTTP status 302"),
    "garbage": (_body(b"<html>oops</html>"), "is not valid JSON"),
    "not a set": (_body(b'{"hello": "world"}'), "is not a JSON object with a 'keys' list"),
    "no usable key": (_body(b'{"keys": []}'), "has no usable signature verification key"),
    "declared too large": (_body(b"{}", **{"content-length": "999999999"}), "larger than 524288 bytes"),
    "too large": (_body(b" " * 600_000), "larger than 524288 bytes"),
    "compressed bomb": (
        _body(gzip.compress(b" " * 5_000_000), **{"content-encoding": "gzip"}),
        "larger than 524288 bytes",
    ),
}


@pytest.mark.parametrize(("failure", "reason"), FAILURES.values(), ids=FAILURES.keys())
async def test_stale_keys_serve_through_an_outage_then_fail_closed(
    failure: Any, reason: str, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock, stale_for=3600)
    verifier = verifier_over(keys, clock)
    await keys.refresh()
    idp.failure = failure
    clock.now += 301  # expired: a refresh is due, and fails
    assert (await verifier.verify(rsa_key("k1").encode(claims_for(clock.now))))["sub"] == "alice"
    await settle(keys)
    warning = next(record for record in caplog.records if "refreshing the JWK Set" in record.getMessage())
    assert warning.levelno == logging.WARNING
    assert reason in warning.getMessage()
    assert "still using the keys fetched 301 s ago, for at most 3599 s more" in warning.getMessage()
    clock.now += 3598  # 3899 s after the fetch: the TTL (300 s) and the stale period (3600 s) are nearly over
    assert (await verifier.verify(rsa_key("k1").encode(claims_for(clock.now))))["sub"] == "alice"
    assert keys.ready
    clock.now += 1  # the stale period is over
    with pytest.raises(KeysUnavailable) as caught:
        await verifier.verify(rsa_key("k1").encode(claims_for(clock.now)))
    assert caught.value.status_code == 503
    assert not keys.ready
    assert "no longer used" in caplog.text


async def test_a_timeout_covers_the_whole_fetch(clock: Clock) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # never answers
        return httpx.Response(200)

    keys = JWKSResolver(JWKS_URL, client=httpx.AsyncClient(transport=httpx.MockTransport(hang)), timeout=0.05)
    with pytest.raises(JWKSError) as caught:
        await keys.refresh()
    assert str(caught.value) == f"could not load the JWK Set from {JWKS_URL}: no complete answer within 0.05 s"


async def test_without_keys_requests_get_503_and_one_fetch_per_cooldown(clock: Clock) -> None:
    idp = FakeIdP()
    idp.failure = httpx.ConnectError("refused")
    keys = resolver(idp, clock)
    verifier = verifier_over(keys, clock)
    app = JWTAuthMiddleware(_hello_app(), verifier=verifier)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        token = rsa_key("k1").encode(claims_for(clock.now))
        for _ in range(20):
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 503
            assert response.json() == {"detail": "Authentication keys are temporarily unavailable", "error": None}
            assert "www-authenticate" not in response.headers
        assert idp.fetches == 1
        clock.now += 12
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.headers["retry-after"] == "18"  # what is left of the cooldown
        idp.failure = None  # the identity provider is back
        clock.now += 18
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json() == {"sub": "alice"}
        assert (idp.fetches, keys.version) == (2, 1)


async def test_a_published_private_key_is_an_incident(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    await keys.refresh()
    idp.document = {"keys": [{**rsa_key("k2").to_jwk(), "d": "c2VjcmV0"}]}
    with pytest.raises(JWKSError, match="publishes private or symmetric key material"):
        await keys.refresh()
    record = next(record for record in caplog.records if "SECURITY" in record.getMessage())
    assert record.levelno == logging.ERROR
    assert "member 'd' of key 'k2'" in record.getMessage()
    assert keys.key_set is not None
    assert keys.key_set.kids == {"k1"}  # the last good set stays


async def test_the_token_cache_does_not_outlive_the_stale_period(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock, stale_for=60)
    verifier = verifier_over(keys, clock)  # with its verified-token cache, if it has one
    token = rsa_key("k1").encode({**claims_for(clock.now), "exp": int(clock.now) + 3600})
    await verifier.verify(token)
    idp.failure = httpx.ConnectError("refused")
    clock.now += 361
    with pytest.raises(KeysUnavailable):
        await verifier.verify(token)


async def test_a_failed_fetch_is_a_keys_unavailable_that_names_the_url_in_logs_only(clock: Clock) -> None:
    idp = FakeIdP()
    idp.failure = _status(500)
    keys = resolver(idp, clock)

    async def reload(request: Request) -> JSONResponse:
        await keys.refresh()  # an operator's "reload the keys now" endpoint
        return JSONResponse({"version": keys.version})

    with pytest.raises(KeysUnavailable) as caught:
        await keys.refresh()
    error = caught.value
    assert isinstance(error, JWKSError)
    assert (error.status_code, error.reason, error.retry_after) == (503, "jwks_fetch_failed", 30)
    assert str(error) == f"could not load the JWK Set from {JWKS_URL}: HTTP status 500"
    app = Starlette(routes=[Route("/reload", reload)], exception_handlers=auth_exception_handlers())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        response = await client.get("/reload")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json() == {"detail": "Authentication keys are temporarily unavailable", "error": None}
    assert JWKS_URL not in response.text


async def test_fetching_is_true_while_a_fetch_is_under_way(clock: Clock) -> None:
    idp = FakeIdP()
    idp.gate = asyncio.Event()
    keys = resolver(idp, clock)
    assert not keys.fetching
    refresh = asyncio.ensure_future(keys.refresh())
    await until(lambda: idp.fetches == 1)
    assert keys.fetching
    assert (keys.ready, keys.version) == (False, 0)  # reading the properties changes nothing
    idp.gate.set()
    await refresh
    assert not keys.fetching
    assert (keys.ready, keys.version) == (True, 1)


async def test_giving_stale_keys_up_changes_the_version_without_a_request(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock, stale_for=60)
    await keys.refresh()
    loaded = keys.version
    clock.now += 360  # TTL and stale period over, and nobody asked for the keys meanwhile
    given_up = keys.version
    assert (keys.ready, keys.key_set) == (False, None)
    assert given_up > loaded
    assert (keys.ready, keys.key_set, keys.version) == (False, None, given_up)  # the same answer when asked again
    await keys.refresh()
    assert (keys.ready, keys.version) == (True, given_up + 1)  # the same keys again: still a change from none at all


# ---------------------------------------------------------------------------- discovery

DISCOVERY = "https://idp.example.com/.well-known/openid-configuration"


async def test_from_issuer_discovers_the_jwks_uri(clock: Clock) -> None:
    idp = FakeIdP()
    idp.routes[DISCOVERY] = {"issuer": "https://idp.example.com", "jwks_uri": JWKS_URL}
    keys = await JWKSResolver.from_issuer("https://idp.example.com", client=idp.client(), clock=clock)
    assert keys.url == JWKS_URL
    verifier = TokenVerifier(keys, issuer="https://idp.example.com", audience=AUDIENCE, clock=clock)
    token = rsa_key("k1").encode(claims_for(clock.now, iss="https://idp.example.com"))
    assert (await verifier.verify(token))["sub"] == "alice"
    assert [str(request.url) for request in idp.requests] == [DISCOVERY, JWKS_URL]


async def test_discovery_falls_back_to_rfc_8414_for_an_issuer_with_a_path(clock: Clock) -> None:
    idp = FakeIdP()
    rfc8414 = "https://idp.example.com/.well-known/oauth-authorization-server/tenant/a"
    idp.routes[rfc8414] = {"issuer": "https://idp.example.com/tenant/a", "jwks_uri": JWKS_URL}
    keys = await JWKSResolver.from_issuer("https://idp.example.com/tenant/a", client=idp.client(), clock=clock)
    assert keys.url == JWKS_URL
    assert [str(request.url) for request in idp.requests] == [
        "https://idp.example.com/tenant/a/.well-known/openid-configuration",
        rfc8414,
    ]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {"issuer": "https://idp.example.com/", "jwks_uri": JWKS_URL},
            "names the issuer 'https://idp.example.com/', not 'https://idp.example.com' (they must match exactly",
        ),
        ({"issuer": "https://idp.example.com"}, "has no usable jwks_uri"),
        ({"issuer": "https://idp.example.com", "jwks_uri": "http://idp.example.com/jwks"}, "plain-HTTP jwks_uri"),
        (["not", "an", "object"], "is not a JSON object"),
    ],
)
async def test_discovery_documents_are_checked(metadata: Any, message: str, clock: Clock) -> None:
    idp = FakeIdP()
    idp.routes[DISCOVERY] = metadata
    with pytest.raises(JWKSError) as caught:
        await JWKSResolver.from_issuer("https://idp.example.com", client=idp.client())
    assert str(caught.value).startswith("discovery for the issuer 'https://idp.example.com' failed: ")
    assert message in str(caught.value)


async def test_discovery_failure_names_both_urls(clock: Clock) -> None:
    idp = FakeIdP()
    with pytest.raises(JWKSError) as caught:
        await JWKSResolver.from_issuer("https://idp.example.com", client=idp.client())
    assert f"{DISCOVERY}: HTTP status 404" in str(caught.value)
    assert "https://idp.example.com/.well-known/oauth-authorization-server: HTTP status 404" in str(caught.value)


async def test_lazy_discovery_runs_on_the_first_fetch(clock: Clock) -> None:
    idp = FakeIdP()
    idp.routes[DISCOVERY] = {"issuer": "https://idp.example.com", "jwks_uri": JWKS_URL}
    keys = JWKSResolver(issuer="https://idp.example.com", client=idp.client(), clock=clock)
    assert keys.url is None
    assert [key.kid for key in await keys.resolve({"kid": "k1"})] == ["k1"]
    assert keys.url == JWKS_URL


# ---------------------------------------------------------------------------- warm-up and the lifespan


def _hello_app() -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    return Starlette(routes=[Route("/", hello)])


class Lifespan:
    """Drives the ASGI lifespan protocol by hand, recording what the app sends."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def run(self, app: Any) -> list[str]:
        await self.inbox.put({"type": "lifespan.startup"})
        await self.inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(app({"type": "lifespan", "asgi": {"version": "3.0"}}, self.receive, self.send), 5)
        return [message["type"] for message in self.sent]


async def test_the_middleware_fetches_keys_before_the_app_starts(clock: Clock) -> None:
    idp = FakeIdP()
    keys = resolver(idp, clock)
    seen: list[Any] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        seen.append(keys.ready)  # the app's own start-up sees the keys already loaded
        yield

    app = Starlette(lifespan=lifespan)
    middleware = JWTAuthMiddleware(app, verifier=verifier_over(keys, clock))
    assert await Lifespan().run(middleware) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen == [True]
    assert idp.fetches == 1


@pytest.mark.parametrize("behaviour", ["raises", "returns"])
async def test_warm_up_works_for_apps_without_lifespan_support(behaviour: str, clock: Clock) -> None:
    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if behaviour == "raises":
                raise RuntimeError("only HTTP here")
            return

    idp = FakeIdP()
    keys = resolver(idp, clock)
    middleware = JWTAuthMiddleware(http_only, verifier=verifier_over(keys, clock))
    assert await Lifespan().run(middleware) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert keys.ready


async def test_an_app_that_fails_its_own_start_up_still_fails(clock: Clock) -> None:
    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("database down")
        yield

    middleware = JWTAuthMiddleware(
        Starlette(lifespan=broken), verifier=verifier_over(resolver(FakeIdP(), clock), clock)
    )
    lifespan = Lifespan()
    with pytest.raises(RuntimeError, match="database down"):
        await lifespan.run(middleware)
    assert [message["type"] for message in lifespan.sent] == ["lifespan.startup.failed"]


async def test_identity_provider_down_at_start_up_fails_start_up_when_asked(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    idp = FakeIdP()
    idp.failure = httpx.ConnectError("refused")
    started: list[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append(True)
        yield

    keys = resolver(idp, clock, fail_on_startup=True)
    middleware = JWTAuthMiddleware(Starlette(lifespan=lifespan), verifier=verifier_over(keys, clock))
    runner = Lifespan()
    await runner.inbox.put({"type": "lifespan.startup"})
    await asyncio.wait_for(middleware({"type": "lifespan"}, runner.receive, runner.send), 5)
    assert runner.sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "asgi-jwt start-up failed: could not load the JWK Set from "
            f"{JWKS_URL}: request failed (ConnectError)",
        }
    ]
    assert started == []  # the app never started


async def test_identity_provider_down_at_start_up_starts_anyway_and_retries(caplog: pytest.LogCaptureFixture) -> None:
    idp = FakeIdP()
    idp.failure = httpx.ConnectError("refused")
    keys = JWKSResolver(JWKS_URL, client=idp.client(), cooldown=0.02)
    clock = Clock()
    verifier = verifier_over(keys, clock)
    app = JWTAuthMiddleware(_hello_app(), verifier=verifier)
    runner = Lifespan()
    await runner.inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(app({"type": "lifespan"}, runner.receive, runner.send))
    await until(lambda: bool(runner.sent))
    assert runner.sent == [{"type": "lifespan.startup.complete"}]
    assert "starting without the keys from" in caplog.text
    assert "requests are answered 503 until they can be fetched (retrying every 0.02 s)" in caplog.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        token = rsa_key("k1").encode(claims_for(clock.now))
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert "retry-after" in response.headers
        idp.failure = None
        await until(lambda: keys.ready)  # the background retry picks the keys up by itself
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    await runner.inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(lifespan, 5)
    assert runner.sent[-1] == {"type": "lifespan.shutdown.complete"}


async def test_shutdown_stops_the_background_retry() -> None:
    idp = FakeIdP()
    idp.failure = httpx.ConnectError("refused")
    keys = JWKSResolver(JWKS_URL, client=idp.client(), cooldown=0.01)
    await keys.startup()
    await until(lambda: idp.fetches >= 3)  # the start-up fetch, then retries every cooldown
    await keys.shutdown()
    assert not keys.fetching
    fetches = idp.fetches
    # Absence cannot be polled for: give a retry still running ten cooldowns to show itself.
    await asyncio.sleep(0.1)
    assert idp.fetches == fetches


async def test_verifiers_without_hooks_leave_the_lifespan_alone() -> None:
    class Plain:
        async def verify(self, token: str) -> dict[str, Any]:
            return {"sub": "alice"}

    received: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(receive)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    await JWTAuthMiddleware(app, verifier=Plain())({"type": "lifespan"}, receive, Lifespan().send)
    assert received == [receive]  # the very same callable: nothing wrapped


def test_remote_keys_page_lists_every_option() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "remote-keys.md").read_text(encoding="utf-8")
    table = page.split("\n## Options and defaults\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    assert documented == set(inspect.signature(JWKSResolver).parameters), "update docs/remote-keys.md"
