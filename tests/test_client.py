"""BearerAuth against the middleware over the wire: a real uvicorn server on 127.0.0.1.

Every request the server receives is recorded (method, path, Authorization header,
body) before the middleware sees it, so the tests count retries and see exactly
which token was sent. httpx sync and async clients, and httpx2 ones through the
adapter, run the same scenarios.
"""

from __future__ import annotations

import asyncio
import logging
import os
import runpy
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_jwt import (
    BearerAuth,
    ConfigurationError,
    InsufficientScope,
    JWTAuthMiddleware,
    MissingToken,
    SecretKey,
    TokenIssuer,
    TokenVerifier,
    current_claims,
    error_response,
)
from asgi_jwt.client import _invalid_token
from asgi_jwt.client_tokens import ClientTokens
from conftest import AUDIENCE, ISSUER, SECRET, Clock
from live_server import bound_socket, serve, url_of

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"
DEADLINE = 10.0


class Recorder:
    """An outer ASGI layer: what reached the server, in order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        self.seen.append(
            {
                "path": scope["path"],
                "authorization": headers.get(b"authorization", b"").decode(),
                "body": bytes(body),
            }
        )
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    @property
    def tokens(self) -> list[str]:
        return [entry["authorization"].removeprefix("Bearer ") for entry in self.seen]


async def whoami(request: Request) -> JSONResponse:
    claims = request.auth.claims
    return JSONResponse({"sub": claims["sub"], "scope": claims.get("scope"), "bytes": len(await request.body())})


async def admin(request: Request) -> Response:
    return error_response(InsufficientScope("admin"))


async def bare_challenge(request: Request) -> Response:
    return error_response(MissingToken())


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Recorder]]:
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    routes = [
        Route("/whoami", whoami, methods=["GET", "POST"]),
        Route("/admin", admin),
        Route("/bare", bare_challenge),
    ]
    recorder = Recorder(JWTAuthMiddleware(Starlette(routes=routes), verifier=verifier))
    with serve(recorder) as url:
        yield url, recorder


@pytest.fixture
def url(server: tuple[str, Recorder]) -> str:
    server[1].seen.clear()
    return server[0]


@pytest.fixture
def recorder(server: tuple[str, Recorder], url: str) -> Recorder:
    return server[1]


def mint(secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
    return SecretKey(secret).encode(payload)


class Source:
    """A refresh callable: hands out the given tokens in turn (the last one forever), counting calls."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.tokens[min(self.calls, len(self.tokens)) - 1]


class Issuer(TokenIssuer):
    """The real TokenIssuer, counting what it is asked to mint."""

    def __init__(self, ttl: int = 900) -> None:
        super().__init__(SecretKey(SECRET), issuer=ISSUER, access_ttl=ttl)
        self.calls: list[dict[str, Any]] = []

    def issue(self, subject: str, **options: Any) -> str:
        self.calls.append({"subject": subject, **options})
        return super().issue(subject, **options)


# -- a fixed token -----------------------------------------------------------------------------------------------


def test_a_fixed_token_with_a_sync_client(url: str, recorder: Recorder) -> None:
    token = mint(sub="bob")
    with httpx.Client(base_url=url, auth=BearerAuth(token), timeout=5) as client:
        response = client.get("/whoami")
    assert response.status_code == 200
    assert response.json()["sub"] == "bob"
    assert recorder.seen[0]["authorization"] == f"Bearer {token}"


async def test_a_fixed_token_with_an_async_client(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, auth=BearerAuth(mint(sub="carol")), timeout=5) as client:
        response = await client.get("/whoami")
    assert response.status_code == 200
    assert response.json()["sub"] == "carol"


def test_a_fixed_token_refused_is_not_retried(url: str, recorder: Recorder) -> None:
    with httpx.Client(base_url=url, auth=BearerAuth(mint(OTHER_SECRET)), timeout=5) as client:
        response = client.get("/whoami")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert len(recorder.seen) == 1  # nothing to renew it with


def test_repr_hides_the_token() -> None:
    token = mint()
    assert repr(BearerAuth(token)) == "BearerAuth(token=<hidden>)"
    assert repr(BearerAuth(token).httpx2()) == "BearerAuth(token=<hidden>).httpx2()"
    assert type(BearerAuth(token).httpx2()) is type(BearerAuth(mint(sub="x")).httpx2())


def test_importing_asgi_jwt_does_not_import_httpx2() -> None:
    code = "import sys, asgi_jwt; print('httpx2' in sys.modules, 'mcp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.split() == ["False", "False"]


# -- refresh on invalid_token ------------------------------------------------------------------------------------


