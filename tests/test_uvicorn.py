"""Through a real uvicorn server on 127.0.0.1: HTTP and WebSocket handshakes over the wire.

One server per module, started in a thread on a free port and stopped in the
fixture's teardown. uvicorn offers the ``websocket.http.response`` extension, so a
rejected handshake is our 401; a ``/legacy`` prefix hides the extension from the
middleware to show what a server without it does with our close code 1008 (an
HTTP 403).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier
from conftest import AUDIENCE, ISSUER, SECRET

STARTUP_TIMEOUT = 10.0


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity, "client": request.client.host if request.client else None})


async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user": websocket.user.identity})
    await websocket.close()


def hide_websocket_extensions(app: ASGIApp) -> ASGIApp:
    """Play a server without the denial-response extension under ``/legacy``."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith("/legacy"):
            scope = {name: value for name, value in scope.items() if name != "extensions"}
        await app(scope, receive, send)

    return wrapper


def build_app() -> ASGIApp:
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE)
    inner = Starlette(
        routes=[Route("/orders", orders), WebSocketRoute("/ws", chat), WebSocketRoute("/legacy/ws", chat)]
    )
    return hide_websocket_extensions(
        JWTAuthMiddleware(inner, verifier=verifier, query_param=True, query_param_http=True)
    )


def mint(**claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
    return SecretKey(SECRET).encode(payload)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(
        build_app(), ws="websockets-sansio", lifespan="on", log_config=None, access_log=False, log_level="warning"
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not uvicorn_server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.01)
        yield f"{host}:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(STARTUP_TIMEOUT)
        sock.close()
    assert not thread.is_alive()


async def test_http_401_without_a_token_and_200_with_one(server: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgi_jwt")
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=5) as client:
        anonymous = await client.get("/orders")
        token = mint(sub="alice")
        signed_in = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    assert anonymous.headers["cache-control"] == "no-store"
    assert anonymous.json() == {"detail": "Not authenticated", "error": None}
    assert signed_in.status_code == 200
    assert signed_in.json() == {"user": "alice", "client": "127.0.0.1"}
    messages = [record.getMessage() for record in caplog.records if record.name == "asgi_jwt"]
    assert len(messages) == 1
    assert "missing_token" in messages[0]
    assert "127.0.0.1" in messages[0]


async def test_http_expired_token(server: str) -> None:
    token = mint(iat=int(time.time()) - 3600, exp=int(time.time()) - 600)
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=5) as client:
        response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has expired"'
    )
    assert response.json() == {"detail": "Token has expired", "error": "invalid_token"}
    assert token not in response.text


async def test_http_token_in_the_query_string_gets_no_store(server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=5) as client:
        response = await client.get("/orders", params={"access_token": mint(sub="bob")})
    assert response.status_code == 200
    assert response.json()["user"] == "bob"
    assert response.headers["cache-control"] == "no-store"


async def test_websocket_accepted_with_a_token_in_the_query_param(server: str) -> None:
    async with connect(f"ws://{server}/ws?access_token={mint(sub='carol')}", open_timeout=5) as ws:
        assert json.loads(await ws.recv()) == {"user": "carol"}


async def test_websocket_accepted_with_a_token_in_the_header(server: str) -> None:
    headers = {"Authorization": f"Bearer {mint(sub='dave')}"}
    async with connect(f"ws://{server}/ws", additional_headers=headers, open_timeout=5) as ws:
        assert json.loads(await ws.recv()) == {"user": "dave"}


async def test_websocket_rejected_during_the_handshake_with_our_401(server: str) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(f"ws://{server}/ws", open_timeout=5):
            pytest.fail("the handshake must be rejected")
    response = rejected.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert json.loads(response.body) == {"detail": "Not authenticated", "error": None}


async def test_websocket_with_a_bad_token_is_rejected_with_401(server: str) -> None:
    forged = SecretKey("a-different-secret-of-at-least-32-bytes!").encode({"sub": "mallory", "exp": 2**40})
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(f"ws://{server}/ws?access_token={forged}", open_timeout=5):
            pytest.fail("the handshake must be rejected")
    response = rejected.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Invalid token signature"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert forged.encode() not in response.body


async def test_websocket_without_the_extension_closes_and_uvicorn_answers_403(server: str) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(f"ws://{server}/legacy/ws", open_timeout=5):
            pytest.fail("the handshake must be rejected")
    assert rejected.value.response.status_code == 403
    async with connect(f"ws://{server}/legacy/ws?access_token={mint(sub='erin')}", open_timeout=5) as ws:
        assert json.loads(await ws.recv()) == {"user": "erin"}
