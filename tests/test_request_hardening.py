"""Bypasses an outside review found in the request path, each closed: what a client sees, and whether the app ran.

Method spelling (``post`` from uvicorn's h11), glob-looking rule paths, ``root_path`` without a segment boundary,
duplicate cookies, ``Bearer a b``, URL tokens on HTTP routes, and shared ``scope["auth"]`` objects an app could
write to. CSRF for cookie tokens has its own file (``test_csrf.py``); CORS preflights are in ``test_middleware.py``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from asgi_jwt import ConfigurationError, JWTAuthMiddleware, Rule, TokenVerifier
from conftest import TokenFactory

BARE = 'Bearer realm="api"'


class Recorder:
    """A raw ASGI app that records which requests reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.seen.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"done"})


async def raw_request(
    app: ASGIApp, method: str, path: str, headers: list[tuple[bytes, bytes]] = (), **scope: Any
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send a scope as a server would, spelling and all (httpx would upper-case the method)."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    full = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"", "headers": []}
    full.update(scope, headers=list(headers))
    await app(full, receive, send)
    start = messages[0]
    body = b"".join(message.get("body", b"") for message in messages[1:])
    return start["status"], dict(start["headers"]), body


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


# --- item 2: methods compared case-insensitively ------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "post", "Post"])
async def test_a_method_limited_rule_covers_every_spelling(
    verifier: TokenVerifier, make_token: TokenFactory, method: str
) -> None:
    app = Recorder()
    protected = JWTAuthMiddleware(app, verifier=verifier, rules=[Rule("/orders", "orders:write", methods="POST")])
    status, headers, body = await raw_request(protected, method, "/orders", bearer(make_token(scope="orders:read")))
    assert status == 403
    assert headers[b"www-authenticate"].startswith(b'Bearer realm="api", error="insufficient_scope"')
    assert json.loads(body)["error"] == "insufficient_scope"
    assert app.seen == []
    status, _, _ = await raw_request(protected, method, "/orders", bearer(make_token(scope="orders:write")))
    assert (status, app.seen) == (200, [(method, "/orders")])


@pytest.mark.parametrize("method", ["post", "Post"])
async def test_optional_mode_asks_a_lowercase_method_to_authenticate(verifier: TokenVerifier, method: str) -> None:
    app = Recorder()
    rules = [Rule("/orders", methods="POST")]
    protected = JWTAuthMiddleware(app, verifier=verifier, optional=True, rules=rules)
    status, headers, _ = await raw_request(protected, method, "/orders")
    assert (status, headers[b"www-authenticate"], app.seen) == (401, BARE.encode(), [])
    assert (await raw_request(protected, "get", "/orders"))[0] == 200  # not covered: served anonymously
    assert Rule("/orders", methods="POST").matches("/orders", "post")  # a direct caller gets the same answer


# --- item 3: glob-looking paths are refused at start-up ------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/*", "/admin/**", "/admin/{path:path}", "/files/{name}"])
def test_patterns_are_refused_in_rules_and_exclusions(verifier: TokenVerifier, path: str) -> None:
    hint = "('/admin' already covers everything below it)"
    with pytest.raises(ConfigurationError) as caught:
        Rule(path, "admin")
    assert str(caught.value) == f"a rule's path must be a literal path, not a pattern: {path!r} {hint}"
    with pytest.raises(ConfigurationError) as caught:
        JWTAuthMiddleware(Recorder(), verifier=verifier, exclude_paths=[path])
    assert str(caught.value) == f"exclude_paths entries must be literal paths, not patterns: {path!r} {hint}"


# --- item 4: root_path removed only at a segment boundary ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "excluded"),
    [("/api/reports", True), ("/api/reports/2026", True), ("/apix/reports", False), ("/api", False)],
)
async def test_root_path_is_removed_only_at_a_segment_boundary(
    verifier: TokenVerifier, path: str, excluded: bool
) -> None:
    """With root_path /api, /apix/reports is not /api + x/reports: Starlette routes it as /apix/reports."""
    app = Recorder()
    protected = JWTAuthMiddleware(app, verifier=verifier, exclude_paths=["/reports"])
    status, _, _ = await raw_request(protected, "GET", path, root_path="/api")
    assert status == (200 if excluded else 401)
    assert app.seen == ([("GET", path)] if excluded else [])


@pytest.mark.parametrize("guarded", ["/apix/reports", "/"])
async def test_rules_see_the_path_the_router_sees(
    verifier: TokenVerifier, make_token: TokenFactory, guarded: str
) -> None:
    """Once /apix/reports was checked as x/reports, which no rule (not even "/") covers: the app ran."""
    app = Recorder()
    protected = JWTAuthMiddleware(app, verifier=verifier, rules=[Rule(guarded, "reports:read")])
    token = make_token(scope="orders:read")
    status, headers, _ = await raw_request(protected, "GET", "/apix/reports", bearer(token), root_path="/api")
    assert (status, app.seen) == (403, [])
    assert b'error="insufficient_scope"' in headers[b"www-authenticate"]
    status, _, _ = await raw_request(protected, "GET", "/apix/reports", bearer(make_token(scope="reports:read")))
    assert status == 200


