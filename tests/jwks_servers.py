"""Test helpers for remote keys over the wire: a real uvicorn server on 127.0.0.1 and a JWK Set endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_jwt import JWKSResolver, JWTAuthMiddleware, KeyPair, TokenVerifier
from conftest import AUDIENCE, ISSUER, Clock
from jwks_support import jwk_set, until


class Server:
    """One uvicorn server on a fixed 127.0.0.1 port, which the test can stop and start again."""

    def __init__(self, app: ASGIApp, *, lifespan: str = "off") -> None:
        self.app = app
        self.lifespan = lifespan
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Start serving; False when the app's start-up failed."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self.app,
            lifespan=self.lifespan,
            http="h11",
            ws="none",
            log_config=None,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.ensure_future(self._serve(self._server, sock))
        server, task = self._server, self._task
        await until(lambda: server.started or task.done())
        if self._task.done():
            sock.close()
        return self._server.started

    @staticmethod
    async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits this way when the app's start-up fails
            await server.serve(sockets=[sock])

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)
        self._server = self._task = None


class KeyServer:
    """A JWK Set endpoint whose answer the test controls, counting every request it gets."""

    def __init__(self, *keys: KeyPair) -> None:
        self.document = jwk_set(*keys)
        self.mode = "ok"
        self.fetches = 0
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.fetches += 1
        if self.mode == "hang":
            await self.release.wait()
        if self.mode == "500":
            await answer(send, 500, b"Internal Server Error", b"text/plain")
        elif self.mode == "garbage":
            await answer(send, 200, b"<html><body>Maintenance</body></html>", b"application/json")
        elif self.mode == "huge":  # streamed without a length: the client must stop reading by itself
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            for _ in range(100):
                await send({"type": "http.response.body", "body": b" " * 65536, "more_body": True})
            await send({"type": "http.response.body", "body": b"{}"})
        else:
            body = JSONResponse(self.document).body
            await answer(send, 200, body, b"application/json", (b"cache-control", b"public, max-age=300"))


async def answer(send: Send, status: int, body: bytes, content_type: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def protected_app(keys: JWKSResolver, clock: Clock) -> JWTAuthMiddleware:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": keys.ready}, status_code=200 if keys.ready else 503)

    app = Starlette(routes=[Route("/", whoami), Route("/health/ready", ready)])
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    return JWTAuthMiddleware(app, verifier=verifier, exclude_paths=["/health"])


async def asgi_get(app: ASGIApp, token: str) -> tuple[int, dict[bytes, bytes]]:
    """One GET through the raw ASGI interface: status and headers, no HTTP client in between."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("api", 80),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    started: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)

    await app(scope, receive, send)
    return started["status"], dict(started["headers"])
