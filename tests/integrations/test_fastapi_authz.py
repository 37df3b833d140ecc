"""FastAPI: ``require(...)``, ``Security`` scopes, current claims/user, OpenAPI, and the one error builder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from asgi_jwt import (
    ClaimCheck,
    ConfigurationError,
    HasPermission,
    HasRole,
    InsufficientScope,
    JWTAuth,
    JWTAuthMiddleware,
    Rule,
    TokenVerifier,
)
from asgi_jwt.integrations.fastapi import (
    CurrentClaims,
    CurrentUser,
    add_exception_handlers,
    get_claims,
    get_user,
    require,
)
from conftest import TokenFactory

ROLES = {"admin": ["*"], "editor": ["posts:*"], "reader": ["posts:read"]}
BARE = 'Bearer realm="api"'


def same_org(claims: Mapping[str, Any], conn: Any) -> bool:
    return bool(claims.get("org") == conn.path_params.get("org"))


def build(verifier: TokenVerifier, *, realm: str = "api") -> ASGIApp:
    api = FastAPI()
    add_exception_handlers(api, realm=realm)

    @api.get("/public")
    async def public() -> dict[str, str]:
        return {"hello": "world"}

    @api.post("/posts", dependencies=[Depends(require("posts:write"))])
    async def create_post() -> dict[str, str]:
        return {"created": "yes"}

    @api.get("/me")
    async def me(claims: Annotated[Mapping[str, Any], Security(get_claims, scopes=["profile:read"])]) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    @api.get("/whoami")
    async def whoami(claims: CurrentClaims, user: CurrentUser) -> dict[str, Any]:
        return {"sub": claims["sub"], "identity": user.identity, "authenticated": user.is_authenticated}

    @api.get("/admin")
    async def admin(auth: Annotated[JWTAuth, Depends(require(roles="admin"))]) -> dict[str, Any]:
        return {"admin": auth.claims["sub"]}

    @api.delete("/posts/{post_id}")
    async def delete_post(
        post_id: int, auth: Annotated[JWTAuth, Depends(require(HasRole("admin") | HasPermission("posts:delete")))]
    ) -> dict[str, Any]:
        return {"deleted": post_id}

    @api.get(
        "/orgs/{org}/report",
        dependencies=[Depends(require("reports:read", ClaimCheck(same_org, "a token for this org")))],
    )
    async def report(org: str) -> dict[str, str]:
        return {"org": org}

    @api.get("/raises")
    async def raises(user: Annotated[Any, Depends(get_user)]) -> None:
        raise InsufficientScope("billing:read", "Billing is for accountants")

    return JWTAuthMiddleware(api, verifier=verifier, optional=True, policy=ROLES, realm=realm, cookie="session")


async def call(app: ASGIApp, method: str, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers=headers)


def forbidden(description: str, scope: str | None = None, realm: str = "api") -> str:
    challenge = f'Bearer realm="{realm}", error="insufficient_scope", error_description="{description}"'
    return challenge + (f', scope="{scope}"' if scope else "")


def assert_forbidden(response: httpx.Response, description: str, scope: str | None = None) -> None:
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == forbidden(description, scope)
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"detail": description, "error": "insufficient_scope"}


@pytest.fixture
def app(verifier: TokenVerifier) -> ASGIApp:
    return build(verifier)


def openapi(app: ASGIApp) -> dict[str, Any]:
    with TestClient(app) as client:
        response = client.get("/openapi.json")  # served without a token: optional mode
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_openapi_has_the_bearer_scheme_and_per_route_scopes(app: ASGIApp) -> None:
    document = openapi(app)
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT access token, sent as `Authorization: Bearer <token>`.",
        }
    }
    paths = document["paths"]
    assert "security" not in paths["/public"]["get"]
    assert paths["/posts"]["post"]["security"] == [{"bearerAuth": ["posts:write"]}]
    assert paths["/me"]["get"]["security"] == [{"bearerAuth": ["profile:read"]}]
    assert paths["/whoami"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/admin"]["get"]["security"] == [{"bearerAuth": []}]  # roles are not scopes
    assert paths["/posts/{post_id}"]["delete"]["security"] == [{"bearerAuth": ["posts:delete"]}]
    assert paths["/orgs/{org}/report"]["get"]["security"] == [{"bearerAuth": ["reports:read"]}]
    # The scheme adds no Authorization header parameter of its own.
    assert all(p["name"] != "Authorization" for p in paths["/posts"]["post"].get("parameters", []))


async def test_require_admits_and_refuses(app: ASGIApp, make_token: TokenFactory) -> None:
    assert (await call(app, "POST", "/posts", make_token(roles=["editor"]))).json() == {"created": "yes"}
    assert (await call(app, "POST", "/posts", make_token(scope="*"))).status_code == 200
    assert_forbidden(
        await call(app, "POST", "/posts", make_token(roles=["reader"])),
        "Requires the permission 'posts:write'",
        "posts:write",
    )
    assert (await call(app, "GET", "/admin", make_token(sub="root", roles=["admin"]))).json() == {"admin": "root"}
    assert_forbidden(await call(app, "GET", "/admin", make_token(roles=["editor"])), "Requires the role 'admin'")
    assert (await call(app, "DELETE", "/posts/7", make_token(roles=["editor"]))).json() == {"deleted": 7}
    assert_forbidden(
        await call(app, "DELETE", "/posts/7", make_token(roles=["reader"])),
        "Requires the role 'admin' or the permission 'posts:delete'",
        "posts:delete",
    )


async def test_security_scopes_are_enforced(app: ASGIApp, make_token: TokenFactory) -> None:
    assert (await call(app, "GET", "/me", make_token(sub="alice", scope="profile:read"))).json() == {"sub": "alice"}
    assert (await call(app, "GET", "/me", make_token(sub="alice", scope="profile:*"))).json() == {"sub": "alice"}
    assert_forbidden(
        await call(app, "GET", "/me", make_token(scope="profile")),
        "Requires the permission 'profile:read'",
        "profile:read",
    )


async def test_a_token_from_a_cookie_is_not_refused_by_the_bearer_scheme(
    app: ASGIApp, make_token: TokenFactory
) -> None:
    """``auto_error=False``: the scheme only documents; the middleware found the token elsewhere."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    cookies = {"session": make_token(roles=["editor"])}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies) as client:
        response = await client.post("/posts", headers={"Origin": "http://testserver"})  # same origin: no CSRF
    assert (response.status_code, response.json()) == (200, {"created": "yes"})


