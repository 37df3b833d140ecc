"""What every benchmark shares: keys, token factories, the synthetic request, the trivial endpoint.

Every app under test answers the same request (``GET /`` with a bearer token and a few
ordinary headers) with the same trivial JSON body, and every authenticating app is
configured like asgi-jwt's verifier: signature, ``exp``, ``iss`` and ``aud`` checked.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import platform
import time
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import KeyPair, MemoryRevocationStore, SecretKey

SECRET = "benchmark-secret-that-is-long-enough-for-hs256"
OTHER_SECRET = "another-secret-that-signs-the-invalid-tokens!!"
ISSUER = "https://auth.example.com"
AUDIENCE = "orders-api"
ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")
LIFETIME = 3600  # seconds: no token expires during a run

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"host", b"api.example.com"),
    (b"user-agent", b"benchmark/1.0"),
    (b"accept", b"application/json"),
    (b"accept-encoding", b"gzip, deflate"),
)
SCOPE_TEMPLATE: Mapping[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "root_path": "",
    "query_string": b"",
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def make_scope(token: str | None) -> dict[str, Any]:
    """A fresh HTTP scope for ``GET /`` (apps write into scopes, so each request gets its own)."""
    headers = list(HEADERS)
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode("ascii")))
    return {**SCOPE_TEMPLATE, "headers": headers, "state": {}}


async def receive() -> dict[str, Any]:
    """The ASGI ``receive`` of a GET: one empty body."""
    return {"type": "http.request", "body": b"", "more_body": False}


class Statuses(list[int]):
    """An ASGI ``send`` that keeps the status of every response it is given."""

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.append(message["status"])


async def endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def bare_app() -> Starlette:
    """The baseline: a Starlette app with one trivial route and no authentication."""
    return Starlette(routes=[Route("/", endpoint)])


class Keys:
    """One signing key per algorithm, generated once per run, and their PEM forms."""

    def __init__(self) -> None:
        self.secret = SecretKey(SECRET)
        self.other_secret = SecretKey(OTHER_SECRET)
        self.pairs = {alg: KeyPair.generate(alg) for alg in ALGORITHMS if alg != "HS256"}

    def signer(self, algorithm: str) -> SecretKey | KeyPair:
        return self.secret if algorithm == "HS256" else self.pairs[algorithm]

    def verification_key(self, algorithm: str) -> Any:
        """What ``jwt.decode`` is given: the secret, or a parsed public key object."""
        return SECRET if algorithm == "HS256" else self.pairs[algorithm].public_key.key

    def public_pem(self, algorithm: str) -> str:
        return self.pairs[algorithm].public_pem().decode()


class Tokens:
    """Signed tokens with ordinary claims; each :meth:`fresh` token has never been seen."""

    _serial = itertools.count()

    def __init__(self, signer: SecretKey | KeyPair) -> None:
        self.signer = signer
        self.repeated = self.make()

    def make(self) -> str:
        now = int(time.time())
        claims = {
            "sub": "user-1234",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + LIFETIME,
            "scope": "orders:read orders:write",
            "jti": f"bench-{next(self._serial)}",
        }
        return self.signer.encode(claims)

    def fresh(self, count: int) -> list[str]:
        return [self.make() for _ in range(count)]


def versions() -> dict[str, str]:
    """Versions of Python and of every library a row may use (``-`` when not installed)."""
    found = {"python": platform.python_version()}
    for name in ("asgi-jwt", "starlette", "PyJWT", "cryptography", "fastapi", "mcp", "authx", "uvicorn", "httpx"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def machine() -> dict[str, Any]:
    """The machine a run was measured on; ratios travel between machines, absolute times do not."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}"}


async def revocations_in_use(store: MemoryRevocationStore) -> None:
    """A store in use: revoked tokens, families and subjects, and a cut-off for the benchmark's own user
    (an hour ago, so its tokens pass after the comparison of ``iat``): every table of the check is consulted."""
    now = time.time()
    for index in range(1000):
        await store.revoke(f"revoked-{index}", expires_at=now + 3600)
    for index in range(100):
        await store.revoke_family(f"family-{index}", expires_at=now + 3600)
        await store.revoke_subject(f"user-{index}", before=now, expires_at=now + 3600)
    await store.revoke_subject("user-1234", before=now - 3600, expires_at=now + 3600)
