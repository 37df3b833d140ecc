"""WebSockets: authenticated before ``websocket.accept``, rejected before it.

Where the server offers the ``websocket.http.response`` extension (Starlette's
``TestClient`` does, so do uvicorn's implementations) the denial is an ordinary HTTP
401; without it, a ``websocket.close`` with the policy-violation code 1008.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from asgi_jwt import (
    InsufficientScope,
    InvalidToken,
    JWTAuthMiddleware,
    KeysUnavailable,
    MissingToken,
    SecretKey,
    TokenVerifier,
    current_claims,
)
from asgi_jwt.responses import websocket_close_code
from conftest import TokenFactory

BARE = 'Bearer realm="api"'


async def echo_identity(websocket: WebSocket) -> None:
    await websocket.accept()
    claims = current_claims()
    await websocket.send_json(
        {
            "identity": websocket.user.identity,
            "authenticated": websocket.user.is_authenticated,
            "scopes": sorted(websocket.auth.scopes),
            "current_sub": None if claims is None else claims.get("sub"),
        }
    )
    await websocket.close()


def ws_app(verifier: TokenVerifier, **options: Any) -> JWTAuthMiddleware:
    inner = Starlette(routes=[WebSocketRoute("/ws", echo_identity), WebSocketRoute("/public/ws", echo_identity)])
    return JWTAuthMiddleware(inner, verifier=verifier, query_param=True, current_claims=True, **options)


# --- through Starlette's TestClient (offers the denial-response extension) -----------------------


def test_accepted_with_a_token_in_the_header(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    client = TestClient(ws_app(verifier))
    token = make_token(sub="alice", scope="chat:read")
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token}"}) as websocket:
        assert websocket.receive_json() == {
            "identity": "alice",
            "authenticated": True,
            "scopes": ["chat:read"],
            "current_sub": "alice",
        }


def test_accepted_with_a_token_in_the_query_param(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    client = TestClient(ws_app(verifier))
    with client.websocket_connect(f"/ws?access_token={make_token(sub='bob')}") as websocket:
        assert websocket.receive_json()["identity"] == "bob"


def test_rejected_without_a_token_with_an_http_401(verifier: TokenVerifier) -> None:
    client = TestClient(ws_app(verifier))
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws"):
        pytest.fail("the connection must not be accepted")
    response = denied.value
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"detail": "Not authenticated", "error": None}


def test_rejected_with_a_bad_token_with_an_http_401(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    client = TestClient(ws_app(verifier))
    forged = make_token(key=SecretKey("a-different-secret-of-at-least-32-bytes!"))
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(f"/ws?access_token={forged}"):
        pytest.fail("the connection must not be accepted")
    response = denied.value
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Invalid token signature"'
    )
    assert response.json() == {"detail": "Invalid token signature", "error": "invalid_token"}
    assert forged not in response.text
    assert all(forged not in value for value in response.headers.values())


def test_an_excluded_websocket_path_is_anonymous(verifier: TokenVerifier) -> None:
    client = TestClient(ws_app(verifier, exclude_paths=["/public"]))
    with client.websocket_connect("/public/ws") as websocket:
        assert websocket.receive_json() == {
            "identity": "",
            "authenticated": False,
            "scopes": [],
            "current_sub": None,
        }


# --- raw ASGI: with and without the extension ----------------------------------------------------


class RecordingApp:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})


async def run_websocket(
    app: JWTAuthMiddleware, headers: list[tuple[bytes, bytes]], *, extensions: dict[str, Any] | None = None
) -> list[Message]:
    """Drive one WebSocket handshake by hand and return what the middleware sent."""
    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("192.0.2.10", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    if extensions is not None:
        scope["extensions"] = extensions
    inbound: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbound.pop(0) if inbound else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_without_the_extension_the_socket_is_closed_with_1008(verifier: TokenVerifier) -> None:
    inner = RecordingApp()
    sent = await run_websocket(JWTAuthMiddleware(inner, verifier=verifier), [])
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Not authenticated"}]
    assert inner.scopes == []


async def test_without_the_extension_a_bad_token_closes_with_1008(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    inner = RecordingApp()
    token = make_token(exp=1)
    sent = await run_websocket(
        JWTAuthMiddleware(inner, verifier=verifier), [(b"authorization", f"Bearer {token}".encode())]
    )
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Token has expired"}]
    assert inner.scopes == []


async def test_with_the_extension_the_denial_is_an_http_response(verifier: TokenVerifier) -> None:
    inner = RecordingApp()
    app = JWTAuthMiddleware(inner, verifier=verifier)
    sent = await run_websocket(app, [(b"authorization", b"Bearer")], extensions={"websocket.http.response": {}})
    assert [message["type"] for message in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    start, body = sent
    assert start["status"] == 400
    headers = dict(start["headers"])
    assert headers[b"www-authenticate"] == (
        b'Bearer realm="api", error="invalid_request", error_description="The Bearer token is empty"'
    )
    assert headers[b"cache-control"] == b"no-store"
    assert json.loads(body["body"]) == {"detail": "The Bearer token is empty", "error": "invalid_request"}
    assert inner.scopes == []


async def test_a_valid_token_reaches_the_app(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    inner = RecordingApp()
    token = make_token(sub="erin")
    sent = await run_websocket(
        JWTAuthMiddleware(inner, verifier=verifier), [(b"authorization", f"Bearer {token}".encode())]
    )
    assert sent == [{"type": "websocket.accept"}]
    [scope] = inner.scopes
    assert scope["user"].identity == "erin"
    assert scope["auth"].token == token


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
    assert websocket_close_code(MissingToken()) == 1008
    assert websocket_close_code(InsufficientScope("orders:read")) == 1008
    assert websocket_close_code(InvalidToken()) == 1008
    assert websocket_close_code(KeysUnavailable()) == 1013
