"""JSON-RPC as an MCP server receives it: parsing, header agreement, and who may call what.

Nothing here trusts the shape of a body: every malformed message becomes a
:class:`ProtocolError` carrying its HTTP status and JSON-RPC error code, never an
exception that would end in a 500. Permissions are compiled once, per JSON-RPC
method and per tool name.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeAlias

from starlette.requests import HTTPConnection

from asgi_jwt.authz import Grants, Requirement, requirement_from
from asgi_jwt.errors import ConfigurationError, InsufficientScope

__all__ = [
    "ACCESS_DENIED",
    "HEADER_MISMATCH",
    "INVALID_REQUEST",
    "PARSE_ERROR",
    "Message",
    "Permissions",
    "ProtocolError",
    "check_headers",
    "error_object",
    "parse_messages",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020
"""MCP 2026-07-28: the ``Mcp-Method``/``Mcp-Name`` headers disagree with the body."""
ACCESS_DENIED = -32003
"""Implementation-defined (-32000..-32019): the caller may not make this call."""

Message: TypeAlias = Mapping[str, Any]
PermissionSpec: TypeAlias = str | Iterable[str] | Requirement
# Methods whose params name what they act on, mirrored in the Mcp-Name header (2026-07-28).
_NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_BASE64_HEADER = re.compile(r"=\?base64\?(.*)\?=")


class ProtocolError(Exception):
    """A request the MCP server cannot take: its HTTP status and a JSON-RPC error."""

    def __init__(self, status: int, code: int, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


def error_object(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def parse_messages(body: bytes) -> tuple[list[Message], bool]:
    """The messages of a body and whether it was a batch; a :class:`ProtocolError` when unusable."""
    try:
        value = _JSON.decode(body.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ProtocolError(400, PARSE_ERROR, "Parse error") from None
    batch = isinstance(value, list)
    messages = value if batch else [value]
    if not messages:
        raise ProtocolError(400, INVALID_REQUEST, "Invalid request: empty batch")
    for message in messages:
        if not isinstance(message, dict):
            raise ProtocolError(400, INVALID_REQUEST, "Invalid request: a message must be an object")
        method = message.get("method")
        request_id = message.get("id")
        if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, str | int)):
            raise ProtocolError(400, INVALID_REQUEST, "Invalid request: id must be a string or an integer")
        if "method" in message and not isinstance(method, str):
            raise ProtocolError(400, INVALID_REQUEST, "Invalid request: method must be a string", request_id)
        params = message.get("params")
        if params is not None and not isinstance(params, dict | list):
            raise ProtocolError(400, INVALID_REQUEST, "Invalid request: params must be an object", request_id)
        key = _NAME_BEARING.get(method) if isinstance(method, str) else None
        if key is not None and not (isinstance(params, dict) and isinstance(params.get(key), str)):
            raise ProtocolError(400, INVALID_PARAMS, f"Invalid params: {method} needs a string '{key}'", request_id)
    return messages, batch


def _header_value(value: bytes) -> str | None:
    """An ``Mcp-Name`` value: verbatim, or UTF-8 inside the ``=?base64?…?=`` wrapper (``None`` if corrupt)."""
    text = value.decode("latin-1")
    wrapped = _BASE64_HEADER.fullmatch(text)
    if wrapped is None:
        return text
    try:
        return base64.b64decode(wrapped.group(1), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def check_headers(headers: Iterable[tuple[bytes, bytes]], messages: list[Message], batch: bool) -> None:
    """``Mcp-Method`` and ``Mcp-Name``, when sent, must say what the body says (else -32020).

    A gateway may route or authorize on these headers while this server reads the
    body; letting them disagree would let a caller show one call and make another.
    """
    found: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        if name == b"mcp-method" or name == b"mcp-name":
            found.setdefault(name, []).append(value)
    if not found:
        return
    request_id = messages[0].get("id") if not batch else None
    if batch or any(len(values) > 1 for values in found.values()):
        raise ProtocolError(400, HEADER_MISMATCH, "Mcp-Method and Mcp-Name are sent once, for one message")
    method = messages[0].get("method")
    if b"mcp-method" in found and found[b"mcp-method"][0].decode("latin-1") != method:
        raise ProtocolError(400, HEADER_MISMATCH, "Mcp-Method header does not match the body's method", request_id)
    key = _NAME_BEARING.get(method) if isinstance(method, str) else None
    if b"mcp-name" in found and (key is None or _header_value(found[b"mcp-name"][0]) != messages[0]["params"][key]):
        raise ProtocolError(400, HEADER_MISMATCH, "Mcp-Name header does not match the body", request_id)


def _requirement(spec: PermissionSpec, what: str) -> Requirement:
    if isinstance(spec, Requirement):
        return spec
    if isinstance(spec, str):
        return requirement_from(spec)
    items = tuple(spec)
    if not items:
        raise ConfigurationError(f"{what}: an empty permission list would need nothing; use public_tools")
    return requirement_from(*items)


class Permissions:
    """Who may call what: per tool name (``tools/call``) and per JSON-RPC method.

    A tool listed in ``tools`` needs its requirement; a public tool needs nothing,
    not even a token; any other tool, and any method not listed in ``methods``,
    needs an authenticated caller.
    """

    def __init__(
        self,
        tools: Mapping[str, PermissionSpec] | None,
        methods: Mapping[str, PermissionSpec] | None,
        public_tools: Collection[str],
    ) -> None:
        if isinstance(public_tools, str):
            raise ConfigurationError("public_tools is a list of tool names, not one string")
        for what, table in (("tool_permissions", tools), ("method_permissions", methods)):
            if table is not None and not isinstance(table, Mapping):
                raise ConfigurationError(f"{what} maps each name to what calling it needs")
        self.public_tools = frozenset(public_tools)
        self.tools = {name: _requirement(spec, f"tool {name!r}") for name, spec in (tools or {}).items()}
        self.methods = {name: _requirement(spec, f"method {name!r}") for name, spec in (methods or {}).items()}
        both = self.public_tools & self.tools.keys()
        if both:
            raise ConfigurationError(f"tool {sorted(both)[0]!r} is both public and given permissions")
        if "tools/call" in self.methods:
            raise ConfigurationError("permissions for 'tools/call' are given per tool, in tool_permissions")
        self.scopes = frozenset(
            scope for requirement in (*self.tools.values(), *self.methods.values()) for scope in requirement.scopes
        )

    def is_public(self, message: Message) -> bool:
        """A call an anonymous caller may make: a public tool, or the protocol's own housekeeping."""
        method = message.get("method")
        if method == "tools/call":
            return message["params"]["name"] in self.public_tools
        return method in ("initialize", "ping", "tools/list") or method is None or method.startswith("notifications/")

    def requirement(self, message: Message) -> Requirement | None:
        method = message.get("method")
        if method is None:  # a response to the server's own request (sampling, elicitation)
            return None
        if method == "tools/call":
            return self.tools.get(message["params"]["name"])
        return self.methods.get(method)

    def denial(
        self, messages: list[Message], grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection
    ) -> tuple[InsufficientScope | None, dict[int, str]]:
        """Check every message: one error naming every scope needed, and what each denied message lacks."""
        scopes: dict[str, None] = {}
        lacking: dict[int, str] = {}
        for index, message in enumerate(messages):
            requirement = self.requirement(message)
            if requirement is None:
                continue
            missing = requirement.missing(grants, claims, conn)
            if missing is not None:
                lacking[index] = f"Requires {missing}"
                scopes.update(dict.fromkeys(requirement.scopes))
        if not lacking:
            return None, lacking
        description = next(iter(lacking.values())) if len(lacking) == 1 else "Insufficient permissions for this batch"
        return InsufficientScope(tuple(scopes), description), lacking

    def may_call(self, tool: str, grants: Grants | None, claims: Mapping[str, Any], conn: HTTPConnection) -> bool:
        """Whether a caller (``grants`` is ``None`` when anonymous) may call ``tool``: for ``tools/list``."""
        if tool in self.public_tools:
            return True
        if grants is None:
            return False
        requirement = self.tools.get(tool)
        return requirement is None or requirement.missing(grants, claims, conn) is None
