"""Authorization: matching, policies, requirements, middleware rules and the Starlette decorator.

Unit tables first (what ``name in grants`` answers, what a policy reads from claims,
what each misconfiguration says), then the same rules end to end through
``httpx.ASGITransport``, asserting status, challenge and body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.endpoints import HTTPEndpoint
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect

from asgi_jwt import (
    AllOf,
    AnyOf,
    AuthError,
    ClaimCheck,
    ConfigurationError,
    Grants,
    HasPermission,
    HasRole,
    InsufficientScope,
    JWTAuthMiddleware,
    PermissionPolicy,
    Rule,
    TokenVerifier,
    auth_exception_handlers,
    authorize,
    error_response,
)
from asgi_jwt.authz import requirement_from
from conftest import TokenFactory

BARE = 'Bearer realm="api"'
NOT_AUTHENTICATED = {"detail": "Not authenticated", "error": None}
BLOG_ROLES = {
    "admin": ["read:*", "write:*", "delete:*"],
    "user": ["read:posts", "write:own_posts"],
    "viewer": ["read:posts"],
}


def forbidden(description: str, scope: str | None = None, realm: str = "api") -> str:
    challenge = f'Bearer realm="{realm}", error="insufficient_scope", error_description="{description}"'
    return challenge + (f', scope="{scope}"' if scope else "")


def assert_answer(response: httpx.Response, status: int, challenge: str | None, body: Mapping[str, Any]) -> None:
    assert response.status_code == status
    assert response.headers.get("www-authenticate") == challenge
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == body


def assert_forbidden(response: httpx.Response, description: str, scope: str | None = None) -> None:
    assert_answer(response, 403, forbidden(description, scope), {"detail": description, "error": "insufficient_scope"})


async def call(app: ASGIApp, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers=headers, **kwargs)


# --- matching ----------------------------------------------------------------------------------

MATCHING = [
    # (granted, asked, expected)
    (["read:posts"], "read:posts", True),
    (["read:*"], "read:posts", True),
    (["read:*"], "read:posts:drafts", True),
    (["*"], "read:posts", True),
    (["*"], "anything-at-all", True),
    (["*"], "read:*", True),
    (["mcp:*"], "mcp:index:create", True),
    (["mcp:index:*"], "mcp:index:create", True),
    (["read:*"], "read:*", True),
    (["read"], "read:posts", False),  # no prefix surprises
    (["orders:read"], "orders:readall", False),
    (["orders:read"], "orders:rea", False),
    (["read:*"], "read", False),  # the wildcard needs something after the separator
    (["read:*"], "read:", False),
    (["read:*"], "reader:posts", False),
    (["read:*"], "write:posts", False),
    (["mcp:index:*"], "mcp:search:code", False),
    (["read:posts"], "READ:POSTS", False),  # scope tokens are case-sensitive (RFC 6749 §3.3)
    (["read*"], "read:posts", False),  # a '*' that is not a whole last part is a literal
    (["read*"], "readx", False),
    (["*:read"], "posts:read", False),
    (["re*d:posts"], "read:posts", False),
    ([], "read:posts", False),
    (["*"], "", False),
]


@pytest.mark.parametrize(("granted", "asked", "expected"), MATCHING)
def test_matching_table(granted: list[str], asked: str, expected: bool) -> None:
    assert (asked in Grants(granted)) is expected


@pytest.mark.parametrize(("granted", "asked"), [(["*"], "read:posts"), (["read:*"], "read:posts")])
def test_without_a_separator_wildcards_are_literal(granted: list[str], asked: str) -> None:
    grants = Grants(granted, separator=None)
    assert asked not in grants
    assert granted[0] in grants


def test_another_separator_moves_the_wildcard() -> None:
    grants = Grants(["posts.*"], separator=".")
    assert "posts.read" in grants
    assert "posts:read" not in grants
    assert "posts" not in grants


def test_grants_is_a_collection_of_what_was_issued() -> None:
    grants = Grants(["read:*", "write:own_posts"], ["user"])
    assert sorted(grants) == ["read:*", "write:own_posts"]
    assert len(grants) == 2
    assert 42 not in grants
    assert grants.has_role("user")
    assert not grants.has_role("User")
    assert "user" not in grants  # roles are not permissions
    assert repr(grants) == "Grants(permissions=['read:*', 'write:own_posts'], roles=['user'])"


# --- policies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "permissions"),
    [
        ({"scope": "orders:read  orders:write"}, ["orders:read", "orders:write"]),
        ({"scp": ["orders:read", "orders:write"]}, ["orders:read", "orders:write"]),
        ({"scp": "orders:read"}, ["orders:read"]),
        ({"permissions": ["read:posts"]}, ["read:posts"]),
        ({"scope": "a", "scp": ["b"], "permissions": ["c"]}, ["a", "b", "c"]),
        ({"scope": 7, "scp": {"a": 1}, "permissions": None}, []),  # not understood: grants nothing
        ({"permissions": ["ok", 3, None, "", ["nested"]]}, ["ok"]),
    ],
)
def test_permission_claims(claims: dict[str, Any], permissions: list[str]) -> None:
    assert sorted(PermissionPolicy().grants(claims)) == permissions


def test_the_blog_role_table() -> None:
    policy = PermissionPolicy(BLOG_ROLES)
    admin = policy.grants({"roles": ["admin"]})
    user = policy.grants({"roles": ["user"]})
    viewer = policy.grants({"roles": "viewer"})
    for name in ("read:posts", "write:posts", "write:own_posts", "delete:posts", "read:anything"):
        assert name in admin
    assert "admin:dashboard" not in admin
    assert "read:posts" in user
    assert "write:own_posts" in user
    assert "write:posts" not in user
    assert "delete:posts" not in user
    assert "read:posts" in viewer
    assert "write:own_posts" not in viewer
    assert viewer.roles == {"viewer"}


def test_roles_and_direct_permissions_add_up() -> None:
    grants = PermissionPolicy(BLOG_ROLES).grants({"roles": ["viewer", "unknown"], "permissions": ["comment:*"]})
    assert grants.roles == {"viewer", "unknown"}
    assert sorted(grants) == ["comment:*", "read:posts"]
    assert "comment:posts" in grants


def test_keycloak_and_deeper_paths() -> None:
    policy = PermissionPolicy(
        {"editor": ["posts:*"], "auditor": ["audit:read"]},
        role_claims=["realm_access.roles", ("resource_access", "my.client", "roles")],
    )
    claims = {
        "realm_access": {"roles": ["editor", "offline_access"]},
        "resource_access": {"my.client": {"roles": ["auditor"]}},
    }
    grants = policy.grants(claims)
    assert grants.roles == {"editor", "offline_access", "auditor"}
    assert "posts:publish" in grants
    assert "audit:read" in grants
    assert policy.grants({"realm_access": ["editor"]}).roles == frozenset()  # not an object: nothing
    assert policy.grants({"realm_access": None}).roles == frozenset()


def test_namespaced_claim_names_with_dots_are_read_whole() -> None:
    policy = PermissionPolicy({"admin": ["*"]}, role_claims=["https://example.com/roles"])
    assert "anything" in policy.grants({"https://example.com/roles": ["admin"]})


def test_claim_names_are_configurable() -> None:
    policy = PermissionPolicy(permission_claims=["scopes"], role_claims=["groups"])
    grants = policy.grants({"scopes": ["index:write"], "scope": "ignored", "groups": ["devs"]})
    assert sorted(grants) == ["index:write"]
    assert grants.roles == {"devs"}


def test_string_enums_are_plain_strings() -> None:
    class Role(str, Enum):
        ADMIN = "admin"

    class Permission(str, Enum):
        WRITE = "posts:write"

    policy = PermissionPolicy({Role.ADMIN: [Permission.WRITE]})
    grants = policy.grants({"roles": ["admin"]})
    assert "posts:write" in grants
    assert HasPermission(Permission.WRITE).missing(grants, {}, HTTPConnection(_http_scope())) is None
    assert HasRole(Role.ADMIN).missing(grants, {}, HTTPConnection(_http_scope())) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PermissionPolicy({"admin": ["re*d:posts"]}), "a wildcard must be the whole name"),
        (lambda: PermissionPolicy({"admin": ["*:read"]}), "a wildcard must be the whole name"),
        (lambda: PermissionPolicy({"admin": ["read*"]}), "a wildcard must be the whole name"),
        (lambda: PermissionPolicy({"admin": ["read posts"]}), "without spaces, quotes or backslashes"),
        (lambda: PermissionPolicy({"admin": [""]}), "without spaces, quotes or backslashes"),
        (lambda: PermissionPolicy({"admin": ['say"hi']}), "without spaces, quotes or backslashes"),
        (lambda: PermissionPolicy({"": ["read"]}), "role names must be non-empty strings"),
        (lambda: PermissionPolicy(["admin"]), "roles must map each role name"),  # type: ignore[arg-type]
        (lambda: PermissionPolicy(role_claims="roles"), "lists of claim paths, not one string"),
        (lambda: PermissionPolicy(role_claims=["realm_access..roles"]), "dotted paths"),
        (lambda: PermissionPolicy(role_claims=[("a", "")]), "non-empty strings"),
        (lambda: PermissionPolicy(separator=""), "separator must be"),
        (lambda: HasPermission(), "at least one permission"),
        (lambda: HasPermission("a b"), "without spaces"),
        (lambda: HasRole(""), "a role name must be a non-empty string"),
        (lambda: AnyOf(), "one or more requirements"),
        (lambda: AllOf("read"), "AllOf takes requirements"),  # type: ignore[arg-type]
        (lambda: ClaimCheck(lambda c, r: True, ""), "needs a description"),
        (lambda: requirement_from(3), "expected permission names or requirements"),  # type: ignore[arg-type]
        (lambda: Rule("admin"), "must start with '/'"),
        (lambda: Rule("/admin", methods=["GET", "PO ST"]), "HTTP method names"),
        (lambda: Rule("/admin", methods=[]), "HTTP method names"),
    ],
)
def test_misconfiguration_is_refused_with_a_clear_message(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_an_async_predicate_is_refused() -> None:
    async def same_tenant(claims: Mapping[str, Any], conn: HTTPConnection) -> bool:
        return True

    with pytest.raises(ConfigurationError, match="not a coroutine"):
        ClaimCheck(same_tenant, "a token for this tenant")  # type: ignore[arg-type]


def test_middleware_options_are_validated(verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match="list of Rule objects"):
        JWTAuthMiddleware(Starlette(), verifier=verifier, rules=Rule("/admin"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Rule objects"):
        JWTAuthMiddleware(Starlette(), verifier=verifier, rules=["/admin"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="PermissionPolicy or a role table"):
        JWTAuthMiddleware(Starlette(), verifier=verifier, policy=["admin"])  # type: ignore[arg-type]


# --- requirements ------------------------------------------------------------------------------


def _http_scope(path: str = "/", method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}


def _missing(
    requirement: Any, permissions: list[str], roles: list[str] | None = None, claims: Any = None
) -> str | None:
    grants = Grants(permissions, roles or ())
    result: str | None = requirement.missing(grants, claims or {}, HTTPConnection(_http_scope()))
    return result


@pytest.mark.parametrize(
    ("requirement", "permissions", "roles", "missing"),
    [
        (HasPermission("write:posts"), ["write:*"], [], None),
        (HasPermission("write:posts"), ["read:*"], [], "the permission 'write:posts'"),
        (HasPermission("a", "b", "c"), ["b"], [], "the permissions 'a', 'c'"),
        (HasRole("admin"), ["*"], [], "the role 'admin'"),  # '*' grants permissions, never roles
        (HasRole("admin"), [], ["admin"], None),
        (HasRole("user") | HasRole("admin"), [], ["user"], None),
        (HasRole("user") | HasRole("admin"), [], ["viewer"], "the role 'user' or the role 'admin'"),
        (HasRole("admin") & HasPermission("x"), [], ["admin"], "the permission 'x'"),
        (HasRole("admin") & HasPermission("x"), [], [], "the role 'admin' and the permission 'x'"),
        (AllOf(), [], [], None),
        (requirement_from("a", "b", roles=["user", "admin"]), ["a"], ["admin"], "the permission 'b'"),
        (requirement_from(roles="admin"), [], ["user"], "the role 'admin'"),
    ],
)
def test_requirements(requirement: Any, permissions: list[str], roles: list[str], missing: str | None) -> None:
    assert _missing(requirement, permissions, roles) == missing


def test_scopes_of_composed_requirements_are_unique_and_ordered() -> None:
    requirement = (HasPermission("a", "b") | HasRole("admin")) & HasPermission("b", "c")
    assert requirement.scopes == ("a", "b", "c")
    assert HasRole("admin").scopes == ()
    assert isinstance(HasRole("a") | HasRole("b") | HasRole("c"), AnyOf)
    assert len((HasRole("a") | HasRole("b") | HasRole("c")).requirements) == 3  # flattened


def test_claim_checks_pass_only_on_true_and_deny_on_errors(caplog: pytest.LogCaptureFixture) -> None:
    same_tenant = ClaimCheck(lambda claims, conn: claims["tenant"] == "acme", "a token for tenant acme")
    assert _missing(same_tenant, [], claims={"tenant": "acme"}) is None
    assert _missing(same_tenant, [], claims={"tenant": "other"}) == "a token for tenant acme"
    truthy = ClaimCheck(lambda claims, conn: "yes", "a strict yes")  # type: ignore[arg-type,return-value]
    assert _missing(truthy, []) == "a strict yes"
    with caplog.at_level(logging.WARNING, logger="asgi_jwt"):
        assert _missing(same_tenant, [], claims={"sub": "alice"}) == "a token for tenant acme"
    assert caplog.messages == ["claim check 'a token for tenant acme' raised KeyError: denied"]


def test_a_coroutine_returned_by_a_callable_object_is_denied_not_awaited(caplog: pytest.LogCaptureFixture) -> None:
    class Sneaky:
        async def __call__(self, claims: Mapping[str, Any], conn: HTTPConnection) -> bool:
            return True

    check = ClaimCheck(Sneaky(), "a sneaky check")  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="asgi_jwt"):
        assert _missing(check, []) == "a sneaky check"
    assert caplog.messages == ["claim check 'a sneaky check' returned a coroutine: denied"]


# --- middleware rules --------------------------------------------------------------------------


async def echo(request: Request) -> JSONResponse:
    scopes = request.auth.scopes
    return JSONResponse(
        {
            "path": request.url.path,
            "user": request.user.identity,
            "grants": sorted(scopes),
            "type": type(scopes).__name__,
        }
    )


def echo_app() -> Starlette:
    paths = ["/admin", "/admin/users", "/administrator", "/v1/posts", "/v1/posts/1", "/public", "/t/{tenant}/items"]
    return Starlette(routes=[Route(path, echo, methods=["GET", "POST", "DELETE"]) for path in paths])


RULES = [
    Rule("/admin", roles="admin"),
    Rule("/v1/posts", "write:posts", methods="POST"),
    Rule("/v1/posts", "delete:posts", methods=["delete"]),
    Rule("/v1", "read:posts", methods="GET"),
]


@pytest.fixture
def ruled(verifier: TokenVerifier) -> JWTAuthMiddleware:
    return JWTAuthMiddleware(echo_app(), verifier=verifier, policy=BLOG_ROLES, rules=RULES, optional=True)


@pytest.mark.parametrize(
    ("method", "path", "roles", "status", "description", "scope"),
    [
        ("GET", "/admin", ["admin"], 200, None, None),
        ("GET", "/admin/users", ["admin"], 200, None, None),
        ("GET", "/admin/users", ["user"], 403, "Requires the role 'admin'", None),
        ("GET", "/admin", ["user"], 403, "Requires the role 'admin'", None),
        ("GET", "/administrator", ["user"], 200, None, None),  # not under /admin
        ("POST", "/v1/posts", ["user"], 403, "Requires the permission 'write:posts'", "write:posts"),
        ("POST", "/v1/posts", ["admin"], 200, None, None),  # write:* grants write:posts
        ("GET", "/v1/posts", ["viewer"], 200, None, None),
        ("HEAD", "/v1/posts", ["viewer"], 200, None, None),
        ("HEAD", "/v1/posts", [], 403, "Requires the permission 'read:posts'", "read:posts"),  # GET covers HEAD
        ("DELETE", "/v1/posts/1", ["user"], 403, "Requires the permission 'delete:posts'", "delete:posts"),
        ("DELETE", "/v1/posts/1", ["admin"], 200, None, None),
        ("GET", "/public", [], 200, None, None),
    ],
)
async def test_rules_by_path_and_method(
    ruled: JWTAuthMiddleware,
    make_token: TokenFactory,
    method: str,
    path: str,
    roles: list[str],
    status: int,
    description: str | None,
    scope: str | None,
) -> None:
    response = await call(ruled, method, path, make_token(roles=roles))
    assert response.status_code == status
    if method == "HEAD":  # the same status and headers as GET, and no body
        assert response.content == b""
    if status == 200:
        if method != "HEAD":
            assert response.json()["path"] == path
    else:
        assert description is not None
        assert response.headers["www-authenticate"] == forbidden(description, scope)
        if method != "HEAD":
            assert_forbidden(response, description, scope)


async def test_every_matching_rule_applies(ruled: JWTAuthMiddleware, make_token: TokenFactory) -> None:
    # /v1 (GET) and /v1/posts (POST) do not overlap by method; add one that does.
    app = JWTAuthMiddleware(
        echo_app(),
        verifier=ruled.verifier,
        policy=BLOG_ROLES,
        rules=[Rule("/v1", roles=["user", "admin"]), Rule("/v1/posts", "write:posts", methods="POST")],
    )
    assert_forbidden(
        await call(app, "POST", "/v1/posts", make_token(roles=["viewer"])),
        "Requires the role 'user' or the role 'admin'",
    )
    assert_forbidden(
        await call(app, "POST", "/v1/posts", make_token(roles=["user"])),
        "Requires the permission 'write:posts'",
        "write:posts",
    )
    assert (await call(app, "POST", "/v1/posts", make_token(roles=["user"], scope="write:posts"))).status_code == 200


async def test_anonymous_requests_that_hit_a_rule_get_the_bare_challenge(ruled: JWTAuthMiddleware) -> None:
    for method, path in [("GET", "/admin"), ("POST", "/v1/posts"), ("GET", "/v1/posts/1")]:
        assert_answer(await call(ruled, method, path), 401, BARE, NOT_AUTHENTICATED)
    response = await call(ruled, "GET", "/public")
    assert response.status_code == 200
    assert response.json() == {"path": "/public", "user": "", "grants": [], "type": "frozenset"}


async def test_a_rule_without_requirements_only_asks_for_authentication(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(echo_app(), verifier=verifier, optional=True, rules=[Rule("/admin")])
    assert_answer(await call(app, "GET", "/admin/users"), 401, BARE, NOT_AUTHENTICATED)
    assert (await call(app, "GET", "/admin/users", make_token())).status_code == 200
    assert (await call(app, "GET", "/public")).status_code == 200


async def test_a_root_rule_covers_everything(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = JWTAuthMiddleware(echo_app(), verifier=verifier, rules=[Rule("/", "read:posts")])
    assert_forbidden(
        await call(app, "GET", "/public", make_token()), "Requires the permission 'read:posts'", "read:posts"
    )
    assert (await call(app, "GET", "/public", make_token(scope="read:posts"))).status_code == 200


async def test_excluded_paths_skip_the_rules(verifier: TokenVerifier) -> None:
    app = JWTAuthMiddleware(echo_app(), verifier=verifier, exclude_paths=["/admin"], rules=[Rule("/admin", "x")])
    assert (await call(app, "GET", "/admin/users")).status_code == 200


async def test_rules_match_the_path_inside_a_mount(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    outer = Starlette(routes=[Mount("/api", app=echo_app())])
    app = JWTAuthMiddleware(outer, verifier=verifier, rules=[Rule("/admin", roles="admin")])
    mounted = JWTAuthMiddleware(echo_app(), verifier=verifier, rules=[Rule("/admin", roles="admin")])
    # The middleware in front of the mount sees /api/admin; inside it, root_path is stripped.
    assert (await call(app, "GET", "/api/admin", make_token())).status_code == 200
    outer_with_inner = Starlette(routes=[Mount("/api", app=mounted)])
    response = await call(outer_with_inner, "GET", "/api/admin", make_token())
    assert_forbidden(response, "Requires the role 'admin'")


async def test_a_claim_check_rule_compares_the_token_tenant_with_the_path(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    def same_tenant(claims: Mapping[str, Any], conn: HTTPConnection) -> bool:
        return conn.url.path.split("/")[2] == claims.get("tenant")

    app = JWTAuthMiddleware(
        echo_app(), verifier=verifier, rules=[Rule("/t", ClaimCheck(same_tenant, "a token for this tenant"))]
    )
    assert (await call(app, "GET", "/t/acme/items", make_token(tenant="acme"))).status_code == 200
    assert_forbidden(
        await call(app, "GET", "/t/acme/items", make_token(tenant="evil")), "Requires a token for this tenant"
    )
    assert_forbidden(await call(app, "GET", "/t/acme/items", make_token()), "Requires a token for this tenant")


async def test_on_error_sees_the_refused_user(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    seen: list[tuple[str, str, int]] = []

    def on_error(conn: HTTPConnection, error: AuthError) -> Response:
        seen.append((conn.user.identity, error.reason, error.status_code))
        return PlainTextResponse("no", status_code=error.status_code)

    app = JWTAuthMiddleware(echo_app(), verifier=verifier, rules=[Rule("/admin", roles="admin")], on_error=on_error)
    response = await call(app, "GET", "/admin", make_token(sub="mallory"))
    assert (response.status_code, response.text) == (403, "no")
    assert seen == [("mallory", "insufficient_scope", 403)]


async def test_a_rule_refusal_is_logged(
    ruled: JWTAuthMiddleware, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="asgi_jwt"):
        await call(ruled, "GET", "/admin", make_token(roles=["user"]))
    assert caplog.messages == ["rejected GET /admin: insufficient_scope (status 403, client 127.0.0.1)"]


async def test_without_permissions_scopes_stay_the_plain_token_scopes(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(echo_app(), verifier=verifier)
    body = (await call(app, "GET", "/public", make_token(scope="read:* b", roles=["admin"]))).json()
    assert body["grants"] == ["b", "read:*"]
    assert body["type"] == "Scopes"  # the token's own frozenset, in its order: no wildcards, no roles, as before


async def test_without_a_policy_rules_match_scopes_exactly_and_read_the_roles_claim(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(echo_app(), verifier=verifier, rules=[Rule("/admin", "read:users", roles="admin")])
    assert (await call(app, "GET", "/admin", make_token(scope="read:users", roles=["admin"]))).status_code == 200
    response = await call(app, "GET", "/admin", make_token(scope="read:*", roles=["admin"]))
    assert_forbidden(response, "Requires the permission 'read:users'", "read:users")


async def test_websocket_rules(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(sorted(websocket.auth.scopes))
        await websocket.close()

    inner = Starlette(routes=[WebSocketRoute("/admin/ws", ws), WebSocketRoute("/v1/ws", ws)])
    app = JWTAuthMiddleware(inner, verifier=verifier, policy=BLOG_ROLES, rules=RULES)
    client = TestClient(app)
    with client.websocket_connect("/admin/ws", headers={"Authorization": f"Bearer {make_token(roles=['admin'])}"}) as s:
        assert s.receive_json() == ["delete:*", "read:*", "write:*"]
    user_token = make_token(roles=["user"])
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/admin/ws", headers={"Authorization": f"Bearer {user_token}"}),
    ):
        pytest.fail("the connection must not be accepted")
    assert denied.value.status_code == 403
    assert denied.value.headers["www-authenticate"] == forbidden("Requires the role 'admin'")
    assert denied.value.json() == {"detail": "Requires the role 'admin'", "error": "insufficient_scope"}
    # Rules with methods apply to HTTP only.
    with client.websocket_connect("/v1/ws", headers={"Authorization": f"Bearer {make_token(roles=['viewer'])}"}) as s:
        assert s.receive_json() == ["read:posts"]


# --- Starlette: @requires keeps working, @authorize answers per RFC 6750 --------------------------


@requires("write:posts")
async def starlette_requires(request: Request) -> PlainTextResponse:
    return PlainTextResponse("written")


@authorize("write:posts")
async def write_posts(request: Request) -> PlainTextResponse:
    return PlainTextResponse("written")


@authorize(roles=["user", "admin"])
def sync_for_members(request: Request) -> PlainTextResponse:
    return PlainTextResponse("members only")


class Dashboard(HTTPEndpoint):
    @authorize(HasRole("admin") | HasPermission("dashboard:read"), realm="blog")
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("dashboard")


@authorize("chat:join")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("joined")
    await websocket.close()


def starlette_app(verifier: TokenVerifier) -> ASGIApp:
    inner = Starlette(
        routes=[
            Route("/requires", starlette_requires),
            Route("/posts", write_posts),
            Route("/members", sync_for_members),
            Route("/dashboard", Dashboard),
            WebSocketRoute("/chat", chat),
        ]
    )
    return JWTAuthMiddleware(inner, verifier=verifier, policy=BLOG_ROLES, optional=True)


@pytest.mark.parametrize(
    ("roles", "scope", "expected"),
    [(["admin"], None, 200), (["user"], None, 403), ([], "write:*", 200), ([], "*", 200), ([], "write", 403)],
)
async def test_starlette_requires_understands_wildcards_and_roles(
    verifier: TokenVerifier, make_token: TokenFactory, roles: list[str], scope: str | None, expected: int
) -> None:
    response = await call(starlette_app(verifier), "GET", "/requires", make_token(roles=roles, scope=scope))
    assert response.status_code == expected
    if expected == 403:  # Starlette's own answer: a bare 403, which is why @authorize exists
        assert "www-authenticate" not in response.headers


async def test_authorize_answers_like_the_middleware(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    app = starlette_app(verifier)
    assert (await call(app, "GET", "/posts", make_token(roles=["admin"]))).text == "written"
    assert_forbidden(
        await call(app, "GET", "/posts", make_token(roles=["user"])),
        "Requires the permission 'write:posts'",
        "write:posts",
    )
    assert_answer(await call(app, "GET", "/posts"), 401, BARE, NOT_AUTHENTICATED)
    expected = error_response(InsufficientScope("write:posts", "Requires the permission 'write:posts'"))
    response = await call(app, "GET", "/posts", make_token(roles=["viewer"]))
    assert response.content == expected.body
    assert response.headers["www-authenticate"] == expected.headers["www-authenticate"]


async def test_authorize_on_sync_endpoints_and_endpoint_methods(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = starlette_app(verifier)
    assert (await call(app, "GET", "/members", make_token(roles=["user"]))).text == "members only"
    assert_forbidden(
        await call(app, "GET", "/members", make_token(roles=["viewer"])), "Requires the role 'user' or the role 'admin'"
    )
    assert (await call(app, "GET", "/dashboard", make_token(roles=["admin"]))).text == "dashboard"
    assert (await call(app, "GET", "/dashboard", make_token(scope="dashboard:read"))).text == "dashboard"
    response = await call(app, "GET", "/dashboard", make_token(roles=["user"]))
    description = "Requires the role 'admin' or the permission 'dashboard:read'"
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == forbidden(description, "dashboard:read", realm="blog")


async def test_authorize_closes_websockets_with_a_policy_violation(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    client = TestClient(starlette_app(verifier))
    with client.websocket_connect("/chat", headers={"Authorization": f"Bearer {make_token(scope='chat:*')}"}) as s:
        assert s.receive_text() == "joined"
    with (
        pytest.raises(WebSocketDisconnect) as denied,
        client.websocket_connect("/chat", headers={"Authorization": f"Bearer {make_token()}"}) as s,
    ):
        s.receive_text()
    assert (denied.value.code, denied.value.reason) == (1008, "Requires the permission 'chat:join'")


def test_authorize_needs_a_request_parameter() -> None:
    with pytest.raises(ConfigurationError, match="'request' or 'websocket' parameter"):

        @authorize("x")
        async def endpoint(conn: Request) -> None: ...


async def test_authorize_without_the_middleware_is_a_configuration_error() -> None:
    app = Starlette(routes=[Route("/posts", write_posts)])
    with pytest.raises(ConfigurationError, match="wrap the application in JWTAuthMiddleware"):
        await call(app, "GET", "/posts")


async def test_exception_handlers_answer_auth_errors_raised_in_routes(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    async def delete(request: Request) -> Response:
        HasPermission("posts:delete").check(request)
        return Response(status_code=204)

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        raise InsufficientScope("chat:moderate", "Moderators only")

    inner = Starlette(
        routes=[Route("/posts/1", delete, methods=["DELETE"]), WebSocketRoute("/ws", ws)],
        exception_handlers=auth_exception_handlers(realm="blog"),
    )
    app = JWTAuthMiddleware(inner, verifier=verifier, optional=True, realm="blog")
    assert (await call(app, "DELETE", "/posts/1", make_token(scope="posts:delete"))).status_code == 204
    response = await call(app, "DELETE", "/posts/1", make_token())
    description = "Requires the permission 'posts:delete'"
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == forbidden(description, "posts:delete", realm="blog")
    assert response.json() == {"detail": description, "error": "insufficient_scope"}
    anonymous = await call(app, "DELETE", "/posts/1")
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, 'Bearer realm="blog"')
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        TestClient(app).websocket_connect("/ws", headers={"Authorization": f"Bearer {make_token()}"}) as s,
    ):
        s.receive_text()
    assert (closed.value.code, closed.value.reason) == (1008, "Moderators only")


def test_every_name_asgi_jwt_authz_exported_stays_importable_from_it() -> None:
    import asgi_jwt
    import asgi_jwt.authz as authz
    from asgi_jwt.integrations import starlette
    from asgi_jwt.paths import route_path

    for name in ["AllOf", "AnyOf", "ClaimCheck", "Grants", "HasPermission", "HasRole", "PermissionPolicy"]:
        assert getattr(authz, name) is getattr(asgi_jwt, name)
    for name in ["Requirement", "Rule"]:
        assert getattr(authz, name) is getattr(asgi_jwt, name)
    assert authz.authorize is starlette.authorize is asgi_jwt.authorize
    assert authz.auth_exception_handlers is starlette.auth_exception_handlers is asgi_jwt.auth_exception_handlers
    assert authz.route_path is route_path
    assert callable(authz.requirement_from)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        authz.nothing  # noqa: B018