# --- item 7: duplicate cookies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookies",
    [
        [b"access_token=A; access_token=B"],
        [b"access_token=A", b"access_token=B"],
        [b"theme=dark; access_token=A", b"access_token=A"],  # even the same value twice: one place, once
        [b"access_token=; access_token=B"],
    ],
    ids=["one-header", "two-headers", "same-value", "one-empty"],
)
async def test_a_repeated_cookie_is_an_invalid_request(
    verifier: TokenVerifier, make_token: TokenFactory, cookies: list[bytes]
) -> None:
    app = Recorder()
    protected = JWTAuthMiddleware(app, verifier=verifier, cookie="access_token")
    token = make_token()
    headers = [(b"cookie", value.replace(b"A", token.encode())) for value in cookies]
    status, answer, body = await raw_request(protected, "GET", "/orders", headers)
    description = "Only one access token cookie is allowed"
    assert status == 400
    assert answer[b"www-authenticate"].decode() == (
        f'Bearer realm="api", error="invalid_request", error_description="{description}"'
    )
    assert json.loads(body) == {"detail": description, "error": "invalid_request"}
    assert app.seen == []
    single = [(b"cookie", f"theme=dark; access_token={token}; my_access_token=x".encode())]
    assert (await raw_request(protected, "GET", "/orders", single))[0] == 200


# --- item 16: Bearer a b ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"Bearer a b", b"Bearer a.b.c d", b"bearer a\tb", b"Bearer  a  b "])
async def test_a_bearer_value_with_spaces_is_a_malformed_request(verifier: TokenVerifier, value: bytes) -> None:
    app = Recorder()
    status, headers, body = await raw_request(
        JWTAuthMiddleware(app, verifier=verifier), "GET", "/orders", [(b"authorization", value)]
    )
    description = "The Authorization header must hold one Bearer token"
    assert status == 400
    assert headers[b"www-authenticate"].decode() == (
        f'Bearer realm="api", error="invalid_request", error_description="{description}"'
    )
    assert json.loads(body) == {"detail": description, "error": "invalid_request"}
    assert app.seen == []


# --- item 17: URL tokens on WebSocket handshakes only, unless asked -------------------------------------------


async def test_a_url_token_is_not_read_on_http_unless_asked(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = Recorder()
    query = f"access_token={make_token()}".encode()
    websocket_only = JWTAuthMiddleware(app, verifier=verifier, query_param=True)
    status, headers, body = await raw_request(websocket_only, "GET", "/orders", query_string=query)
    assert (status, headers[b"www-authenticate"], json.loads(body)["error"]) == (401, BARE.encode(), None)
    assert app.seen == []
    both = JWTAuthMiddleware(app, verifier=verifier, query_param=True, query_param_http=True)
    status, headers, _ = await raw_request(both, "GET", "/orders", query_string=query)
    assert (status, headers[b"cache-control"]) == (200, b"no-store")


def test_query_param_http_needs_a_query_param(verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match=r"query_param_http=True needs query_param as well"):
        JWTAuthMiddleware(Recorder(), verifier=verifier, query_param_http=True)
    with pytest.raises(ConfigurationError, match=r"query_param_http must be True or False"):
        JWTAuthMiddleware(Recorder(), verifier=verifier, query_param=True, query_param_http="yes")  # type: ignore[arg-type]


# --- item 11: the shared scope objects are read-only ------------------------------------------------------------


async def tamper(request: Request) -> JSONResponse:
    """An app that tries to change what the middleware gave it, then says what it sees."""
    refused = []
    attempts = {
        "auth.scopes": lambda: setattr(request.auth, "scopes", {"admin"}),
        "auth.claims": lambda: setattr(request.auth, "claims", {"sub": "root"}),
        "auth.claims[role]": lambda: request.auth.claims.__setitem__("role", "admin"),
        "user.claims": lambda: setattr(request.user, "claims", {}),
        "user.extra": lambda: setattr(request.user, "is_admin", True),
    }
    if request.query_params.get("tamper"):
        for name, attempt in attempts.items():
            try:
                attempt()
            except (AttributeError, TypeError):
                refused.append(name)
    scopes = request.auth.scopes
    return JSONResponse(
        {
            "refused": refused,
            "scopes": sorted(scopes),
            "role": request.auth.claims.get("role"),
            "is_admin": getattr(request.user, "is_admin", False),
        }
    )


@pytest.mark.parametrize("optional", [False, True], ids=["token", "anonymous"])
async def test_scope_objects_shared_between_requests_cannot_be_changed(
    verifier: TokenVerifier, make_token: TokenFactory, optional: bool
) -> None:
    app = JWTAuthMiddleware(Starlette(routes=[Route("/", tamper)]), verifier=verifier, optional=optional)
    headers = {} if optional else {"Authorization": f"Bearer {make_token(scope='orders:read')}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        first = (await client.get("/?tamper=1", headers=headers)).json()
        second = (await client.get("/", headers=headers)).json()
    assert first["refused"] == ["auth.scopes", "auth.claims", "auth.claims[role]", "user.claims", "user.extra"]
    expected = {"refused": [], "scopes": [] if optional else ["orders:read"], "role": None, "is_admin": False}
    assert second == expected  # the next request (another user's, maybe) sees nothing of the first one's attempts
