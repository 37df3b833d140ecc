"""Remote keys over the wire: real uvicorn servers on 127.0.0.1, in the test's own event loop.

A JWK Set server whose keys the tests rotate, break and bring back, and the round
trip between a service that publishes its keys (``JWKSEndpoint``) and one that
verifies them (``JWKSResolver`` behind ``JWTAuthMiddleware``). Fetch counts are
taken on the server side. Cooldowns, TTLs and stale periods are crossed with the
settable clock; only the timeout test waits (half a second).
"""

from __future__ import annotations

import asyncio
import logging
import runpy
import secrets
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_jwt import (
    ConfigurationError,
    JWKSEndpoint,
    JWKSError,
    JWKSet,
    JWKSResolver,
    KeyPair,
    PublicKey,
    RotatingKeys,
    SecretKey,
    jwk_thumbprint,
)
from conftest import SECRET, Clock
from jwks_servers import KeyServer, Server, asgi_get, protected_app
from jwks_support import claims_for, jwk_set, rsa_key, unsigned_token, until

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "jwks_services.py"


@pytest.fixture
async def key_server() -> AsyncIterator[tuple[KeyServer, Server]]:
    keys = KeyServer(rsa_key("k1"))
    server = Server(keys)
    assert await server.start()
    yield keys, server
    keys.release.set()
    await server.stop()


async def test_a_rotated_key_is_accepted_after_one_refetch(key_server: tuple[KeyServer, Server], clock: Clock) -> None:
    keys_served, server = key_server
    keys = JWKSResolver(f"{server.url}/jwks.json", clock=clock)
    app = protected_app(keys, clock)
    assert (await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now))))[0] == 200
    keys_served.document = jwk_set(rsa_key("k1"), rsa_key("k2"))  # the identity provider adds a key
    clock.now += 31
    assert (await asgi_get(app, rsa_key("k2").encode(claims_for(clock.now))))[0] == 200
    assert keys_served.fetches == 2
    assert keys.version == 2


async def test_ten_thousand_random_kids_cause_one_fetch_per_cooldown(
    key_server: tuple[KeyServer, Server], clock: Clock
) -> None:
    keys_served, server = key_server
    keys = JWKSResolver(f"{server.url}/jwks.json", clock=clock, cooldown=30)
    app = protected_app(keys, clock)
    await keys.refresh()
    for round_ in (1, 2):
        clock.now += 30
        statuses: list[int] = []
        for _ in range(20):  # 20 concurrent bursts of 500: 10,000 requests
            tokens = [unsigned_token({"alg": "RS256", "kid": secrets.token_hex(8)}) for _ in range(500)]
            statuses += [status for status, _ in await asyncio.gather(*(asgi_get(app, token) for token in tokens))]
        assert statuses == [401] * 10_000
        assert keys_served.fetches == 1 + round_  # the first fetch, then one per cooldown
    assert (await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now))))[0] == 200


