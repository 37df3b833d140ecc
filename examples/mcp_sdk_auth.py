"""An MCP server that runs the SDK's own auth over asgi-jwt, behind protect_mcp: ``get_access_token()`` in tools.

The SDK's bearer middleware asks ``SDKTokenVerifier`` about each token and binds
every stateful session to the token's ``(client_id, iss, sub)``; protect_mcp in
front keeps the precise answers (401/403/503 with ``resource_metadata``) and the
per-tool permissions. Run it like ``mcp_server.py``::

    python examples/mcp_sdk_auth.py
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from asgi_jwt import PermissionPolicy, SecretKey, TokenVerifier
from asgi_jwt.integrations.mcp import SDKTokenVerifier, protect_mcp

ISSUER = "https://auth.example.com"
RESOURCE = os.environ.get("MCP_RESOURCE", "http://127.0.0.1:8000/mcp")
ROLES = PermissionPolicy({"admin": ["read:*", "write:*", "delete:*"], "viewer": ["read:posts"]})


def build_app(secret: str, resource: str = RESOURCE) -> Any:
    verifier = TokenVerifier(SecretKey(secret), issuer=ISSUER, audience=resource)
    server = MCPServer(
        "sdk-auth",
        token_verifier=SDKTokenVerifier(verifier, resource=resource, policy=ROLES),
        auth=AuthSettings(issuer_url=ISSUER, resource_server_url=resource, validate_token_resource=True),
    )

    @server.tool()
    def me() -> dict[str, Any]:
        """The SDK's view of the caller: this request's token, never the session opener's."""
        access = get_access_token()
        if access is None:
            return {}
        roles = (access.claims or {}).get("roles")
        return {"client": access.client_id, "sub": access.subject, "roles": roles, "scopes": access.scopes}

    return protect_mcp(
        server.streamable_http_app(),
        resource=resource,
        authorization_servers=[ISSUER],
        verifier=verifier,
        policy=ROLES,
        forward_token=True,  # the SDK's own middleware reads the header
    )


if __name__ == "__main__":
    import time

    import uvicorn

    secret = os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": RESOURCE, "iat": now, "exp": now + 3600, "sub": "bob", "roles": ["viewer"]}
    print("viewer:", SecretKey(secret).encode(claims))
    uvicorn.run(build_app(secret), host="127.0.0.1", port=8000)
