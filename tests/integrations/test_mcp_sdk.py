"""The real MCP SDK on both sides: ``examples/mcp_server.py`` behind protect_mcp, served by uvicorn on
127.0.0.1, driven by the SDK's own client with :class:`~asgi_jwt.client.BearerAuth` on its ``httpx2`` client; and
``examples/mcp_sdk_auth.py``, whose tools read the SDK's ``get_access_token()``.

``mode="legacy"`` is the initialize handshake with a stateful session (protocol
2025-11-25 and older); ``"auto"`` negotiates 2026-07-28, whose requests carry
``Mcp-Method``/``Mcp-Name`` headers that protect_mcp checks against the body.
"""

from __future__ import annotations

import runpy
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp

from asgi_jwt.client import BearerAuth
from asgi_jwt.integrations.mcp import ACCESS_DENIED
from live_server import bound_socket, url_of
from live_server import serve as serve_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = runpy.run_path(str(EXAMPLES / "mcp_server.py"))
SDK_AUTH_EXAMPLE = runpy.run_path(str(EXAMPLES / "mcp_sdk_auth.py"))
SECRET = "mcp-example-secret-that-is-long-enough-for-hs256"
ISSUER: str = EXAMPLE["ISSUER"]
MODES = ["legacy", "auto"]


@contextmanager
def serve(build: Callable[[str], ASGIApp]) -> Iterator[str]:
    """Serve ``build(resource)`` with uvicorn on a free port of 127.0.0.1; yield the resource URI."""
    sock = bound_socket()
    resource = f"{url_of(sock)}/mcp"
    with serve_app(build(resource), sock):
        yield resource


@pytest.fixture(scope="module")
def posts() -> Iterator[str]:
    with serve(lambda resource: EXAMPLE["build_app"](SECRET, resource)) as resource:
        yield resource


def token(resource: str, **claims: Any) -> str:
    minted: str = EXAMPLE["mint"](SECRET, resource, **claims)
    return minted


@asynccontextmanager
async def connect(resource: str, bearer: str | None = None, mode: str = "legacy") -> AsyncIterator[Client]:
    """The SDK's client over its own transport, our BearerAuth on the httpx2 client it is given."""
    http = httpx2.AsyncClient(auth=BearerAuth(bearer).httpx2() if bearer else None)
    async with http, Client(streamable_http_client(resource, http_client=http), mode=mode) as client:
        yield client


def text(result: Any) -> str:
    return str(result.content[0].text)


async def test_no_token_is_401_naming_the_metadata_and_the_metadata_names_the_server(posts: str) -> None:
    async with httpx2.AsyncClient() as http:
        refused = await http.post(
            posts,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}},
            headers={"Accept": "application/json, text/event-stream"},
        )
        challenge = refused.headers["www-authenticate"]
        metadata_url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
        metadata = (await http.get(metadata_url)).json()
    assert refused.status_code == 401
    assert challenge.startswith('Bearer realm="mcp"')
    assert "error=" not in challenge  # no token at all: the bare challenge (RFC 6750 §3.1)
    assert metadata_url == posts.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert metadata["resource"] == posts
    assert metadata["authorization_servers"] == [ISSUER]


async def test_without_a_token_the_sdk_client_reaches_public_tools_only(posts: str) -> None:
    async with connect(posts) as client:
        public = await client.call_tool("public_info", {})
        with pytest.raises(MCPError, match="Server returned an error response"):
            await client.call_tool("whoami", {})
    assert public.structured_content == {"server": "Posts", "authorization": "OAuth 2.1 bearer tokens"}


@pytest.mark.parametrize("mode", MODES)
async def test_a_viewer_calling_an_admin_tool_gets_a_json_rpc_error(posts: str, mode: str) -> None:
    async with connect(posts, token(posts, sub="bob", roles=["viewer"]), mode) as client:
        with pytest.raises(MCPError) as denied:
            await client.call_tool("admin_dashboard", {})
        allowed = await client.call_tool("list_posts", {})
    assert denied.value.error.code == ACCESS_DENIED
    assert denied.value.error.message == "Requires the role 'admin'"
    assert allowed.is_error is False


