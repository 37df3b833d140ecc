"""protect_mcp in process: metadata, challenges, audience, body replay, batches, headers, size cap, tools/list.

The MCP app here is a recorder that answers every request and remembers what it
was given, so each test can say exactly what reached the app and what did not.
The real SDK, over uvicorn, is in ``test_mcp_sdk.py``.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from asgi_jwt import ConfigurationError, HasRole, PermissionPolicy, SecretKey, TokenVerifier, current_claims
from asgi_jwt.integrations.mcp import (
    ACCESS_DENIED,
    HEADER_MISMATCH,
    SDKTokenVerifier,
    canonical_resource_uri,
    protect_mcp,
)

SECRET = "mcp-test-secret-that-is-long-enough-for-hs256"
ISSUER = "https://auth.example.com"
RESOURCE = "https://mcp.example.com/mcp"
METADATA_URL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
ROLES = {"admin": ["read:*", "delete:*"], "viewer": ["read:posts"]}
TOOLS: dict[str, Any] = {"list_posts": "read:posts", "delete_post": "delete:posts", "dashboard": HasRole("admin")}


def mint(**claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": ISSUER, "aud": RESOURCE, "iat": now, "exp": now + 300, **claims}
    return SecretKey(SECRET).encode({name: value for name, value in payload.items() if value is not None})


class Recorder:
    """The MCP app stand-in: reads the whole body, remembers the request, answers ``answer``."""

    def __init__(
        self,
        answer: bytes = b'{"jsonrpc":"2.0","id":1,"result":{}}',
        media: bytes = b"application/json",
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ):
        self.answer = answer
        self.media = media
        self.headers = headers
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        auth = scope.get("auth")
        self.calls.append(
            {"headers": dict(scope["headers"]), "body": body, "token": getattr(auth, "token", None),
             "claims": current_claims(), "method": scope["method"]}
        )  # fmt: skip
        headers = [(b"content-type", self.media), *self.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.answer})


def build(app: Recorder | None = None, **options: Any) -> tuple[Any, Recorder]:
    recorder = app or Recorder()
    settings: dict[str, Any] = {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "keys": SecretKey(SECRET),
        "issuer": ISSUER,
        "policy": ROLES,
        "tool_permissions": TOOLS,
        **options,
    }
    return protect_mcp(recorder, **settings), recorder


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://mcp.example.com")


def call(tool: str, request_id: Any = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool, "arguments": {}}}


def bearer(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(**claims)}"}


def challenge(response: httpx.Response) -> str:
    return response.headers["www-authenticate"]


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"])
async def test_metadata_is_served_without_a_token_at_both_paths(path: str) -> None:
    app, recorder = build(resource_name="Posts", jwks_uri="https://auth.example.com/jwks.json")
    async with client(app) as http:
        response = await http.get(path)
        head = await http.head(path)
        post = await http.post(path)
    assert response.status_code == 200
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["delete:posts", "read:posts"],
        "bearer_methods_supported": ["header"],
        "jwks_uri": "https://auth.example.com/jwks.json",
        "resource_name": "Posts",
    }
    assert response.headers["access-control-allow-origin"] == "*"
    assert head.status_code == 200
    assert head.content == b""
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"
    assert recorder.calls == []


async def test_no_token_is_a_bare_401_naming_the_metadata() -> None:
    app, recorder = build()
    async with client(app) as http:
        response = await http.post("/mcp", json=call("list_posts"))
    assert response.status_code == 401
    assert challenge(response) == f'Bearer realm="mcp", resource_metadata="{METADATA_URL}"'
    assert recorder.calls == []


async def test_a_bad_token_is_invalid_token_with_the_metadata() -> None:
    app, _ = build()
    async with client(app) as http:
        response = await http.post("/mcp", json=call("list_posts"), headers={"Authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)
    assert f'resource_metadata="{METADATA_URL}"' in challenge(response)


async def test_a_token_for_another_server_is_401_even_when_the_verifier_accepts_it() -> None:
    shared = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=[RESOURCE, "https://other.example.com/mcp"])
    app, recorder = build(keys=None, issuer=None, verifier=shared)
    async with client(app) as http:
        other = await http.post("/mcp", json=call("whoami"), headers=bearer(aud="https://other.example.com/mcp"))
        ours = await http.post(
            "/mcp", json=call("whoami"), headers=bearer(aud=["https://other.example.com/mcp", RESOURCE])
        )
    assert other.status_code == 401
    assert 'error="invalid_token"' in challenge(other)
    assert f'resource_metadata="{METADATA_URL}"' in challenge(other)
    assert other.json() == {"detail": "Token was not issued for this MCP server", "error": "invalid_token"}
    assert ours.status_code == 200
    assert len(recorder.calls) == 1


async def test_the_audience_is_compared_in_canonical_form() -> None:
    spelt = "HTTPS://MCP.Example.COM:443/mcp/"
    app, recorder = build(keys=None, issuer=None, verifier=TokenVerifier(SecretKey(SECRET), audience=spelt))
    async with client(app) as http:
        response = await http.post("/mcp", json=call("whoami"), headers=bearer(aud=spelt))
    assert response.status_code == 200
    assert len(recorder.calls) == 1


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://MCP.example.com/mcp/", "https://mcp.example.com/mcp"),
        ("HTTPS://mcp.example.com:443/", "https://mcp.example.com"),
        ("http://127.0.0.1:8000/mcp", "http://127.0.0.1:8000/mcp"),
        ("https://[::1]:8443/Mcp", "https://[::1]:8443/Mcp"),  # the path keeps its case
    ],
)
def test_canonical_resource_uri(given: str, canonical: str) -> None:
    assert canonical_resource_uri(given) == canonical


@pytest.mark.parametrize(
    "bad", ["mcp.example.com/mcp", "ftp://x/mcp", "https://u:p@x/mcp", "https://x/mcp#a", "https://x:99999/"]
)
def test_canonical_resource_uri_refuses_what_is_not_one(bad: str) -> None:
    with pytest.raises(ValueError, match="resource URI"):
        canonical_resource_uri(bad)


async def test_an_allowed_call_reaches_the_app_with_its_exact_body_but_never_the_token() -> None:
    app, recorder = build()
    body = json.dumps(call("list_posts")).encode()
    async with client(app) as http:
        response = await http.post(
            "/mcp", content=body, headers={**bearer(roles=["viewer"]), "Content-Type": "application/json"}
        )
    assert response.status_code == 200
    (seen,) = recorder.calls
    assert seen["body"] == body
    assert b"authorization" not in seen["headers"]
    assert seen["token"] is None
    assert seen["claims"]["roles"] == ["viewer"]  # current_claims() works inside the app


async def test_forward_token_keeps_the_header_for_the_sdks_own_auth() -> None:
    app, recorder = build(forward_token=True)
    async with client(app) as http:
        await http.post("/mcp", json=call("list_posts"), headers=bearer(roles=["viewer"]))
    assert recorder.calls[0]["headers"][b"authorization"].startswith(b"Bearer ")


async def test_a_denied_call_is_403_insufficient_scope_with_a_json_rpc_error() -> None:
    app, recorder = build()
    async with client(app) as http:
        response = await http.post("/mcp", json=call("delete_post", "req-1"), headers=bearer(roles=["viewer"]))
    assert response.status_code == 403
    assert challenge(response) == (
        f'Bearer realm="mcp", resource_metadata="{METADATA_URL}", error="insufficient_scope", '
        'error_description="Requires the permission \'delete:posts\'", scope="delete:posts"'
    )
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": "req-1",
        "error": {
            "code": ACCESS_DENIED,
            "message": "Requires the permission 'delete:posts'",
            "data": {"error": "insufficient_scope", "scope": "delete:posts"},
        },
    }
    assert recorder.calls == []


async def test_a_role_requirement_and_an_admin() -> None:
    app, recorder = build()
    async with client(app) as http:
        viewer = await http.post("/mcp", json=call("dashboard"), headers=bearer(roles=["viewer"]))
        admin = await http.post("/mcp", json=call("dashboard"), headers=bearer(roles=["admin"]))
        unlisted = await http.post("/mcp", json=call("whoami"), headers=bearer(roles=[]))
    assert viewer.status_code == 403
    assert viewer.json()["error"]["message"] == "Requires the role 'admin'"
    assert admin.status_code == 200
    assert unlisted.status_code == 200
    assert len(recorder.calls) == 2


async def test_a_batch_is_checked_message_by_message_and_names_every_scope() -> None:
    app, recorder = build(method_permissions={"resources/read": "read:resources"})
    batch = [
        call("list_posts", 1),
        call("delete_post", 2),
        {"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "posts://1"}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    async with client(app) as http:
        refused = await http.post("/mcp", json=batch, headers=bearer(roles=["viewer"]))
        allowed = await http.post("/mcp", json=batch[:1] + batch[3:], headers=bearer(roles=["viewer"]))
    assert refused.status_code == 403
    assert 'scope="delete:posts read:resources"' in challenge(refused)
    assert [(answer["id"], answer["error"]["message"]) for answer in refused.json()] == [
        (1, "Not run: another message in this batch was refused"),
        (2, "Requires the permission 'delete:posts'"),
        (3, "Requires the permission 'read:resources'"),
    ]
    assert allowed.status_code == 200
    assert len(recorder.calls) == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Mcp-Method": "tools/call", "Mcp-Name": "list_posts"}, 200),
        ({"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?" + base64.b64encode(b"list_posts").decode() + "?="}, 200),
        ({"Mcp-Method": "tools/call", "Mcp-Name": "delete_post"}, 400),  # shows one call, makes another
        ({"Mcp-Method": "tools/list"}, 400),
        ({"Mcp-Name": "delete_post"}, 400),
        ({"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?not-base64?="}, 400),
    ],
)
async def test_mcp_method_and_name_headers_must_agree_with_the_body(headers: dict[str, str], status: int) -> None:
    app, recorder = build()
    async with client(app) as http:
        response = await http.post("/mcp", json=call("list_posts", 5), headers={**bearer(roles=["viewer"]), **headers})
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == HEADER_MISMATCH
        assert response.json()["id"] == 5
        assert recorder.calls == []


async def test_a_repeated_routing_header_is_a_mismatch() -> None:
    app, _ = build()
    headers = [("Authorization", bearer(roles=["viewer"])["Authorization"]), ("Mcp-Method", "tools/call")] * 1
    headers.append(("Mcp-Method", "tools/call"))
    async with client(app) as http:
        response = await http.post("/mcp", json=call("list_posts"), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == HEADER_MISMATCH


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", -32700),
        (b"\xff\xfe", -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":NaN}', -32700),
        (b"[" * 100_000 + b"]" * 100_000, -32700),
        (b"[]", -32600),
        (b"[1]", -32600),
        (b'"tools/call"', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":5}', -32600),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call"}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":null}}', -32602),
    ],
)
async def test_a_malformed_body_is_a_400_json_rpc_error_never_a_500(body: bytes, code: int) -> None:
    app, recorder = build()
    async with client(app) as http:
        response = await http.post(
            "/mcp", content=body, headers={**bearer(roles=["admin"]), "Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert recorder.calls == []


async def test_a_body_over_the_cap_is_413_by_its_declared_length() -> None:
    app, recorder = build(max_body_size=2048)
    big = {**call("list_posts"), "params": {"name": "list_posts", "arguments": {"text": "x" * 4096}}}
    async with client(app) as http:
        response = await http.post("/mcp", json=big, headers=bearer(roles=["viewer"]))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600
    assert recorder.calls == []


async def test_a_streamed_body_over_the_cap_is_413_without_reading_the_rest() -> None:
    app, recorder = build(max_body_size=2048)
    chunks = [{"type": "http.request", "body": b"[" + b" " * 1000, "more_body": True} for _ in range(10)]
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"authorization", bearer(roles=["viewer"])["Authorization"].encode())]
    headers.append((b"content-type", b"application/json"))
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, "query_string": b""}
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(chunks) == 7  # three chunks read, and no more
    assert recorder.calls == []


async def test_get_and_non_json_posts_pass_through_untouched() -> None:
    app, recorder = build()
    async with client(app) as http:
        stream = await http.get("/mcp", headers={**bearer(roles=["viewer"]), "Accept": "text/event-stream"})
        text = await http.post("/mcp", content=b"not json", headers={**bearer(), "Content-Type": "text/plain"})
        anonymous = await http.get("/mcp")
    assert stream.status_code == 200
    assert text.status_code == 200
    assert [seen["method"] for seen in recorder.calls] == ["GET", "POST"]
    assert recorder.calls[1]["body"] == b"not json"
    assert anonymous.status_code == 401  # without public tools every request needs a token


async def test_public_tools_need_no_token_and_everything_else_still_does() -> None:
    app, recorder = build(public_tools=["public_info"])
    async with client(app) as http:
        public = await http.post("/mcp", json=call("public_info"))
        handshake = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        private = await http.post("/mcp", json=call("whoami"))
        text = await http.post("/mcp", content=b"x", headers={"Content-Type": "text/plain"})
        bad = await http.post("/mcp", json=call("public_info"), headers={"Authorization": "Bearer x.y.z"})
    assert public.status_code == 200
    assert handshake.status_code == 200
    assert recorder.calls[0]["claims"] is None  # anonymous: no claims inside the tool
    assert private.status_code == 401
    assert challenge(private) == f'Bearer realm="mcp", resource_metadata="{METADATA_URL}"'
    assert text.status_code == 401
    assert bad.status_code == 401  # a bad token is refused even for a public tool
    assert len(recorder.calls) == 2


TOOLS_ANSWER = {
    "jsonrpc": "2.0",
    "id": 9,
    "result": {
        "tools": [{"name": "public_info"}, {"name": "list_posts"}, {"name": "delete_post"}, {"name": "dashboard"}]
    },
}


def listed(answer: Any) -> list[str]:
    return [tool["name"] for tool in answer["result"]["tools"]]


@pytest.mark.parametrize(("roles", "expected"), [(["viewer"], ["public_info", "list_posts"]), (["admin"], None)])
async def test_tools_list_shows_only_callable_tools_in_a_json_answer(roles: list[str], expected: Any) -> None:
    recorder = Recorder(json.dumps(TOOLS_ANSWER).encode())
    app, _ = build(recorder, public_tools=["public_info"], filter_tools_list=True)
    async with client(app) as http:
        response = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers=bearer(roles=roles)
        )
        anonymous = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"})
    assert listed(response.json()) == (expected or listed(TOOLS_ANSWER))
    assert int(response.headers["content-length"]) == len(response.content)
    assert listed(anonymous.json()) == ["public_info"]


async def test_tools_list_is_filtered_in_an_event_stream_and_other_events_pass() -> None:
    note = b'event: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\r\n\r\n'
    answer = b"event: message\r\nid: 4\r\ndata: " + json.dumps(TOOLS_ANSWER).encode() + b"\r\n\r\n"
    recorder = Recorder(note + answer, media=b"text/event-stream")
    app, _ = build(recorder, filter_tools_list=True)
    async with client(app) as http:
        response = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers=bearer(roles=["viewer"])
        )
    assert response.content.startswith(note)
    events = response.content[len(note) :].split(b"\r\n")
    assert events[:2] == [b"event: message", b"id: 4"]
    assert listed(json.loads(events[2].removeprefix(b"data: "))) == [
        "public_info",
        "list_posts",
    ]  # unlisted: any caller


async def test_tools_list_is_not_filtered_unless_asked() -> None:
    app, _ = build(Recorder(json.dumps(TOOLS_ANSWER).encode()))
    async with client(app) as http:
        response = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers=bearer(roles=["viewer"])
        )
    assert response.json() == TOOLS_ANSWER


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"verifier": TokenVerifier(SecretKey(SECRET))}, "either verifier= or keys=, not both"),
        ({"keys": None, "issuer": None}, "either verifier= or keys="),
        ({"resource": "mcp.example.com"}, "resource must be an absolute http"),
        ({"authorization_servers": []}, "at least one authorization server"),
        ({"public_tools": ["delete_post"]}, "both public and given permissions"),
        ({"public_tools": "public_info"}, "a list of tool names"),
        ({"method_permissions": {"tools/call": "x"}}, "given per tool"),
        ({"tool_permissions": {"x": []}}, "empty permission list"),
        ({"tool_permissions": ["delete_post"]}, "maps each name"),
        ({"tool_permissions": {"x": "has space"}}, "without spaces"),
        ({"max_body_size": 10}, "max_body_size"),
        ({"bind_sessions": 1}, "bind_sessions must be True or False"),
        ({"realm": 'a"b'}, "realm"),
    ],
)
def test_misconfiguration_fails_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build(**options)


class FailingKeys:
    """A key resolver whose backend is down: an outage, not a bad token."""

    async def resolve(self, header: Any) -> Any:
        raise ConnectionError("key service unreachable")


async def test_an_outage_is_503_with_retry_after_not_a_401() -> None:
    app, recorder = build(keys=FailingKeys())
    async with client(app) as http:
        response = await http.post("/mcp", json=call("list_posts"), headers=bearer(roles=["viewer"]))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "www-authenticate" not in response.headers
    assert recorder.calls == []


async def test_the_sdk_token_verifier_maps_claims_and_refuses_quietly(caplog: pytest.LogCaptureFixture) -> None:
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=RESOURCE)
    adapter = SDKTokenVerifier(verifier, resource="https://MCP.example.com/mcp/", policy=PermissionPolicy(ROLES))
    access = await adapter.verify_token(mint(sub="alice", client_id="cli-1", roles=["viewer"], exp=2_000_000_000.5))
    assert access is not None
    assert (access.client_id, access.subject, access.resource) == ("cli-1", "alice", RESOURCE)
    assert (access.scopes, access.expires_at) == (["read:posts"], 2_000_000_000)
    assert access.claims is not None
    assert access.claims["roles"] == ["viewer"]
    assert (await adapter.verify_token(mint(sub="bob", azp="app-2"))).client_id == "app-2"  # type: ignore[union-attr]
    assert await adapter.verify_token("not-a-token") is None
    assert await adapter.verify_token(mint(aud="https://other.example.com/mcp")) is None
    down = SDKTokenVerifier(TokenVerifier(FailingKeys(), audience=RESOURCE), resource=RESOURCE)
    assert await down.verify_token(mint()) is None
    assert "MCP token refused during an outage: keys_unavailable" in caplog.text
    with pytest.raises(ConfigurationError, match="resource must be an absolute"):
        SDKTokenVerifier(verifier, resource="not a uri")


@pytest.mark.parametrize("bind", [True, False])
async def test_bind_sessions_refuses_a_session_to_another_principal(bind: bool) -> None:
    recorder = Recorder(headers=((b"mcp-session-id", b"s-1"),))
    app, _ = build(recorder, bind_sessions=bind)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    session = {"Mcp-Session-Id": "s-1"}
    async with client(app) as http:
        opened = await http.post("/mcp", json=initialize, headers=bearer(sub="alice", roles=["viewer"]))
        other = await http.post("/mcp", json=call("whoami"), headers={**bearer(sub="mallory"), **session})
        stream = await http.get("/mcp", headers={**bearer(sub="mallory"), **session})
        renewed = await http.post("/mcp", json=call("whoami"), headers={**bearer(sub="alice", roles=[]), **session})
        ended = await http.delete("/mcp", headers={**bearer(sub="alice"), **session})
        after = await http.post("/mcp", json=call("whoami"), headers={**bearer(sub="mallory"), **session})
    assert opened.headers["mcp-session-id"] == "s-1"
    assert renewed.status_code == 200  # the same principal with another token keeps its session
    assert ended.status_code == 200
    assert after.status_code == 200  # ended: the app itself answers for a session it no longer has
    if bind:
        assert (other.status_code, stream.status_code) == (404, 404)
        assert other.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Session not found"}}
        assert [seen["claims"]["sub"] for seen in recorder.calls] == ["alice", "alice", "alice", "mallory"]
    else:
        assert (other.status_code, stream.status_code) == (200, 200)
        assert len(recorder.calls) == 6
