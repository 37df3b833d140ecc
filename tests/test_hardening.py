"""Regressions from an adversarial review: odd key sets, subclassed verifiers, log forging, odd headers."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from asgi_jwt import (
    ConfigurationError,
    InvalidToken,
    JWKSet,
    JWKSResolver,
    JWTAuthMiddleware,
    KeyPair,
    KeysUnavailable,
    PublicKey,
    TokenVerifier,
)
from conftest import AUDIENCE, ISSUER, SECRET, Clock, TokenFactory
from jwks_support import b64
from test_websocket import RecordingApp, run_websocket


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def get(app: Any, headers: dict[str, str] | None = None, path: str = "/") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


GOOD = KeyPair.generate("RS256", kid="good")


@pytest.mark.parametrize(
    "bad",
    [
        {"kty": ["RSA"], "kid": "bad"},
        {"kty": {"RSA": 1}, "kid": "bad"},
        {**KeyPair.generate("RS256").to_jwk(), "kid": "bad", "alg": ["RS256"]},
        {**KeyPair.generate("RS256").to_jwk(), "kid": "bad", "alg": {}},
        {**KeyPair.generate("ES256").to_jwk(), "kid": "bad", "alg": ""},
    ],
    ids=["kty-list", "kty-object", "alg-list", "alg-object", "alg-empty"],
)
async def test_one_oddly_shaped_key_is_skipped_not_fatal(bad: dict[str, Any], clock: Clock) -> None:
    keys = JWKSet({"keys": [GOOD.to_jwk(), bad]})
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": clock.now + 60}
    assert (await verifier.verify(GOOD.encode(claims)))["sub"] == "alice"
    assert [key.kid for key in keys.verification_keys] == ["good"]


@pytest.mark.parametrize("alg", [{}, [], "", "none", "RSA-OAEP", 5])
def test_from_jwk_refuses_an_alg_that_is_not_a_signature_algorithm(alg: Any) -> None:
    with pytest.raises(ConfigurationError, match="is not a supported signature algorithm"):
        PublicKey.from_jwk({**GOOD.to_jwk(), "alg": alg})


@pytest.mark.parametrize("url", ["https://[::1", "https://[::1/jwks.json", "https://example.com:notaport/"])
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        JWKSResolver(url)


async def test_a_subclass_that_overrides_verify_sees_every_request(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    """A denylist in an overridden ``verify`` must not be bypassed by the verified-token cache."""
    revoked: set[str] = set()

    class RevokingVerifier(TokenVerifier):
        async def verify(self, token: str) -> Any:
            claims = await super().verify(token)
            if claims.get("jti") in revoked:
                raise InvalidToken("Token has been revoked")
            return claims

    app = JWTAuthMiddleware(ok, verifier=RevokingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock))
    headers = {"Authorization": f"Bearer {make_token(jti='j1')}"}
    assert (await get(app, headers)).status_code == 200
    revoked.add("j1")
    refused = await get(app, headers)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token has been revoked", "error": "invalid_token"}


async def test_a_subclass_that_overrides_both_keeps_its_cache(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    calls: list[str] = []

    class CountingVerifier(TokenVerifier):
        async def verify(self, token: str) -> Any:
            calls.append("verify")
            return await super().verify(token)

        def cached(self, token: str) -> Any:
            return super().cached(token)

    app = JWTAuthMiddleware(ok, verifier=CountingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock))
    headers = {"Authorization": f"Bearer {make_token()}"}
    for _ in range(3):
        assert (await get(app, headers)).status_code == 200
    assert calls == ["verify"]


async def test_a_subclass_checking_hits_in_its_own_cached_is_asked_for_every_hit(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    """A denylist in an overridden ``cached`` (and ``verify``) applies to repeated tokens too."""
    revoked: set[str] = set()

    class RevokingVerifier(TokenVerifier):
        def _refuse_revoked(self, claims: Any) -> Any:
            if claims is not None and claims.get("jti") in revoked:
                raise InvalidToken("Token has been revoked")
            return claims

        async def verify(self, token: str) -> Any:
            return self._refuse_revoked(await super().verify(token))

        def cached(self, token: str) -> Any:
            return self._refuse_revoked(super().cached(token))

    app = JWTAuthMiddleware(ok, verifier=RevokingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock))
    headers = {"Authorization": f"Bearer {make_token(jti='j1')}"}
    for _ in range(2):
        assert (await get(app, headers)).status_code == 200
    revoked.add("j1")
    refused = await get(app, headers)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token has been revoked", "error": "invalid_token"}


class DelegatingVerifier:
    """A wrapper that adds a denylist in its own ``verify`` and delegates everything else to a TokenVerifier."""

    def __init__(self, inner: TokenVerifier) -> None:
        self.inner = inner
        self.revoked: set[str] = set()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def verify(self, token: str) -> Any:
        self.calls += 1
        claims = await self.inner.verify(token)
        if claims.get("jti") in self.revoked:
            raise InvalidToken("Token has been revoked")
        return claims


async def test_a_wrapper_delegating_with_getattr_has_its_verify_run_on_every_request(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    """The inner verifier's cached() reached through __getattr__ is not the wrapper's own: no shortcut."""
    wrapper = DelegatingVerifier(verifier)
    app = JWTAuthMiddleware(ok, verifier=wrapper)
    headers = {"Authorization": f"Bearer {make_token(jti='j1')}"}
    for _ in range(3):
        assert (await get(app, headers)).status_code == 200
    assert wrapper.calls == 3
    wrapper.revoked.add("j1")
    refused = await get(app, headers)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token has been revoked", "error": "invalid_token"}


async def test_a_request_path_cannot_forge_log_lines(verifier: TokenVerifier, caplog: pytest.LogCaptureFixture) -> None:
    scope_path = "/x\nINFO asgi_jwt accepted GET /admin"

    async def receive() -> Mapping[str, Any]:
        return {"type": "http.request", "body": b""}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": scope_path, "headers": [], "query_string": b""}
    with caplog.at_level(logging.INFO, logger="asgi_jwt"):
        await JWTAuthMiddleware(ok, verifier=verifier)(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 401
    (line,) = [record.getMessage() for record in caplog.records if record.name == "asgi_jwt"]
    assert "\n" not in line
    assert "/x\\nINFO asgi_jwt accepted GET /admin" in line


@pytest.mark.parametrize("value", ["Bearer \t", "bearer  \t "])
async def test_bearer_with_only_whitespace_is_an_invalid_request(verifier: TokenVerifier, value: str) -> None:
    response = await get(JWTAuthMiddleware(ok, verifier=verifier), {"Authorization": value})
    assert response.status_code == 400
    assert response.json() == {"detail": "The Bearer token is empty", "error": "invalid_request"}


def hs256(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign by hand: PyJWT drops a ``typ`` of ``None`` instead of writing ``null``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.digest(SECRET.encode(), signing_input.encode(), 'sha256'))}"


async def test_a_null_typ_header_is_refused(verifier: TokenVerifier, clock: Clock) -> None:
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60}
    app = JWTAuthMiddleware(ok, verifier=verifier)
    assert (await get(app, {"Authorization": f"Bearer {hs256({'alg': 'HS256'}, claims)}"})).status_code == 200
    token = hs256({"alg": "HS256", "typ": None}, claims)
    response = await get(app, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Token type is not accepted here", "error": "invalid_token"}


async def test_keys_unavailable_closes_a_websocket_with_try_again_later(make_token: TokenFactory) -> None:
    class Outage:
        async def verify(self, token: str) -> Mapping[str, Any]:
            raise KeysUnavailable()

    inner = RecordingApp()
    sent = await run_websocket(
        JWTAuthMiddleware(inner, verifier=Outage()), [(b"authorization", f"Bearer {make_token()}".encode())]
    )
    assert sent == [
        {"type": "websocket.close", "code": 1013, "reason": "Authentication keys are temporarily unavailable"}
    ]
    assert inner.scopes == []


def test_one_close_code_rule_for_every_websocket_refusal() -> None:
    from asgi_jwt import InsufficientScope, MissingToken
    from asgi_jwt.responses import websocket_close_code

    assert websocket_close_code(MissingToken()) == 1008
    assert websocket_close_code(InsufficientScope("orders:read")) == 1008
    assert websocket_close_code(InvalidToken()) == 1008
    assert websocket_close_code(KeysUnavailable()) == 1013