def test_a_refused_token_is_replaced_once_and_the_request_retried(url: str, recorder: Recorder) -> None:
    stale, fresh = mint(OTHER_SECRET), mint(sub="dave")
    source = Source(stale, fresh)
    with httpx.Client(base_url=url, auth=BearerAuth(refresh=source), timeout=5) as client:
        response = client.post("/whoami", content=b"payload")
        again = client.get("/whoami")
    assert response.status_code == 200
    assert response.json() == {"sub": "dave", "scope": None, "bytes": 7}
    assert recorder.tokens == [stale, fresh, fresh]
    assert [entry["body"] for entry in recorder.seen[:2]] == [b"payload", b"payload"]
    assert again.status_code == 200
    assert source.calls == 2


async def test_async_retry_and_no_loop_when_the_fresh_token_is_refused_too(url: str, recorder: Recorder) -> None:
    calls = 0

    async def refresh() -> str:
        nonlocal calls
        calls += 1
        return mint(OTHER_SECRET, jti=str(calls))  # every token is refused

    async with httpx.AsyncClient(base_url=url, auth=BearerAuth(refresh=refresh), timeout=5) as client:
        response = await client.get("/whoami")
    assert response.status_code == 401
    assert len(recorder.seen) == 2  # the request and one retry, then the 401 is the answer
    assert calls == 2


def test_a_refresh_that_returns_the_same_token_does_not_resend(url: str, recorder: Recorder) -> None:
    source = Source(mint(OTHER_SECRET))
    with httpx.Client(base_url=url, auth=BearerAuth(refresh=source), timeout=5) as client:
        response = client.get("/whoami")
    assert response.status_code == 401
    assert len(recorder.seen) == 1
    assert source.calls == 2


@pytest.mark.parametrize(("path", "status"), [("/admin", 403), ("/bare", 401)])
def test_403_and_a_401_without_invalid_token_are_not_retried(
    url: str, recorder: Recorder, path: str, status: int
) -> None:
    source = Source(mint(), mint(jti="second"))
    with httpx.Client(base_url=url, auth=BearerAuth(refresh=source), timeout=5) as client:
        response = client.get(path)
    assert response.status_code == status
    assert len(recorder.seen) == 1
    assert source.calls == 1


def test_a_streamed_body_is_never_sent_twice(url: str, recorder: Recorder) -> None:
    source = Source(mint(OTHER_SECRET), mint())

    def chunks() -> Iterator[bytes]:
        yield b"one-"
        yield b"shot"

    with httpx.Client(base_url=url, auth=BearerAuth(refresh=source), timeout=5) as client:
        response = client.post("/whoami", content=chunks())
        after = client.post("/whoami", content=b"again")
    assert response.status_code == 401
    assert [entry["body"] for entry in recorder.seen] == [b"one-shot", b"again"]
    assert after.status_code == 200  # the refused token was still replaced, for the next request
    assert recorder.tokens == source.tokens


async def test_an_async_streamed_body_is_never_sent_twice(url: str, recorder: Recorder) -> None:
    source = Source(mint(OTHER_SECRET), mint())

    async def chunks() -> AsyncIterator[bytes]:
        yield b"stream"

    async with httpx.AsyncClient(base_url=url, auth=BearerAuth(refresh=source), timeout=5) as client:
        response = await client.post("/whoami", content=chunks())
    assert response.status_code == 401
    assert len(recorder.seen) == 1


# -- service to service: an issuer ------------------------------------------------------------------------------


def test_an_issued_token_is_reused_until_the_margin_then_minted_again(url: str, recorder: Recorder) -> None:
    issuer, clock = Issuer(ttl=900), Clock()
    auth = BearerAuth(issuer=issuer, subject="billing", audience=AUDIENCE, scope="orders:read", margin=60, clock=clock)
    with httpx.Client(base_url=url, auth=auth, timeout=5) as client:
        first = [client.get("/whoami") for _ in range(3)]
        clock.now += 839  # 61 s before exp: still good
        client.get("/whoami")
        clock.now += 2  # inside the margin
        renewed = client.get("/whoami")
    assert [response.json() for response in first] == [{"sub": "billing", "scope": "orders:read", "bytes": 0}] * 3
    assert renewed.status_code == 200
    assert issuer.calls == [{"subject": "billing", "audience": AUDIENCE, "scope": "orders:read"}] * 2
    assert len(set(recorder.tokens[:4])) == 1
    assert recorder.tokens[4] != recorder.tokens[0]


def test_a_short_lived_token_is_renewed_halfway(url: str) -> None:
    issuer, clock = Issuer(ttl=40), Clock()
    auth = BearerAuth(issuer=issuer, subject="billing", audience=AUDIENCE, margin=60, clock=clock)
    with httpx.Client(base_url=url, auth=auth, timeout=5) as client:
        client.get("/whoami")
        clock.now += 19
        client.get("/whoami")
        assert len(issuer.calls) == 1
        clock.now += 2
        client.get("/whoami")
    assert len(issuer.calls) == 2


