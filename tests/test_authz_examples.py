"""The authorization examples the docs include, run for real (as ``tests/test_examples.py`` does for the others)."""

from __future__ import annotations

import os
import runpy
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgi_jwt import SecretKey

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "example-secret-that-is-long-enough-for-hs256"
BARE = 'Bearer realm="api"'


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Any:
    def run(name: str) -> Any:
        for variable in list(os.environ):
            if variable.startswith("JWT_"):
                monkeypatch.delenv(variable)
        monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
        return runpy.run_path(str(EXAMPLES / f"{name}.py"))["app"]

    return run


def bearer(**claims: Any) -> dict[str, str]:
    now = int(time.time())
    token = SecretKey(SECRET).encode({"sub": "alice", "iat": now, "exp": now + 300, **claims})
    return {"Authorization": f"Bearer {token}"}


def forbidden(description: str, scope: str | None = None) -> str:
    challenge = f'Bearer realm="api", error="insufficient_scope", error_description="{description}"'
    return challenge + (f', scope="{scope}"' if scope else "")


async def send(app: Any, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.request(method, path, headers=headers or {})


async def test_rules_example(load: Any) -> None:
    app = load("authz_rules")
    assert (await send(app, "GET", "/public_info")).json() == {"server": "blog"}
    anonymous = await send(app, "GET", "/whoami")
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, BARE)
    whoami = await send(app, "GET", "/whoami", bearer(roles=["user"]))
    assert whoami.json() == {"sub": "alice", "roles": ["user"], "grants": ["read:posts", "write:own_posts"]}
    assert (await send(app, "POST", "/posts", bearer(roles=["user"]))).json() == {"method": "POST", "posts": []}
    viewer_writes = await send(app, "POST", "/posts", bearer(roles=["viewer"]))
    assert viewer_writes.status_code == 403
    description = "Requires the permission 'write:own_posts'"
    assert viewer_writes.headers["www-authenticate"] == forbidden(description, "write:own_posts")
    assert viewer_writes.json() == {"detail": description, "error": "insufficient_scope"}
    assert (await send(app, "DELETE", "/posts/1", bearer(roles=["admin"]))).status_code == 200
    assert (await send(app, "DELETE", "/posts/1", bearer(roles=["user"]))).status_code == 403
    assert (await send(app, "GET", "/admin/dashboard", bearer(roles=["admin"]))).json() == {"users": 3}
    user_dashboard = await send(app, "GET", "/admin/dashboard", bearer(roles=["user"]))
    assert user_dashboard.headers["www-authenticate"] == forbidden("Requires the role 'admin'")


async def test_starlette_example(load: Any) -> None:
    app = load("authz_starlette")
    editor = bearer(realm_access={"roles": ["editor"]})
    auditor = bearer(realm_access={"roles": ["auditor"]}, tenant="acme")
    assert (await send(app, "POST", "/publish", editor)).json() == {"published": True}
    refused = await send(app, "POST", "/publish", auditor)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == forbidden("Requires the permission 'posts:publish'", "posts:publish")
    assert (await send(app, "GET", "/drafts", auditor)).status_code == 200
    assert (await send(app, "GET", "/drafts", bearer())).json() == {
        "detail": "Requires the role 'editor' or the role 'auditor'",
        "error": "insufficient_scope",
    }
    assert (await send(app, "GET", "/export", auditor)).status_code == 200
    assert (await send(app, "GET", "/export", bearer(scope="reports:export"))).status_code == 200
    assert (await send(app, "GET", "/read", editor)).status_code == 200  # posts:* through @requires
    starlette_403 = await send(app, "GET", "/read", auditor)
    assert (starlette_403.status_code, starlette_403.headers.get("www-authenticate")) == (403, None)
    assert (await send(app, "GET", "/tenants/acme/report", auditor)).json() == {"tenant": "acme"}
    other_tenant = await send(app, "GET", "/tenants/globex/report", auditor)
    assert other_tenant.json() == {"detail": "Requires a token for this tenant", "error": "insufficient_scope"}
    assert (await send(app, "POST", "/archive", bearer(scope="posts:archive"))).json() == {"archived": True}
    assert (await send(app, "POST", "/archive", editor)).status_code == 200  # posts:* grants posts:archive
    not_editor = await send(app, "POST", "/archive", auditor)
    assert not_editor.headers["www-authenticate"] == forbidden(
        "Requires the permission 'posts:archive'", "posts:archive"
    )


async def test_fastapi_example(load: Any) -> None:
    app = load("authz_fastapi")
    developer, viewer, admin = (bearer(roles=[role]) for role in ("developer", "viewer", "admin"))
    assert (await send(app, "POST", "/index?repo=x", developer)).json() == {"indexing": "x"}
    refused = await send(app, "POST", "/index?repo=x", viewer)
    assert refused.headers["www-authenticate"] == forbidden(
        "Requires the permission 'mcp:index:create'", "mcp:index:create"
    )
    assert (await send(app, "DELETE", "/index/x", developer)).status_code == 403
    assert (await send(app, "DELETE", "/index/x", admin)).json() == {"deleted": "x"}
    assert (await send(app, "GET", "/search?q=auth", viewer)).json() == {"q": "auth", "for": "alice"}
    anonymous = await send(app, "GET", "/search?q=auth")
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, BARE)
    assert (await send(app, "GET", "/admin/users", admin)).json() == {"users": [], "asked_by": "alice"}
    schema = (await send(app, "GET", "/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert schema["paths"]["/index"]["post"]["security"] == [{"bearerAuth": ["mcp:index:create"]}]
    assert schema["paths"]["/search"]["get"]["security"] == [{"bearerAuth": ["mcp:search:code"]}]
    assert (await send(app, "GET", "/docs")).status_code == 200
