"""A plain ASGI callable, no framework: the middleware only needs the ASGI 3 interface."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.types import Message, Receive, Scope, Send

from asgi_jwt import JWTAuthMiddleware, TokenVerifier
from conftest import TokenFactory


async def plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo what the middleware wrote into the scope, and the request body."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    payload = {
        "user": scope["user"].identity,
        "authenticated": scope["user"].is_authenticated,
        "role": scope["auth"].claims.get("role"),
        "echo": body.decode(),
    }
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def client_for(verifier: TokenVerifier, **options: Any) -> httpx.AsyncClient:
    app = JWTAuthMiddleware(plain_app, verifier=verifier, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_plain_asgi_app_gets_the_claims_and_the_body(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    async with client_for(verifier) as client:
        response = await client.post(
            "/anything", content=b"x" * 100_000, headers={"Authorization": f"Bearer {make_token(role='admin')}"}
        )
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "authenticated": True, "role": "admin", "echo": "x" * 100_000}


async def test_a_plain_asgi_app_is_protected(verifier: TokenVerifier) -> None:
    async with client_for(verifier) as client:
        response = await client.post("/anything", content=b"{}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_optional_mode_around_a_plain_app(verifier: TokenVerifier) -> None:
    async with client_for(verifier, optional=True) as client:
        response = await client.post("/anything", content=b"hi")
    assert response.json() == {"user": "", "authenticated": False, "role": None, "echo": "hi"}


async def test_a_streamed_response_is_not_buffered(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    """Each message reaches the server as soon as the app sends it."""
    sent: list[Message] = []

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert len(sent) == 1
        for index in range(3):
            await send({"type": "http.response.body", "body": f"chunk{index};".encode(), "more_body": index < 2})
            assert len(sent) == 2 + index

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {make_token()}".encode())],
    }
    await JWTAuthMiddleware(streaming, verifier=verifier)(scope, receive, send)
    assert b"".join(message.get("body", b"") for message in sent) == b"chunk0;chunk1;chunk2;"