async def test_many_concurrent_tasks_share_one_mint(url: str, recorder: Recorder) -> None:
    gate = asyncio.Event()
    calls = 0

    async def refresh() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return mint(sub="shared")

    auth = BearerAuth(refresh=refresh)
    async with httpx.AsyncClient(base_url=url, auth=auth, timeout=5) as client:
        requests = [asyncio.ensure_future(client.get("/whoami")) for _ in range(20)]
        deadline = time.monotonic() + DEADLINE
        while calls == 0 or not all_waiting(auth, 19):
            assert time.monotonic() < deadline, "the tasks never queued up behind one refresh"
            await asyncio.sleep(0.001)
        gate.set()
        responses = await asyncio.gather(*requests)
    assert [response.status_code for response in responses] == [200] * 20
    assert calls == 1
    assert len(set(recorder.tokens)) == 1


def all_waiting(auth: BearerAuth, count: int) -> bool:
    """True once ``count`` tasks wait for the renewal under way (the flight's own list)."""
    flight = auth._tokens._flight
    return flight is not None and len(flight._waiters) == count


def test_many_threads_and_an_async_client_share_one_mint(url: str, recorder: Recorder) -> None:
    issuer = Issuer()
    auth = BearerAuth(issuer=issuer, subject="worker", audience=AUDIENCE)
    statuses: list[int] = []

    def work() -> None:
        with httpx.Client(base_url=url, auth=auth, timeout=5) as client:
            statuses.extend(client.get("/whoami").status_code for _ in range(3))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)

    async def from_a_loop() -> int:
        async with httpx.AsyncClient(base_url=url, auth=auth, timeout=5) as client:
            return (await client.get("/whoami")).status_code

    assert asyncio.run(from_a_loop()) == 200
    assert statuses == [200] * 24
    assert len(issuer.calls) == 1
    assert len(set(recorder.tokens)) == 1


def test_a_waiter_whose_event_loop_has_ended_does_not_break_the_renewal() -> None:
    entered, gate = threading.Event(), threading.Event()

    def refresh() -> str:
        entered.set()
        gate.wait(DEADLINE)
        return mint(sub="after")

    tokens = ClientTokens(refresh, None, 60, time.time)
    got: list[str] = []
    leader = threading.Thread(target=lambda: got.append(tokens.get()))
    leader.start()
    assert entered.wait(DEADLINE)

    async def wait_then_give_up() -> None:
        task = asyncio.ensure_future(tokens.aget())
        deadline = time.monotonic() + DEADLINE
        while not (tokens._flight is not None and tokens._flight._waiters):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(wait_then_give_up())  # its loop is closed now, its future still listed in the renewal
    gate.set()
    leader.join(DEADLINE)
    assert len(got) == 1
    assert tokens.get() == got[0]


def test_a_failing_source_fails_the_request_and_is_asked_again_next_time(url: str) -> None:
    attempts = 0

    def refresh() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("token file missing")
        return mint()

    with httpx.Client(base_url=url, auth=BearerAuth(refresh=refresh), timeout=5) as client:
        with pytest.raises(OSError, match="token file missing"):
            client.get("/whoami")
        assert client.get("/whoami").status_code == 200


def test_an_async_source_with_a_sync_client_is_a_clear_error(url: str) -> None:
    async def refresh() -> str:
        return mint()

    client = httpx.Client(base_url=url, auth=BearerAuth(refresh=refresh), timeout=5)
    with client, pytest.raises(TypeError, match=r"async token source needs an async client"):
        client.get("/whoami")


@pytest.mark.parametrize("bad", ["", "two words", "line\nbreak", 42, None])
def test_a_source_returning_no_usable_token_is_a_type_error(url: str, bad: Any) -> None:
    client = httpx.Client(base_url=url, auth=BearerAuth(refresh=lambda: bad), timeout=5)
    with client, pytest.raises(TypeError, match="must give a non-empty token") as caught:
        client.get("/whoami")
    assert str(caught.value) == (
        "BearerAuth: the token source must give a non-empty token of printable ASCII without spaces"
    )


# -- httpx2 (the MCP SDK 2.x client) -----------------------------------------------------------------------------


def test_httpx2_refuses_a_plain_httpx_auth_and_takes_the_adapter(url: str, recorder: Recorder) -> None:
    auth = BearerAuth(refresh=Source(mint(OTHER_SECRET), mint(sub="erin")))
    with pytest.raises(TypeError):
        httpx2.Client(auth=auth)  # type: ignore[arg-type]
    with httpx2.Client(base_url=url, auth=auth.httpx2(), timeout=5) as client:
        response = client.post("/whoami", content=b"x")
    assert response.status_code == 200
    assert response.json()["sub"] == "erin"
    assert len(recorder.seen) == 2  # the refused token was replaced and the request retried once


