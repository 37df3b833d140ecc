"""Publishing your own public keys as a JWK Set, so other services can verify your tokens.

A service that signs RS256/ES256/EdDSA tokens with a :class:`~asgi_jwt.KeyPair`
mounts :class:`JWKSEndpoint` at ``/.well-known/jwks.json``; the services that
verify point a :class:`~asgi_jwt.JWKSResolver` at it. Only public members are ever
written (``to_jwk`` never includes private numbers), and a shared HMAC secret is
refused outright: publishing it would let anyone mint tokens.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Receive, Scope, Send

from asgi_jwt._checks import is_int
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.jwkset import JWKSet
from asgi_jwt.keys import KeyPair, PublicKey, RotatingKeys, SecretKey, require_unique_kids

__all__ = ["JWKSEndpoint"]

Publishable = KeyPair | PublicKey | RotatingKeys | JWKSet


class JWKSEndpoint:
    """An ASGI app that serves the public JWK Set of your keys (``GET`` and ``HEAD``).

    Each key carries ``kty``, its public numbers, ``alg``, ``use: "sig"`` and a
    ``kid`` (its RFC 7638 thumbprint when it has none). For a ``RotatingKeys``, the
    current key and the previous ones are all published, so tokens signed before a
    rotation keep verifying. The document is built once; rotate by building a new
    endpoint (usually a restart with new key files).

    Args:
        keys: ``KeyPair``, ``PublicKey``, ``RotatingKeys`` or ``JWKSet`` objects.
        max_age: the ``Cache-Control: max-age`` sent, in seconds (default 300):
            how long verifiers may keep the set before they ask again.

    Mount it where verifiers look for it, and exclude it from authentication::

        routes = [Route("/.well-known/jwks.json", JWKSEndpoint(signing_keys))]
        app = JWTAuthMiddleware(Starlette(routes=routes), verifier=..., exclude_paths=["/.well-known"])
    """

    def __init__(self, *keys: Publishable, max_age: int = 300) -> None:
        if not is_int(max_age) or max_age < 0:
            raise ConfigurationError("max_age must be a whole number of seconds, zero or more")
        jwks: list[dict[str, Any]] = []
        for item in keys:
            jwks.extend(_public_jwks(item))
        if not jwks:
            raise ConfigurationError("JWKSEndpoint needs at least one public key to publish")
        require_unique_kids((jwk["kid"] for jwk in jwks), "JWKSEndpoint")
        self.jwks: dict[str, Any] = {"keys": jwks}
        self._body = json.dumps(self.jwks, separators=(",", ":")).encode()
        self._headers = [
            (b"content-type", b"application/jwk-set+json"),  # RFC 7517 §8.5.1
            (b"content-length", str(len(self._body)).encode()),
            (b"cache-control", f"public, max-age={max_age}".encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own (uvicorn asgi_jwt_keys:app): nothing to set up
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"GET, HEAD"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        await send({"type": "http.response.body", "body": self._body if method == "GET" else b""})

    def __repr__(self) -> str:
        return f"JWKSEndpoint(kids={[jwk['kid'] for jwk in self.jwks['keys']]!r})"


def _public_jwks(item: Any) -> list[dict[str, Any]]:
    if isinstance(item, SecretKey):
        raise ConfigurationError("a SecretKey is a shared secret: publishing it would let anyone sign tokens")
    if isinstance(item, (KeyPair, PublicKey)):
        return [item.to_jwk()]
    if isinstance(item, RotatingKeys):
        return [jwk for member in (item.current, *item.previous) for jwk in _public_jwks(member)]
    if isinstance(item, JWKSet):
        return list(item.to_dict()["keys"])
    raise ConfigurationError(f"cannot publish {type(item).__name__}: pass KeyPair, PublicKey, RotatingKeys or JWKSet")