async def test_server_down_stale_keys_then_503_then_recovery(
    key_server: tuple[KeyServer, Server], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    _, server = key_server
    keys = JWKSResolver(f"{server.url}/jwks.json", clock=clock, stale_for=600, cooldown=30)
    app = protected_app(keys, clock)
    await keys.refresh()
    await server.stop()  # the identity provider goes down
    clock.now += 301  # the keys expire: the refresh fails, the stale keys keep serving
    assert (await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now))))[0] == 200
    await until(lambda: not keys.fetching)  # the background refresh fails fast (connection refused)
    assert "refreshing the JWK Set from" in caplog.text
    assert "failed (request failed (ConnectError)); still using the keys fetched 301 s ago" in caplog.text
    clock.now += 598
    assert (await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now))))[0] == 200
    clock.now += 1  # 900 s after the fetch: TTL 300 + stale period 600 are over
    status, headers = await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now)))
    assert status == 503
    assert int(headers[b"retry-after"]) > 0
    assert not keys.ready
    assert await server.start()  # the identity provider is back
    clock.now += 30
    assert (await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now))))[0] == 200
    assert keys.ready


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("500", "HTTP status 500"),
        ("garbage", "the response is not valid JSON"),
        ("huge", "the response is larger than 65536 bytes"),
        ("hang", "no complete answer within 0.5 s"),
    ],
)
async def test_broken_answers_keep_the_last_good_keys(
    mode: str, reason: str, key_server: tuple[KeyServer, Server], clock: Clock
) -> None:
    keys_served, server = key_server
    keys = JWKSResolver(f"{server.url}/jwks.json", clock=clock, timeout=0.5, max_bytes=65536)
    app = protected_app(keys, clock)
    await keys.refresh()
    keys_served.mode = mode
    with pytest.raises(JWKSError) as caught:
        await keys.refresh()
    assert str(caught.value) == f"could not load the JWK Set from {server.url}/jwks.json: {reason}"
    assert (await asgi_get(app, rsa_key("k1").encode(claims_for(clock.now))))[0] == 200
    keys_served.mode = "ok"
    keys_served.document = jwk_set(rsa_key("k2"))
    await keys.refresh()  # recovers by itself on the next fetch
    assert keys.key_set is not None
    assert keys.key_set.kids == {"k2"}


async def test_start_up_fails_when_asked_and_the_identity_provider_is_down(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/jwks.json"
    closed.close()
    keys = JWKSResolver(nowhere, clock=clock, fail_on_startup=True)
    server = Server(protected_app(keys, clock), lifespan="on")
    assert not await server.start()
    await server.stop()
    assert f"asgi-jwt start-up failed: could not load the JWK Set from {nowhere}: request failed" in caplog.text


async def test_start_up_goes_on_without_keys_by_default(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    keys = JWKSResolver(f"http://127.0.0.1:{port}/jwks.json", clock=clock, cooldown=0.05)
    service = Server(protected_app(keys, clock), lifespan="on")
    assert await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url) as client:
            response = await client.get("/health/ready")
            assert (response.status_code, response.json()) == (503, {"ready": False})
            token = rsa_key("k1").encode(claims_for(clock.now))
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
    finally:
        await service.stop()
    assert "starting without the keys from" in caplog.text


# ---------------------------------------------------------------------------- publishing: the round trip


async def test_round_trip_service_a_publishes_service_b_verifies(clock: Clock) -> None:
    signing = KeyPair.generate("RS256")  # kid: its RFC 7638 thumbprint
    published: dict[str, ASGIApp] = {"jwks": JWKSEndpoint(signing)}
    fetches: list[str] = []

    class Counted:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            fetches.append(scope["path"])
            await published["jwks"](scope, receive, send)

    service_a = Server(Starlette(routes=[Route("/.well-known/jwks.json", Counted())]))
    assert await service_a.start()
    keys = JWKSResolver(f"{service_a.url}/.well-known/jwks.json", clock=clock)
    service_b = Server(protected_app(keys, clock), lifespan="on")  # its lifespan fetches A's keys
    assert await service_b.start()
    try:
        assert fetches == ["/.well-known/jwks.json"]
        async with httpx.AsyncClient(base_url=service_b.url) as client:
            assert (await client.get("/health/ready")).json() == {"ready": True}
            token = signing.encode(claims_for(clock.now, sub="service-a"))
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert (response.status_code, response.json()) == (200, {"sub": "service-a"})
            impostor = KeyPair.generate("RS256", kid=signing.kid).encode(claims_for(clock.now))
            response = await client.get("/", headers={"Authorization": f"Bearer {impostor}"})
            assert response.status_code == 401
            assert response.json()["detail"] == "Invalid token signature"
            # A rotates: it publishes the new key next to the old one, then signs with the new one.
            rotated = KeyPair.generate("RS256")
            published["jwks"] = JWKSEndpoint(RotatingKeys(rotated, signing))
            clock.now += 31
            for key in (rotated, signing):
                token = key.encode(claims_for(clock.now))
                assert (await client.get("/", headers={"Authorization": f"Bearer {token}"})).status_code == 200
            assert len(fetches) == 2
    finally:
        await service_b.stop()
        await service_a.stop()


# ---------------------------------------------------------------------------- publishing: the endpoint


async def test_the_endpoint_serves_public_keys_with_thumbprint_kids() -> None:
    named = rsa_key("k1")
    unnamed = KeyPair(KeyPair.generate("ES256").private_pem())
    endpoint = JWKSEndpoint(named, unnamed, max_age=600)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=endpoint), base_url="http://a") as client:
        response = await client.get("/.well-known/jwks.json")
        head = await client.head("/.well-known/jwks.json")
        post = await client.post("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"] == "public, max-age=600"
    served = response.json()["keys"]
    assert [jwk["kid"] for jwk in served] == ["k1", jwk_thumbprint(unnamed.to_jwk())]
    assert [(jwk["alg"], jwk["use"]) for jwk in served] == [("RS256", "sig"), ("ES256", "sig")]
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk) for jwk in served)
    assert JWKSet(response.json()).kids == {"k1", served[1]["kid"]}  # what we publish, we can read
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(response.content)))
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")


