"""FastAPI permissions and roles as ``str`` enums: an MCP code-indexing server with viewer/developer/admin roles.

The users' enums (``Permission``, ``Role``, ``MCPPermission``) and their
``ROLE_PERMISSIONS`` table are used as they are: ``str`` enums work as names.
The answers follow RFC 6750 where such servers often do not: a bad scheme or token
is a 401 (not a 403), a missing permission is a 403 ``insufficient_scope`` naming it
(not "Insufficient permissions"), and a refresh token is refused as an access token.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from asgi_jwt import JWTAuthMiddleware, PermissionPolicy, SecretKey, TokenVerifier
from asgi_jwt.integrations.fastapi import add_exception_handlers, get_claims, require
from conftest import TokenFactory


class Permission(str, Enum):
    INDEX_READ = "index:read"
    INDEX_WRITE = "index:write"
    SEARCH_READ = "search:read"
    ADMIN = "admin"


class Role(str, Enum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"


class MCPPermission(str, Enum):
    INDEX_CREATE = "mcp:index:create"
    INDEX_UPDATE = "mcp:index:update"
    INDEX_DELETE = "mcp:index:delete"
    SEARCH_CODE = "mcp:search:code"
    SEARCH_SEMANTIC = "mcp:search:semantic"
    PLUGIN_MANAGE = "mcp:plugin:manage"
    SYSTEM_CONFIG = "mcp:system:config"
    USER_MANAGE = "mcp:user:manage"


# The users' table, with the MCP permissions each role also holds (wildcards where a role holds a whole area).
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.VIEWER: [Permission.SEARCH_READ, "mcp:search:*"],
    Role.DEVELOPER: [
        Permission.INDEX_READ,
        Permission.INDEX_WRITE,
        Permission.SEARCH_READ,
        MCPPermission.INDEX_CREATE,
        MCPPermission.INDEX_UPDATE,
        "mcp:search:*",
    ],
    Role.ADMIN: [Permission.INDEX_READ, Permission.INDEX_WRITE, Permission.SEARCH_READ, Permission.ADMIN, "mcp:*"],
}
# Grants in a non-standard "scopes" claim, as these servers issue them: reading it is configuration.
POLICY = PermissionPolicy(ROLE_PERMISSIONS, permission_claims=["scope", "scopes"])


def mcp_server(verifier: TokenVerifier) -> tuple[FastAPI, JWTAuthMiddleware]:
    api = FastAPI()
    add_exception_handlers(api)

    @api.post("/index", dependencies=[Depends(require(Permission.INDEX_WRITE, MCPPermission.INDEX_CREATE))])
    async def index_repository(repo_path: str) -> dict[str, Any]:
        return {"indexed": repo_path}

    @api.put("/index/{name}", dependencies=[Depends(require(MCPPermission.INDEX_UPDATE))])
    async def update_index(name: str) -> dict[str, Any]:
        return {"updated": name}

    @api.delete("/index/{name}", dependencies=[Depends(require(MCPPermission.INDEX_DELETE))])
    async def delete_index(name: str) -> dict[str, Any]:
        return {"deleted": name}

    @api.get("/search/code", dependencies=[Depends(require(MCPPermission.SEARCH_CODE))])
    async def search_code(q: str) -> dict[str, Any]:
        return {"code": q}

    @api.get("/search/semantic")
    async def search_semantic(
        q: str, claims: Annotated[Any, Security(get_claims, scopes=[MCPPermission.SEARCH_SEMANTIC.value])]
    ) -> dict[str, Any]:
        return {"semantic": q, "for": claims["sub"]}

    @api.post("/plugins", dependencies=[Depends(require(MCPPermission.PLUGIN_MANAGE))])
    async def manage_plugins() -> dict[str, Any]:
        return {"plugins": "managed"}

    @api.put("/system/config", dependencies=[Depends(require(MCPPermission.SYSTEM_CONFIG, roles=Role.ADMIN))])
    async def system_config() -> dict[str, Any]:
        return {"config": "saved"}

    @api.get("/users", dependencies=[Depends(require(MCPPermission.USER_MANAGE))])
    async def list_users() -> dict[str, Any]:
        return {"users": ["alice"]}

    return api, JWTAuthMiddleware(api, verifier=verifier, policy=POLICY)


TOOLS = {
    "index_repository": ("POST", "/index?repo_path=src", {"indexed": "src"}),
    "update_index": ("PUT", "/index/main", {"updated": "main"}),
    "delete_index": ("DELETE", "/index/main", {"deleted": "main"}),
    "search_code": ("GET", "/search/code?q=def", {"code": "def"}),
    "search_semantic": ("GET", "/search/semantic?q=auth", {"semantic": "auth", "for": "alice"}),
    "manage_plugins": ("POST", "/plugins", {"plugins": "managed"}),
    "system_config": ("PUT", "/system/config", {"config": "saved"}),
    "list_users": ("GET", "/users", {"users": ["alice"]}),
}


def needs(scope: str, *, role: str | None = None) -> tuple[str, str]:
    names = scope.split()
    listed = ", ".join(f"'{name}'" for name in names)
    description = f"Requires the permission {listed}" if len(names) == 1 else f"Requires the permissions {listed}"
    if role:
        description = f"Requires the role '{role}'" if not names else f"{description} and the role '{role}'"
    return description, scope


DENIED = {
    "viewer": {
        "index_repository": needs("index:write mcp:index:create"),
        "update_index": needs("mcp:index:update"),
        "delete_index": needs("mcp:index:delete"),
        "manage_plugins": needs("mcp:plugin:manage"),
        "system_config": needs("mcp:system:config", role="admin"),
        "list_users": needs("mcp:user:manage"),
    },
    "developer": {
        "delete_index": needs("mcp:index:delete"),
        "manage_plugins": needs("mcp:plugin:manage"),
        "system_config": needs("mcp:system:config", role="admin"),
        "list_users": needs("mcp:user:manage"),
    },
    "admin": {},
}


async def call(app: Any, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers=headers or {})


@pytest.mark.parametrize("role", list(DENIED))
@pytest.mark.parametrize("tool", list(TOOLS))
async def test_each_role_against_each_tool(
    role: str, tool: str, verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    _, app = mcp_server(verifier)
    method, path, body = TOOLS[tool]
    response = await call(app, method, path, {"Authorization": f"Bearer {make_token(roles=[role])}"})
    denied = DENIED[role].get(tool)
    if denied is None:
        assert (response.status_code, response.json()) == (200, body)
        return
    description, scope = denied
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="api", error="insufficient_scope", error_description="{description}", scope="{scope}"'
    )
    assert response.json() == {"detail": description, "error": "insufficient_scope"}


@pytest.mark.parametrize("tool", list(TOOLS))
async def test_no_token_is_a_401_with_the_bare_challenge(tool: str, verifier: TokenVerifier) -> None:
    _, app = mcp_server(verifier)
    method, path, _ = TOOLS[tool]
    response = await call(app, method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Not authenticated", "error": None}


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        ("Basic YWxpY2U6c2VjcmV0", 'Bearer realm="api"'),  # not a 403 "Invalid authentication scheme"
        ("Bearer not-a-jwt", 'Bearer realm="api", error="invalid_token", error_description="Malformed token"'),
    ],
)
async def test_bad_credentials_are_401_not_403(authorization: str, challenge: str, verifier: TokenVerifier) -> None:
    _, app = mcp_server(verifier)
    response = await call(app, "GET", "/search/code?q=x", {"Authorization": authorization})
    assert (response.status_code, response.headers["www-authenticate"]) == (401, challenge)


async def test_a_scopes_claim_and_refresh_tokens(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    _, app = mcp_server(verifier)
    scoped = make_token(sub="alice", scopes=["index:write", "mcp:index:create"])
    assert (await call(app, "POST", "/index?repo_path=x", {"Authorization": f"Bearer {scoped}"})).status_code == 200
    refresh = make_token(sub="alice", roles=["admin"], type="refresh")
    response = await call(app, "GET", "/users", {"Authorization": f"Bearer {refresh}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Refresh tokens cannot be used for access"'
    )


def test_openapi_lists_the_mcp_permissions_per_route(verifier: TokenVerifier) -> None:
    api, _ = mcp_server(verifier)
    paths = api.openapi()["paths"]
    assert paths["/index"]["post"]["security"] == [{"bearerAuth": ["index:write", "mcp:index:create"]}]
    assert paths["/index/{name}"]["delete"]["security"] == [{"bearerAuth": ["mcp:index:delete"]}]
    assert paths["/search/semantic"]["get"]["security"] == [{"bearerAuth": ["mcp:search:semantic"]}]
    assert paths["/system/config"]["put"]["security"] == [{"bearerAuth": ["mcp:system:config"]}]


async def test_a_wrong_secret_never_authorizes(make_token: TokenFactory, verifier: TokenVerifier) -> None:
    """The grants come only from a verified token: a forged admin token is a 401 before any rule."""
    _, app = mcp_server(verifier)
    forged = make_token(key=SecretKey("another-secret-that-is-long-enough-for-hs256"), roles=["admin"])
    response = await call(app, "GET", "/users", {"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Invalid token signature"'
    )