async def test_current_claims_and_user(app: ASGIApp, make_token: TokenFactory) -> None:
    response = await call(app, "GET", "/whoami", make_token(sub="alice"))
    assert response.json() == {"sub": "alice", "identity": "alice", "authenticated": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/posts"), ("GET", "/me"), ("GET", "/whoami"), ("GET", "/admin"), ("GET", "/orgs/acme/report")],
)
async def test_anonymous_callers_get_our_401_not_fastapis(app: ASGIApp, method: str, path: str) -> None:
    response = await call(app, method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_a_claim_check_sees_path_parameters(app: ASGIApp, make_token: TokenFactory) -> None:
    token = make_token(org="acme", scope="reports:read")
    assert (await call(app, "GET", "/orgs/acme/report", token)).json() == {"org": "acme"}
    assert_forbidden(
        await call(app, "GET", "/orgs/evil/report", token), "Requires a token for this org", "reports:read"
    )
    assert_forbidden(
        await call(app, "GET", "/orgs/acme/report", make_token(org="acme")),
        "Requires the permission 'reports:read'",
        "reports:read",
    )


async def test_errors_raised_in_routes_use_the_one_builder(app: ASGIApp, make_token: TokenFactory) -> None:
    response = await call(app, "GET", "/raises", make_token())
    assert_forbidden(response, "Billing is for accountants", "billing:read")


async def test_dependency_answers_are_byte_for_byte_the_middlewares(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    """The same refusal from a FastAPI dependency and from a middleware rule."""

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    by_rule = JWTAuthMiddleware(
        Starlette(routes=[Route("/posts", ok, methods=["POST"])]),
        verifier=verifier,
        optional=True,
        policy=ROLES,
        realm="blog",
        rules=[Rule("/posts", "posts:write", methods="POST")],
    )
    by_dependency = build(verifier, realm="blog")
    for token in (make_token(roles=["reader"]), None):
        ours = await call(by_dependency, "POST", "/posts", token)
        theirs = await call(by_rule, "POST", "/posts", token)
        assert ours.status_code == theirs.status_code == (403 if token else 401)
        assert ours.content == theirs.content
        for header in ("www-authenticate", "cache-control", "content-type"):
            assert ours.headers[header] == theirs.headers[header]


async def test_without_the_exception_handlers_the_answers_are_still_right(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    """Zero configuration: FastAPI's own HTTPException handler answers our errors with status and challenge."""
    api = FastAPI()

    @api.get("/me")
    async def me(claims: CurrentClaims) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    @api.get("/posts", dependencies=[Depends(require("posts:read"))])
    async def posts() -> list[str]:
        return []

    @api.get("/profile")
    async def profile(claims: Annotated[Mapping[str, Any], Security(get_claims, scopes=["profile"])]) -> str:
        return "profile"

    app = JWTAuthMiddleware(api, verifier=verifier, optional=True)
    granted = await call(app, "GET", "/posts", make_token(scope="posts:read"))
    assert (granted.status_code, granted.json()) == (200, [])
    assert (await call(app, "GET", "/me", make_token())).json() == {"sub": "alice"}

    anonymous = await call(app, "GET", "/me", None)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == BARE
    assert anonymous.json() == {"detail": "Not authenticated"}

    for path, needed in (("/posts", "posts:read"), ("/profile", "profile")):
        refused = await call(app, "GET", path, make_token(scope="other"))
        assert refused.status_code == 403
        assert refused.headers["www-authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
        assert f'scope="{needed}"' in refused.headers["www-authenticate"]
        assert refused.headers["cache-control"] == "no-store"
        assert refused.json() == {"detail": f"Requires the permission '{needed}'"}


async def test_without_the_middleware_the_dependency_is_a_configuration_error() -> None:
    api = FastAPI()
    add_exception_handlers(api)

    @api.get("/me")
    async def me(claims: CurrentClaims) -> dict[str, Any]:
        return dict(claims)

    with pytest.raises(ConfigurationError, match="wrap the application in JWTAuthMiddleware"):
        await call(api, "GET", "/me")


def test_importing_the_core_does_not_import_fastapi() -> None:
    code = "import sys, asgi_jwt, asgi_jwt.authz; print('fastapi' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == "False"