@pytest.mark.parametrize("mode", MODES)
async def test_an_admin_succeeds_and_sees_every_tool(posts: str, mode: str) -> None:
    async with connect(posts, token(posts, sub="ada", roles=["admin"]), mode) as client:
        dashboard = await client.call_tool("admin_dashboard", {})
        tools = await client.list_tools()
    assert dashboard.is_error is False
    assert dashboard.structured_content == {"posts": 2}
    assert {tool.name for tool in tools.tools} == {
        "public_info", "whoami", "list_posts", "delete_post", "admin_dashboard", "get_medical_records"
    }  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_shows_a_viewer_only_what_it_may_call(posts: str, mode: str) -> None:
    async with connect(posts, token(posts, sub="bob", roles=["viewer"]), mode) as client:
        tools = await client.list_tools()
    assert [tool.name for tool in tools.tools] == ["public_info", "whoami", "list_posts"]


async def test_a_token_for_another_servers_audience_is_401(posts: str) -> None:
    other = token("https://other.example.com/mcp", sub="ada", roles=["admin"])
    async with httpx2.AsyncClient(auth=BearerAuth(other).httpx2()) as http:
        response = await http.post(posts, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "resource_metadata=" in response.headers["www-authenticate"]
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the handshake fails inside the SDK's task groups
        async with connect(posts, other) as client:
            await client.call_tool("whoami", {})
    assert refused.group_contains(MCPError, match="^Server returned an error response$")


async def test_the_identity_inside_a_tool_comes_from_the_token(posts: str) -> None:
    doctor = token(posts, sub="u-1", user_id="1", role="doctor")
    async with connect(posts, doctor) as client:
        records = await client.call_tool("get_medical_records", {"patient_id": "NUGWI"})
    assert records.structured_content == {"patient_id": "NUGWI", "read_by": "1", "as": "doctor", "records": []}


async def test_two_callers_on_one_stateful_session_each_see_their_own_claims(posts: str) -> None:
    bob = BearerAuth(token(posts, sub="bob", roles=["viewer"])).httpx2()
    ada = BearerAuth(token(posts, sub="ada", roles=["admin"])).httpx2()
    http = httpx2.AsyncClient(auth=bob)
    async with http, Client(streamable_http_client(posts, http_client=http), mode="legacy") as client:
        first = await client.call_tool("whoami", {})
        http.auth = ada  # the same session (Mcp-Session-Id), another caller
        second = await client.call_tool("whoami", {})
        dashboard = await client.call_tool("admin_dashboard", {})
        http.auth = bob
        third = await client.call_tool("whoami", {})
        with pytest.raises(MCPError, match="Requires the role 'admin'"):
            await client.call_tool("admin_dashboard", {})
    assert first.structured_content == {"sub": "bob", "roles": ["viewer"], "name": None}
    assert second.structured_content == {"sub": "ada", "roles": ["admin"], "name": None}
    assert dashboard.is_error is False
    assert third.structured_content == first.structured_content


async def test_get_access_token_works_with_the_sdk_token_verifier_per_request() -> None:
    with serve(lambda resource: SDK_AUTH_EXAMPLE["build_app"](SECRET, resource)) as resource:
        viewer = BearerAuth(token(resource, sub="bob", roles=["viewer"])).httpx2()
        promoted = BearerAuth(token(resource, sub="bob", roles=["admin"])).httpx2()
        eve = BearerAuth(token(resource, sub="eve", roles=["admin"])).httpx2()
        http = httpx2.AsyncClient(auth=viewer)
        async with http, Client(streamable_http_client(resource, http_client=http), mode="legacy") as client:
            before = await client.call_tool("me", {})
            http.auth = promoted  # the same principal with a new token: the same session, the new claims
            after = await client.call_tool("me", {})
            http.auth = eve  # another principal: the SDK binds the session to the one that opened it
            with pytest.raises(MCPError, match="Session not found"):
                await client.call_tool("me", {})
            http.auth = viewer
    assert before.structured_content == {"client": "bob", "sub": "bob", "roles": ["viewer"], "scopes": ["read:posts"]}
    assert after.structured_content == {
        "client": "bob",
        "sub": "bob",
        "roles": ["admin"],
        "scopes": ["delete:*", "read:*", "write:*"],
    }
