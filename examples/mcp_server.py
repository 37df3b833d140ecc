"""An MCP server protected by asgi-jwt: public, authenticated, per-permission and per-role tools.

Run it, then point any MCP client at ``http://127.0.0.1:8000/mcp`` with one of the
printed tokens as ``Authorization: Bearer …``::

    pip install "asgi-jwt[mcp]" uvicorn
    python examples/mcp_server.py

``JWT_SECRET_KEY`` (at least 32 bytes) is the key shared with the token issuer; when
unset, a random one is made up and the demo tokens printed at start-up are signed
with it. ``MCP_RESOURCE`` is the URI clients call (the tokens' audience).
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

from mcp.server.mcpserver import MCPServer

from asgi_jwt import HasRole, PermissionPolicy, SecretKey, current_claims
from asgi_jwt.integrations.mcp import protect_mcp

ISSUER = "https://auth.example.com"
RESOURCE = os.environ.get("MCP_RESOURCE", "http://127.0.0.1:8000/mcp")
ROLES = PermissionPolicy(
    {
        "admin": ["read:*", "write:*", "delete:*"],
        "user": ["read:posts", "write:own_posts"],
        "viewer": ["read:posts"],
        "doctor": ["read:records"],
    },
    role_claims=["roles", "role"],  # a list of roles, or one role in "role"
)
POSTS = {"1": "Hello MCP", "2": "Tokens bound to one server"}

mcp = MCPServer("Posts")


@mcp.tool()
def public_info() -> dict[str, Any]:
    """Anyone may call this one, without a token."""
    return {"server": "Posts", "authorization": "OAuth 2.1 bearer tokens"}


@mcp.tool()
def whoami() -> dict[str, Any]:
    """The caller's own claims: every request's, even on a shared session."""
    claims = current_claims() or {}
    return {"sub": claims.get("sub"), "roles": claims.get("roles", []), "name": claims.get("name")}


@mcp.tool()
def list_posts() -> dict[str, str]:
    return POSTS


@mcp.tool()
def delete_post(post_id: str) -> str:
    return "deleted" if POSTS.pop(post_id, None) is not None else "no such post"


@mcp.tool()
def admin_dashboard() -> dict[str, int]:
    return {"posts": len(POSTS)}


@mcp.tool()
def get_medical_records(patient_id: str) -> dict[str, Any]:
    """A doctor reads any patient's records; the identity comes from the token, never from the arguments."""
    claims = current_claims() or {}
    return {"patient_id": patient_id, "read_by": claims.get("user_id"), "as": claims.get("role"), "records": []}


def build_app(secret: str, resource: str = RESOURCE) -> Any:
    """The MCP app behind bearer-token auth: the one call this example is about."""
    return protect_mcp(
        mcp.streamable_http_app(),
        resource=resource,
        authorization_servers=[ISSUER],
        keys=SecretKey(secret),
        issuer=ISSUER,
        policy=ROLES,
        tool_permissions={
            "list_posts": "read:posts",
            "delete_post": "delete:posts",
            "admin_dashboard": HasRole("admin"),
            "get_medical_records": "read:records",
        },
        public_tools=["public_info"],
        filter_tools_list=True,  # tools/list shows each caller only what it may call
        resource_name="Posts",
    )


def mint(secret: str, resource: str = RESOURCE, **claims: Any) -> str:
    """A demo token, as the authorization server would issue it for this server (aud = resource)."""
    now = int(time.time())
    return SecretKey(secret).encode({"iss": ISSUER, "aud": resource, "iat": now, "exp": now + 3600, **claims})


if __name__ == "__main__":
    import uvicorn

    secret = os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48)
    print("admin: ", mint(secret, sub="ada", roles=["admin"]))
    print("viewer:", mint(secret, sub="bob", roles=["viewer"]))
    print("doctor:", mint(secret, sub="u-1", user_id="1", role="doctor"))
    uvicorn.run(build_app(secret), host="127.0.0.1", port=8000)
