"""``protect_mcp``: one call that makes an MCP streamable-HTTP app an OAuth 2.1 resource server.

Three layers, outside in: the RFC 9728 metadata (served without a token), the
:class:`~asgi_jwt.JWTAuthMiddleware` (the token, bound to this server's URI), and
the JSON-RPC gate here, which reads the body of JSON POSTs, checks every message
against the per-tool and per-method permissions and replays the body to the app.
GETs (the server's event stream), DELETEs and the answers, SSE included, pass
through untouched. Every refusal is built by :func:`~asgi_jwt.error_response` and
names the metadata in its ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_jwt.authz import Grants, PermissionPolicy
from asgi_jwt.authz.grants import grants_of
from asgi_jwt.errors import AuthError, ConfigurationError, MissingToken
from asgi_jwt.identity import JWTAuth
from asgi_jwt.integrations.mcp.jsonrpc import (
    ACCESS_DENIED,
    INVALID_REQUEST,
    Permissions,
    PermissionSpec,
    ProtocolError,
    check_headers,
    error_object,
    parse_messages,
)
from asgi_jwt.integrations.mcp.jsonrpc import Message as RPCMessage
from asgi_jwt.integrations.mcp.resource import AudienceBound, ResourceMetadata
from asgi_jwt.integrations.mcp.sessions import SessionOwners
from asgi_jwt.integrations.mcp.tools_list import ToolsListFilter
from asgi_jwt.keys import KeyResolver
from asgi_jwt.middleware import JWTAuthMiddleware
from asgi_jwt.paths import route_path
from asgi_jwt.responses import check_realm, error_response
from asgi_jwt.verify import TokenVerifier, Verifier

__all__ = ["DEFAULT_MAX_BODY_SIZE", "MCPAuthMiddleware", "protect_mcp"]

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
"""The largest JSON-RPC body read for authorization, in bytes; a larger one is a 413."""


class MCPAuthMiddleware:
    """Wrap an MCP streamable-HTTP app (``MCPServer(...).streamable_http_app()``) with bearer-token auth.

    Usually spelt :data:`protect_mcp` (the same class): ``app = protect_mcp(mcp_app, resource=..., ...)``.

    Args:
        app: the MCP app.
        resource: this server's URI as clients call it (``https://mcp.example.com/mcp``):
            the RFC 9728 ``resource`` and the audience every token must carry (RFC 8707).
        authorization_servers: the issuer URL(s) of the authorization server(s).
        verifier: a verifier of yours (its audience must admit ``resource``); or
        keys: a key resolver, from which a :class:`~asgi_jwt.TokenVerifier` with
            ``issuer`` and ``audience=resource`` is built.
        issuer: the accepted ``iss`` value(s), with ``keys``.
        tool_permissions: tool name to what calling it needs: a permission
            (``"delete:posts"``), several (all needed) or a
            :class:`~asgi_jwt.Requirement` (``HasRole("admin")``). Other tools need an
            authenticated caller.
        method_permissions: the same per JSON-RPC method (``"resources/read"``).
        public_tools: tools anyone may call, without a token.
        policy: a :class:`~asgi_jwt.PermissionPolicy` or role table, as for
            :class:`~asgi_jwt.JWTAuthMiddleware`.
        filter_tools_list: answer ``tools/list`` with only the tools the caller may call.
        scopes_supported: the metadata's list (default: every permission named above).
        resource_name: the metadata's human-readable name.
        jwks_uri: the metadata's ``jwks_uri``.
        identity_claim: the claim naming the caller (``user_id`` in some systems).
        max_body_size: the largest JSON-RPC body accepted, in bytes (413 beyond).
        forward_token: keep the ``Authorization`` header for the app. Off by default:
            the app gets the claims, never the token, so no tool can pass it on. Turn
            it on only when the app runs the SDK's own auth
            (``MCPServer(token_verifier=SDKTokenVerifier(...))``), which reads the header itself.
        bind_sessions: refuse (404) a request that names a stateful session another
            principal (issuer and identity) opened. Off by default: each request is
            authorized on its own token either way.
        realm: the challenge's ``realm``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        resource: str,
        authorization_servers: str | Iterable[str],
        verifier: Verifier | None = None,
        keys: KeyResolver | None = None,
        issuer: str | Iterable[str] | None = None,
        tool_permissions: Mapping[str, PermissionSpec] | None = None,
        method_permissions: Mapping[str, PermissionSpec] | None = None,
        public_tools: Collection[str] = (),
        policy: PermissionPolicy | Mapping[str, str | Iterable[str]] | None = None,
        filter_tools_list: bool = False,
        scopes_supported: Iterable[str] | None = None,
        resource_name: str | None = None,
        jwks_uri: str | None = None,
        identity_claim: str = "sub",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        forward_token: bool = False,
        bind_sessions: bool = False,
        realm: str = "mcp",
    ) -> None:
        if keys is not None and verifier is not None:
            raise ConfigurationError("protect_mcp needs either verifier= or keys=, not both")
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size < 1024:
            raise ConfigurationError("max_body_size must be a whole number of bytes, at least 1024")
        flags = {"filter_tools_list": filter_tools_list, "forward_token": forward_token, "bind_sessions": bind_sessions}
        for name, flag in flags.items():
            if not isinstance(flag, bool):
                raise ConfigurationError(f"{name} must be True or False")
        self.app = app
        self.rules = Permissions(tool_permissions, method_permissions, public_tools)
        self.metadata = ResourceMetadata(
            resource,
            authorization_servers=authorization_servers,
            scopes_supported=self.rules.scopes if scopes_supported is None else scopes_supported,
            jwks_uri=jwks_uri,
            resource_name=resource_name,
        )
        resource = self.metadata.resource
        if keys is not None:
            verifier = TokenVerifier(keys, issuer=issuer, audience=resource)
        elif verifier is None:
            raise ConfigurationError("protect_mcp needs either verifier= or keys=")
        elif issuer is not None:
            raise ConfigurationError("issuer= goes with keys=; a verifier of yours checks its own issuer")
        self.realm = check_realm(realm)
        self.max_body_size = max_body_size
        self.filter_tools_list = filter_tools_list
        self.forward_token = forward_token
        self.sessions = SessionOwners() if bind_sessions else None
        self.anonymous_allowed = bool(self.rules.public_tools)
        self.auth = JWTAuthMiddleware(
            self._gate,
            verifier=AudienceBound(verifier, resource),
            optional=self.anonymous_allowed,  # public tools: the gate asks for a token where one is needed
            identity_claim=identity_claim,
            realm=self.realm,
            on_error=self._answer,
            policy=policy,
            current_claims=True,  # tools read current_claims(): the SDK carries context per message
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope) in self.metadata.paths:
            await self._serve_metadata(scope, send)
            return
        await self.auth(scope, receive, send)

    def _answer(self, conn: HTTPConnection, error: AuthError, body: Any = None) -> Response:
        """The one response builder, with this server's metadata URL in the challenge."""
        return error_response(error, realm=self.realm, resource_metadata=self.metadata.url, body=body)

    async def _serve_metadata(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.metadata.headers})
        await send({"type": "http.response.body", "body": self.metadata.body if scope["method"] == "GET" else b""})

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Behind authentication: authorize each JSON-RPC message, then call the app without the token."""
        auth = scope.get("auth")
        authenticated = isinstance(auth, JWTAuth) and auth.token is not None
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        claims: Mapping[str, Any] = {}
        if isinstance(auth, JWTAuth) and authenticated:
            claims = auth.claims
            scope["auth"] = JWTAuth(claims, auth.scopes, None)
            if not self.forward_token:
                scope["headers"] = [(name, value) for name, value in scope["headers"] if name != b"authorization"]
        if self.sessions is not None:
            principal = (claims.get("iss"), scope["user"].identity) if authenticated else None
            if self.sessions.refuses(scope, principal):
                await _protocol_error(send, ProtocolError(404, INVALID_REQUEST, "Session not found"))
                return
            send = self.sessions.watch(scope, send, principal)
        if scope["method"] != "POST" or not _is_json(scope):
            if not authenticated and scope["method"] == "POST":
                await self._refuse(scope, receive, send, MissingToken())  # only JSON-RPC calls can be public
                return
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            messages, batch = parse_messages(body)
            check_headers(scope["headers"], messages, batch)
        except ProtocolError as problem:
            await _protocol_error(send, problem)
            return
        conn = HTTPConnection(scope)
        grants: Grants | None = grants_of(scope["auth"]) if authenticated else None
        if grants is None:
            if not all(self.rules.is_public(message) for message in messages):
                await self._refuse(scope, receive, send, MissingToken())
                return
        else:
            denial, lacking = self.rules.denial(messages, grants, claims, conn)
            if denial is not None:
                await self._refuse(scope, receive, send, denial, _denied_body(messages, batch, lacking, denial.scope))
                return
        listing = {message.get("id") for message in messages if message.get("method") == "tools/list"}
        if self.filter_tools_list and listing:
            send = ToolsListFilter(send, listing, lambda tool: self.rules.may_call(tool, grants, claims, conn))
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: AuthError, body: Any = None) -> None:
        await self._answer(HTTPConnection(scope), error, body)(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            raise ProtocolError(413, INVALID_REQUEST, "Request body is too large")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                raise ProtocolError(400, INVALID_REQUEST, "Request body is incomplete")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                raise ProtocolError(413, INVALID_REQUEST, "Request body is too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _is_json(scope: Scope) -> bool:
    """A JSON content type: ``application/json`` (parameters aside) or any ``+json`` type."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _denied_body(messages: list[RPCMessage], batch: bool, lacking: Mapping[int, str], scope: tuple[str, ...]) -> Any:
    """JSON-RPC errors for a refused request: one per request message, each with its own ``id``."""
    data = {"error": "insufficient_scope", "scope": " ".join(scope)}
    answers = []
    for index, message in enumerate(messages):
        if "id" not in message or "method" not in message:
            continue  # notifications and responses get no answer
        reason = lacking.get(index, "Not run: another message in this batch was refused")
        answers.append(error_object(message["id"], ACCESS_DENIED, reason, data))
    if batch:
        return answers
    return answers[0] if answers else error_object(None, ACCESS_DENIED, next(iter(lacking.values())), data)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body we read, once, then what the server sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _protocol_error(send: Send, problem: ProtocolError) -> None:
    body = json.dumps(error_object(problem.request_id, problem.code, problem.message), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


protect_mcp = MCPAuthMiddleware
"""``protect_mcp(app, resource=..., authorization_servers=..., keys=... or verifier=..., ...)``."""