def test_the_endpoint_publishes_every_key_of_a_rotation() -> None:
    current, previous = KeyPair.generate("ES256"), rsa_key("k1")
    verify_only = PublicKey(KeyPair.generate("EdDSA").public_pem(), kid="ed")
    endpoint = JWKSEndpoint(RotatingKeys(current, previous), verify_only)
    assert [jwk["kid"] for jwk in endpoint.jwks["keys"]] == [current.kid, "k1", "ed"]
    assert JWKSEndpoint(JWKSet(jwk_set(previous))).jwks == {"keys": [previous.to_jwk()]}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ((SecretKey(SECRET),), "a SecretKey is a shared secret"),
        ((RotatingKeys(SecretKey(SECRET, kid="s")),), "a SecretKey is a shared secret"),
        ((), "needs at least one public key"),
        (("-----BEGIN PUBLIC KEY-----",), "cannot publish str"),
    ],
)
def test_the_endpoint_refuses_what_must_not_be_published(keys: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        JWKSEndpoint(*keys)
    assert message in str(caught.value)


def test_the_endpoint_refuses_duplicate_kids() -> None:
    with pytest.raises(ConfigurationError, match="several keys share the kid 'k1'"):
        JWKSEndpoint(rsa_key("k1"), KeyPair(KeyPair.generate("ES256").private_pem(), kid="k1"))
    with pytest.raises(ConfigurationError, match="max_age"):
        JWKSEndpoint(rsa_key("k1"), max_age=-1)


async def test_the_endpoint_runs_on_its_own_with_lifespan(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    server = Server(JWKSEndpoint(rsa_key("k1")), lifespan="on")
    assert await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server.url}/anything")
        assert response.json() == jwk_set(rsa_key("k1"))
    finally:
        await server.stop()
    assert "lifespan' protocol appears unsupported" not in caplog.text


async def test_the_example_services(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    issuer_server = Server(Starlette())  # the port first: the API reads the issuer's URL at import
    monkeypatch.setenv("JWKS_URL", f"{issuer_server.url}/.well-known/jwks.json")
    example = runpy.run_path(str(EXAMPLE))
    issuer_server.app = example["issuer"]
    api_server = Server(example["api"], lifespan="on")
    assert await issuer_server.start()
    assert await api_server.start()
    try:
        async with httpx.AsyncClient(base_url=api_server.url) as client:
            assert (await client.get("/health/ready")).json() == {"ready": True}
            claims = claims_for(time.time(), iss=example["ISSUER"], aud=example["AUDIENCE"])
            token = example["signing_key"].encode(claims)
            response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
            assert (response.status_code, response.json()) == (200, {"user": "alice", "orders": []})
            response = await client.get("/orders")
            assert response.status_code == 401
    finally:
        await api_server.stop()
        await issuer_server.stop()
