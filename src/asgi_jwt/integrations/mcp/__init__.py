"""MCP servers: an OAuth 2.1 resource server in one call, per-tool authorization, the SDK's auth hooks.

``protect_mcp(app, resource=..., authorization_servers=..., keys=...)`` wraps an
MCP streamable-HTTP app: RFC 9728 metadata, audience binding (RFC 8707), a
``resource_metadata`` challenge on every 401/403, and permissions per tool and per
JSON-RPC method. Tools read the caller's claims with :func:`~asgi_jwt.current_claims`.

:class:`SDKTokenVerifier` (imported on first use, it needs ``asgi-jwt[mcp]``) fits
the SDK's own ``TokenVerifier`` protocol, for ``get_access_token()``. Nothing else
here imports the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_jwt.integrations.mcp.jsonrpc import ACCESS_DENIED, HEADER_MISMATCH
from asgi_jwt.integrations.mcp.protect import DEFAULT_MAX_BODY_SIZE, MCPAuthMiddleware, protect_mcp
from asgi_jwt.integrations.mcp.resource import canonical_resource_uri

if TYPE_CHECKING:
    from asgi_jwt.integrations.mcp.sdk import SDKTokenVerifier

__all__ = [
    "ACCESS_DENIED",
    "DEFAULT_MAX_BODY_SIZE",
    "HEADER_MISMATCH",
    "MCPAuthMiddleware",
    "SDKTokenVerifier",
    "canonical_resource_uri",
    "protect_mcp",
]


def __getattr__(name: str) -> Any:
    if name == "SDKTokenVerifier":  # the one name that needs the SDK: imported when asked for
        from asgi_jwt.integrations.mcp.sdk import SDKTokenVerifier

        return SDKTokenVerifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
