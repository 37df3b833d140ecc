"""Cookie tokens and cross-site request forgery: unsafe requests need a same-origin signal, on by default."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from asgi_jwt import ConfigurationError, CSRFProtection, JWTAuthMiddleware, TokenVerifier
from conftest import TokenFactory

REFUSED = {"detail": "Cross-site request refused", "error": None}


def build(verifier: TokenVerifier, ran: list[str], **options: Any) -> JWTAuthMiddleware:
    async def orders(request: Request) -> JSONResponse:
        ran.append(request.method)
        return JSONResponse({"identity": request.user.identity})

    app = Starlette(routes=[Route("/orders", orders, methods=["GET", "POST", "DELETE", "PUT", "PATCH"])])
    return JWTAuthMiddleware(app, verifier=verifier, cookie="access_token", **options)


async def send(app: JWTAuthMiddleware, method: str, headers: dict[str, str], base: str = "https://api.example") -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        return await client.request(method, "/orders", headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://api.example"},  # another scheme is another origin
        {"Origin": "https://evil.example", "X-CSRF-Token": "guess"},
    ],
    ids=["no-signal", "other-origin", "null-origin", "cross-site", "same-site", "other-scheme", "no-double-submit"],
)
@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH"])
async def test_a_cross_site_unsafe_request_with_only_the_cookie_is_refused(
    verifier: TokenVerifier, make_token: TokenFactory, headers: dict[str, str], method: str
) -> None:
    ran: list[str] = []
    app = build(verifier, ran)
    response = await send(app, method, {**headers, "Cookie": f"access_token={make_token()}"})
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == REFUSED
    assert ran == []


@pytest.mark.parametrize(
    ("headers", "base"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, "https://api.example"),
        ({"Sec-Fetch-Site": "none"}, "https://api.example"),
        ({"Origin": "https://api.example"}, "https://api.example"),
        ({"Origin": "https://API.example"}, "https://api.example:443"),  # default port, any case
        ({"Origin": "http://localhost:8000"}, "http://localhost:8000"),
    ],
    ids=["fetch-same-origin", "fetch-none", "own-origin", "own-origin-default-port", "own-origin-port"],
)
async def test_a_same_origin_signal_lets_the_cookie_through(
    verifier: TokenVerifier, make_token: TokenFactory, headers: dict[str, str], base: str
) -> None:
    ran: list[str] = []
    response = await send(build(verifier, ran), "POST", {**headers, "Cookie": f"access_token={make_token()}"}, base)
    assert (response.status_code, response.json(), ran) == (200, {"identity": "alice"}, ["POST"])


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_safe_methods_need_no_signal(verifier: TokenVerifier, make_token: TokenFactory, method: str) -> None:
    ran: list[str] = []
    headers = {"Origin": "https://evil.example", "Cookie": f"access_token={make_token()}"}
    response = await send(build(verifier, ran), method, headers)
    assert (response.status_code, ran) == (200, [method])


async def test_a_bearer_header_is_not_affected(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    ran: list[str] = []
    headers = {"Origin": "https://evil.example", "Authorization": f"Bearer {make_token()}"}
    response = await send(build(verifier, ran), "POST", headers)
    assert (response.status_code, ran) == (200, ["POST"])


async def test_a_lowercase_method_is_still_unsafe(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    """uvicorn's h11 passes ``post`` through as sent: it is a POST all the same."""
    ran: list[str] = []
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def record(message: dict[str, Any]) -> None:
        messages.append(message)

    headers = [(b"cookie", f"access_token={make_token()}".encode()), (b"origin", b"https://evil.example")]
    scope = {"type": "http", "method": "post", "path": "/orders", "query_string": b"", "headers": headers}
    await build(verifier, ran)(scope, receive, record)
    assert (messages[0]["status"], json.loads(messages[1]["body"]), ran) == (403, REFUSED, [])


async def test_trusted_origins_and_double_submit(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    ran: list[str] = []
    csrf = CSRFProtection(trusted_origins=["https://app.example"], double_submit=("csrf_token", "X-CSRF-Token"))
    app = build(verifier, ran, csrf=csrf)
    cookie = f"access_token={make_token()}; csrf_token=r4nd0m"
    trusted = await send(app, "POST", {"Origin": "https://app.example", "Cookie": cookie})
    submitted = await send(app, "POST", {"X-CSRF-Token": "r4nd0m", "Cookie": cookie})
    wrong = await send(app, "POST", {"X-CSRF-Token": "guess", "Cookie": cookie})
    untrusted = await send(app, "POST", {"Origin": "https://evil.example", "Cookie": cookie})
    assert [trusted.status_code, submitted.status_code, wrong.status_code, untrusted.status_code] == [
        200,
        200,
        403,
        403,
    ]
    assert ran == ["POST", "POST"]


async def test_csrf_false_turns_the_check_off(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    ran: list[str] = []
    headers = {"Origin": "https://evil.example", "Cookie": f"access_token={make_token()}"}
    response = await send(build(verifier, ran, csrf=False), "POST", headers)
    assert (response.status_code, ran) == (200, ["POST"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"csrf": "yes"}, "csrf must be True, False or a CSRFProtection"),
        ({"csrf": CSRFProtection(), "cookie": None}, "csrf protects tokens read from a cookie: set cookie= as well"),
    ],
)
def test_csrf_options_are_checked(verifier: TokenVerifier, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        JWTAuthMiddleware(Starlette(), verifier=verifier, **{"cookie": "access_token", **options})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trusted_origins": "https://app.example"}, "trusted_origins must be a list of origins, not one string"),
        ({"trusted_origins": ["https://app.example/"]}, "trusted_origins entries must be origins such as"),
        ({"trusted_origins": ["app.example"]}, "trusted_origins entries must be origins such as"),
        ({"trusted_origins": ["*"]}, "trusted_origins entries must be origins such as"),
        ({"double_submit": ("csrf_token",)}, "double_submit must be a (cookie name, header name) pair"),
    ],
)
def test_protection_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CSRFProtection(**options)
    assert str(caught.value).startswith(message)


def test_a_websocket_opened_by_another_site_with_the_cookie_is_refused(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    """Cross-site WebSocket hijacking: the handshake is a GET, but another site's page chose to open it."""
    accepted: list[str] = []

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        accepted.append(websocket.user.identity)
        await websocket.send_text("hello")
        await websocket.close()

    app = JWTAuthMiddleware(Starlette(routes=[WebSocketRoute("/ws", echo)]), verifier=verifier, cookie="access_token")
    cookie = {"Cookie": f"access_token={make_token()}"}
    with TestClient(app, base_url="http://testserver") as client:
        forged = {"Origin": "https://evil.example", **cookie}
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws", headers=forged):
            pass
        for headers in ({"Origin": "http://testserver", **cookie}, cookie):  # its own page; no browser at all
            with client.websocket_connect("/ws", headers=headers) as websocket:
                assert websocket.receive_text() == "hello"
    assert denied.value.status_code == 403
    assert denied.value.json() == REFUSED
    assert accepted == ["alice", "alice"]