async def test_httpx2_async_client_shares_the_tokens_of_the_httpx_auth(url: str, recorder: Recorder) -> None:
    issuer = Issuer()
    auth = BearerAuth(issuer=issuer, subject="mcp-client", audience=AUDIENCE)
    async with httpx.AsyncClient(base_url=url, auth=auth, timeout=5) as plain:
        assert (await plain.get("/whoami")).status_code == 200
    async with httpx2.AsyncClient(base_url=url, auth=auth.httpx2(), timeout=5) as client:
        response = await client.get("/whoami")
        streamed = await client.post("/whoami", content=b"body")
    assert response.json()["sub"] == "mcp-client"
    assert streamed.json()["bytes"] == 4
    assert len(issuer.calls) == 1
    assert len(set(recorder.tokens)) == 1


def test_httpx2_streamed_body_is_not_resent(url: str, recorder: Recorder) -> None:
    auth = BearerAuth(refresh=Source(mint(OTHER_SECRET), mint()))
    with httpx2.Client(base_url=url, auth=auth.httpx2(), timeout=5) as client:
        response = client.post("/whoami", content=iter([b"a", b"b"]))
    assert response.status_code == 401
    assert len(recorder.seen) == 1


@pytest.mark.parametrize(
    ("challenges", "refused"),
    [
        (['Bearer realm="api", error="invalid_token", error_description="Token has expired"'], True),
        (['Basic realm="x", Bearer error=invalid_token'], True),
        (['Basic realm="x"', 'bearer resource_metadata="https://a/b", error="invalid_token"'], True),
        (['Bearer realm="api"'], False),
        (['Bearer realm="api", error="insufficient_scope", scope="admin"'], False),
        (['Newauth realm="apps", error="invalid_token", Bearer realm="api"'], False),
        (['Bearer realm="error=\\"invalid_token\\""'], False),
        ([], False),
    ],
)
def test_which_challenges_mean_the_token_was_refused(challenges: list[str], refused: bool) -> None:
    assert _invalid_token(challenges) is refused


# -- configuration and secrecy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "exactly one of"),
        ({"token": "a", "refresh": lambda: "b"}, "exactly one of"),
        ({"token": "has space"}, "printable ASCII"),
        ({"issuer": Issuer()}, "needs the subject="),
        ({"issuer": object(), "subject": "x"}, "issue\\(subject"),
        ({"token": "abc", "audience": "x"}, "go with issuer="),
        ({"refresh": "not callable"}, "refresh must be a callable"),
        ({"token": "abc", "margin": -1}, "margin must be"),
    ],
)
def test_misconfiguration_fails_at_construction(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BearerAuth(**arguments)


def test_the_token_is_never_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    source = Source(mint(OTHER_SECRET), mint())
    auth = BearerAuth(refresh=source)
    with httpx.Client(base_url=url, auth=auth, timeout=5) as client:
        assert client.get("/whoami").status_code == 200
    client_lines = [record.getMessage() for record in caplog.records if record.name == "asgi_jwt.client"]
    assert any("retrying once" in line for line in client_lines)
    text = caplog.text + repr(auth)
    for token in source.tokens:
        assert token not in text
        assert token.split(".")[2] not in text


# -- the examples --------------------------------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def test_service_client_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    example = runpy.run_path(str(EXAMPLES / "service_client.py"))
    answers = await example["main"]()
    assert answers == [{"caller": "billing", "scopes": ["orders:read"], "orders": [17, 42]}] * 10


def test_django_view_calls_a_protected_mcp_server_through_the_sdk_client() -> None:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("Posts")

    @server.tool()
    def list_posts() -> dict[str, Any]:
        claims = current_claims() or {}
        return {"1": "Hello MCP", "read_by": claims.get("sub"), "scope": claims.get("scope")}

    sock = bound_socket()
    resource = f"{url_of(sock)}/mcp"
    verifier = TokenVerifier(SecretKey(SECRET), audience=resource)
    app = JWTAuthMiddleware(server.streamable_http_app(), verifier=verifier, current_claims=True)
    with serve(app, sock):
        env = {**os.environ, "MCP_URL": resource, "JWT_SECRET_KEY": SECRET}
        result = subprocess.run(  # noqa: S603
            [sys.executable, str(EXAMPLES / "django_mcp_client.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        refused = httpx.post(resource, json={}, auth=BearerAuth(mint(OTHER_SECRET, aud=resource)), timeout=5)
    assert result.returncode == 0, result.stderr
    posts = {"1": "Hello MCP", "read_by": "reports-site", "scope": "read:posts"}
    assert result.stdout.strip() == f"200 {{'posts': {posts!r}}}"
    assert refused.status_code == 401
