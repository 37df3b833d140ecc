"""Test helpers for remote keys: a scriptable identity provider behind ``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx

from asgi_jwt import JWKSResolver, KeyPair, TokenVerifier
from conftest import AUDIENCE, ISSUER

JWKS_URL = "https://idp.example.com/.well-known/jwks.json"


@functools.cache
def rsa_key(name: str) -> KeyPair:
    """An RS256 key pair per name, generated once per test run (RSA generation is slow)."""
    return KeyPair.generate("RS256", kid=name)


@functools.cache
def ec_key(name: str) -> KeyPair:
    return KeyPair.generate("ES256", kid=name)


def jwk_set(*keys: KeyPair) -> dict[str, Any]:
    return {"keys": [key.to_jwk() for key in keys]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any] | None = None) -> str:
    """A token with a bogus signature: enough for anything rejected before the signature check."""
    payload = claims if claims is not None else {"sub": "mallory", "iss": ISSUER}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(b'x' * 64)}"


_serial = itertools.count()


def claims_for(now: float, **extra: Any) -> dict[str, Any]:
    """Claims valid for the ``verifier``; a fresh ``jti`` each time, so no two tokens are the same."""
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": int(now), "exp": int(now) + 300}
    claims["jti"] = f"t{next(_serial)}"
    claims.update(extra)
    return claims


class FakeIdP:
    """Serves a JWK Set through ``httpx.MockTransport``; the test changes what it answers.

    ``document`` is served as JSON; ``failure`` (an exception to raise, or a
    function returning an ``httpx.Response``) replaces the answer while set;
    ``gate`` (an ``asyncio.Event``), when set, holds every answer until it fires.
    """

    def __init__(
        self, document: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None, url: str = JWKS_URL
    ) -> None:
        self.url = url
        self.document: Any = document if document is not None else jwk_set(rsa_key("k1"))
        self.headers = headers or {}
        self.failure: Exception | Callable[[httpx.Request], httpx.Response] | None = None
        self.gate: asyncio.Event | None = None
        self.requests: list[httpx.Request] = []
        self.routes: dict[str, Any] = {}

    @property
    def fetches(self) -> int:
        return sum(1 for request in self.requests if str(request.url) == self.url)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            if isinstance(self.failure, Exception):
                raise self.failure
            return self.failure(request)
        url = str(request.url)
        if url in self.routes:
            route = self.routes[url]
            if isinstance(route, httpx.Response):
                return route
            return httpx.Response(200, json=route)
        if url != self.url:
            return httpx.Response(404)
        return httpx.Response(200, json=self.document, headers=self.headers)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def resolver(idp: FakeIdP, clock: Callable[[], float], **options: Any) -> JWKSResolver:
    return JWKSResolver(idp.url, client=idp.client(), clock=clock, **options)


def verifier_over(keys: JWKSResolver, clock: Callable[[], float], **options: Any) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock, **options)


async def until(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Poll ``condition`` on the event loop until it holds; fail after ``timeout`` seconds (never hang)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {condition}")
        await asyncio.sleep(0.001)


async def settle(keys: JWKSResolver) -> None:
    """Wait until the resolver has no fetch under way (a background refresh it started, say)."""
    await until(lambda: not keys.fetching)
