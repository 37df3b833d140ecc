"""One role table enforced in each of the three places: middleware rules, ``@authorize`` and FastAPI.

A blog with a JWT login and three roles, as users run it. Its role table (admin →
``read:*, write:*, delete:*``; user → ``read:posts, write:own_posts``; viewer →
``read:posts``) is plain configuration. Its tools become routes: public
``public_info``/``login``; ``whoami``/``list_posts`` for any authenticated caller;
``create_post``/``update_post`` for user and admin; ``delete_post``/``admin_dashboard``
for admin only. The same blog is protected by middleware rules, by ``@authorize`` on
Starlette endpoints and by FastAPI dependencies, and every role (plus no token, plus
a token with no role) is tried against every route, status, challenge and body asserted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from asgi_jwt import JWTAuth, JWTAuthMiddleware, Rule, SecretKey, TokenVerifier, authorize
from asgi_jwt.integrations.fastapi import CurrentClaims, add_exception_handlers, require
from conftest import AUDIENCE, ISSUER, Clock

ROLES = {
    "admin": ["read:*", "write:*", "delete:*"],
    "user": ["read:posts", "write:own_posts"],
    "viewer": ["read:posts"],
}
USERS = {"admin": ("admin-pass", "admin"), "alice": ("alice-pass", "user"), "bob": ("bob-pass", "viewer")}
# What each tool requires, in the vocabulary shared by the three places.
LIST = "read:posts"
WRITE = "write:own_posts"
DELETE = "delete:posts"


class Blog:
    """The blog's server state and tools, independent of any framework."""

    def __init__(self, key: SecretKey, clock: Clock) -> None:
        self.key = key
        self.clock = clock
        self.posts = {1: "Hello", 2: "Second post"}

    def public_info(self) -> dict[str, Any]:
        return {"server": "blog", "auth": "jwt"}

    def login(self, username: str, password: str) -> tuple[int, dict[str, Any]]:
        known = USERS.get(username)
        if known is None or known[0] != password:
            return 400, {"error": "invalid_grant"}  # RFC 6749 §5.2
        now = int(self.clock())
        claims = {
            "sub": f"user_{username}",
            "username": username,
            "roles": [known[1]],
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 3600,
        }
        return 200, {"access_token": self.key.encode(claims), "token_type": "bearer"}

    def whoami(self, claims: Any) -> dict[str, Any]:
        return {"sub": claims["sub"], "roles": claims.get("roles", [])}

    def list_posts(self, limit: int) -> dict[str, Any]:
        return {"posts": [{"id": id_, "title": title} for id_, title in sorted(self.posts.items())][:limit]}

    def create_post(self, claims: Any, title: str) -> dict[str, Any]:
        post_id = max(self.posts) + 1
        self.posts[post_id] = title
        return {"id": post_id, "title": title, "author": claims["sub"]}

    def update_post(self, post_id: int, title: str) -> dict[str, Any]:
        self.posts[post_id] = title
        return {"id": post_id, "title": title}

    def delete_post(self, post_id: int) -> dict[str, Any]:
        del self.posts[post_id]
        return {"deleted": post_id}

    def admin_dashboard(self) -> dict[str, Any]:
        return {"users": len(USERS), "posts": len(self.posts)}


# --- 1. middleware rules: the endpoints know nothing of authorization ----------------------------


def starlette_routes(blog: Blog, guard: Callable[..., Callable[..., Any]] | None = None) -> list[Route]:
    def guarded(*permissions: str, roles: str = "") -> Callable[..., Any]:
        def identity(func: Any) -> Any:
            return func

        if guard is None:
            return identity
        return guard(*permissions, roles=roles or ())

    async def public_info(request: Request) -> JSONResponse:
        return JSONResponse(blog.public_info())

    async def login(request: Request) -> JSONResponse:
        body = await request.json()
        status, answer = blog.login(body["username"], body["password"])
        return JSONResponse(answer, status_code=status)

    @guarded()
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(blog.whoami(request.auth.claims))

    @guarded(LIST)
    async def list_posts(request: Request) -> JSONResponse:
        return JSONResponse(blog.list_posts(int(request.query_params.get("limit", "10"))))

    @guarded(WRITE)
    async def create_post(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse(blog.create_post(request.auth.claims, body["title"]), status_code=201)

    @guarded(WRITE)
    async def update_post(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse(blog.update_post(request.path_params["post_id"], body["title"]))

    @guarded(DELETE)
    async def delete_post(request: Request) -> JSONResponse:
        return JSONResponse(blog.delete_post(request.path_params["post_id"]))

    @guarded(roles="admin")
    async def admin_dashboard(request: Request) -> JSONResponse:
        return JSONResponse(blog.admin_dashboard())

    async def posts(request: Request) -> JSONResponse:
        return await (list_posts if request.method == "GET" else create_post)(request)

    async def post(request: Request) -> JSONResponse:
        return await (update_post if request.method == "PUT" else delete_post)(request)

    return [
        Route("/public_info", public_info),
        Route("/login", login, methods=["POST"]),
        Route("/whoami", whoami),
        Route("/posts", posts, methods=["GET", "POST"]),
        Route("/posts/{post_id:int}", post, methods=["PUT", "DELETE"]),
        Route("/admin/dashboard", admin_dashboard),
    ]


def with_rules(blog: Blog, verifier: TokenVerifier) -> ASGIApp:
    rules = [
        Rule("/whoami"),
        Rule("/posts", LIST, methods="GET"),
        Rule("/posts", WRITE, methods=["POST", "PUT"]),
        Rule("/posts", DELETE, methods="DELETE"),
        Rule("/admin", roles="admin"),
    ]
    app = Starlette(routes=starlette_routes(blog))
    return JWTAuthMiddleware(app, verifier=verifier, optional=True, policy=ROLES, rules=rules)


# --- 2. Starlette: @authorize on each endpoint ------------------------------------------------------


def with_decorators(blog: Blog, verifier: TokenVerifier) -> ASGIApp:
    app = Starlette(routes=starlette_routes(blog, guard=authorize))
    return JWTAuthMiddleware(app, verifier=verifier, exclude_paths=["/public_info", "/login"], policy=ROLES)


# --- 3. FastAPI: dependencies -----------------------------------------------------------------------


class Credentials(BaseModel):
    username: str
    password: str


class PostIn(BaseModel):
    title: str


def with_fastapi(blog: Blog, verifier: TokenVerifier) -> ASGIApp:
    api = FastAPI()
    add_exception_handlers(api)

    @api.get("/public_info")
    async def public_info() -> dict[str, Any]:
        return blog.public_info()

    @api.post("/login")
    async def login(credentials: Credentials) -> JSONResponse:
        status, answer = blog.login(credentials.username, credentials.password)
        return JSONResponse(answer, status_code=status)

    @api.get("/whoami")
    async def whoami(claims: CurrentClaims) -> dict[str, Any]:
        return blog.whoami(claims)

    @api.get("/posts", dependencies=[Depends(require(LIST))])
    async def list_posts(limit: int = 10) -> dict[str, Any]:
        return blog.list_posts(limit)

    @api.post("/posts", status_code=201)
    async def create_post(post: PostIn, auth: Annotated[JWTAuth, Depends(require(WRITE))]) -> dict[str, Any]:
        return blog.create_post(auth.claims, post.title)

    @api.put("/posts/{post_id}", dependencies=[Depends(require(WRITE))])
    async def update_post(post_id: int, post: PostIn) -> dict[str, Any]:
        return blog.update_post(post_id, post.title)

    @api.delete("/posts/{post_id}", dependencies=[Depends(require(DELETE))])
    async def delete_post(post_id: int) -> dict[str, Any]:
        return blog.delete_post(post_id)

    @api.get("/admin/dashboard", dependencies=[Depends(require(roles="admin"))])
    async def admin_dashboard() -> dict[str, Any]:
        return blog.admin_dashboard()

    return JWTAuthMiddleware(api, verifier=verifier, optional=True, policy=ROLES)


FLAVOURS = {
    "middleware-rules": with_rules,
    "starlette-authorize": with_decorators,
    "fastapi-dependencies": with_fastapi,
}

# --- the matrix ---------------------------------------------------------------------------------------

NOT_AUTHENTICATED = (401, 'Bearer realm="api"', {"detail": "Not authenticated", "error": None})


def refused(description: str, scope: str | None = None) -> tuple[int, str, dict[str, Any]]:
    challenge = f'Bearer realm="api", error="insufficient_scope", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    return 403, challenge, {"detail": description, "error": "insufficient_scope"}


NEEDS_LIST = refused("Requires the permission 'read:posts'", LIST)
NEEDS_WRITE = refused("Requires the permission 'write:own_posts'", WRITE)
NEEDS_DELETE = refused("Requires the permission 'delete:posts'", DELETE)
NEEDS_ADMIN = refused("Requires the role 'admin'")

# (tool, method, path, json body)
TOOLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "public_info": ("GET", "/public_info", None),
    "whoami": ("GET", "/whoami", None),
    "list_posts": ("GET", "/posts?limit=1", None),
    "create_post": ("POST", "/posts", {"title": "New"}),
    "update_post": ("PUT", "/posts/1", {"title": "Edited"}),
    "delete_post": ("DELETE", "/posts/2", None),
    "admin_dashboard": ("GET", "/admin/dashboard", None),
}


def allowed(tool: str, who: str) -> tuple[int, None, dict[str, Any]]:
    sub = {"admin": "user_admin", "user": "user_alice", "viewer": "user_bob", "no role": "nobody"}.get(who, "")
    roles = {"admin": ["admin"], "user": ["user"], "viewer": ["viewer"]}.get(who, [])
    body: dict[str, Any] = {
        "public_info": {"server": "blog", "auth": "jwt"},
        "whoami": {"sub": sub, "roles": roles},
        "list_posts": {"posts": [{"id": 1, "title": "Hello"}]},
        "create_post": {"id": 3, "title": "New", "author": sub},
        "update_post": {"id": 1, "title": "Edited"},
        "delete_post": {"deleted": 2},
        "admin_dashboard": {"users": 3, "posts": 2},
    }[tool]
    return (201 if tool == "create_post" else 200), None, body


# who → tool → expected; None means "allowed" (see allowed()).
EXPECTED: dict[str, dict[str, tuple[int, str, dict[str, Any]] | None]] = {
    "admin": dict.fromkeys(TOOLS),
    "user": {**dict.fromkeys(TOOLS), "delete_post": NEEDS_DELETE, "admin_dashboard": NEEDS_ADMIN},
    "viewer": {
        **dict.fromkeys(TOOLS),
        "create_post": NEEDS_WRITE,
        "update_post": NEEDS_WRITE,
        "delete_post": NEEDS_DELETE,
        "admin_dashboard": NEEDS_ADMIN,
    },
    "no role": {
        "public_info": None,
        "whoami": None,
        "list_posts": NEEDS_LIST,
        "create_post": NEEDS_WRITE,
        "update_post": NEEDS_WRITE,
        "delete_post": NEEDS_DELETE,
        "admin_dashboard": NEEDS_ADMIN,
    },
    "no token": {**dict.fromkeys(TOOLS, NOT_AUTHENTICATED), "public_info": None},
}
LOGINS = {"admin": ("admin", "admin-pass"), "user": ("alice", "alice-pass"), "viewer": ("bob", "bob-pass")}


async def request(app: ASGIApp, method: str, path: str, token: str | None, json: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers=headers, json=json)


async def token_for(app: ASGIApp, who: str, blog: Blog) -> str | None:
    if who == "no token":
        return None
    if who == "no role":
        now = int(blog.clock())
        return blog.key.encode({"sub": "nobody", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60})
    username, password = LOGINS[who]
    response = await request(app, "POST", "/login", None, {"username": username, "password": password})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize("flavour", list(FLAVOURS))
@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize("tool", list(TOOLS))
async def test_each_role_against_each_tool(
    flavour: str, who: str, tool: str, secret_key: SecretKey, verifier: TokenVerifier, clock: Clock
) -> None:
    blog = Blog(secret_key, clock)
    app = FLAVOURS[flavour](blog, verifier)
    token = await token_for(app, who, blog)
    method, path, body = TOOLS[tool]
    response = await request(app, method, path, token, body)
    status, challenge, answer = EXPECTED[who][tool] or allowed(tool, who)
    assert response.status_code == status
    assert response.headers.get("www-authenticate") == challenge
    assert response.json() == answer
    if status >= 400:
        assert response.headers["cache-control"] == "no-store"
        assert blog.posts == {1: "Hello", 2: "Second post"}  # a refused call changed nothing


@pytest.mark.parametrize("flavour", list(FLAVOURS))
async def test_login_refuses_a_wrong_password(
    flavour: str, secret_key: SecretKey, verifier: TokenVerifier, clock: Clock
) -> None:
    app = FLAVOURS[flavour](Blog(secret_key, clock), verifier)
    response = await request(app, "POST", "/login", None, {"username": "alice", "password": "guess"})
    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize("flavour", list(FLAVOURS))
async def test_an_expired_login_token_is_refused_as_invalid(
    flavour: str, secret_key: SecretKey, verifier: TokenVerifier, clock: Clock
) -> None:
    blog = Blog(secret_key, clock)
    app = FLAVOURS[flavour](blog, verifier)
    token = await token_for(app, "admin", blog)
    clock.now += 3600 + 31  # past exp and the 30 s leeway
    response = await request(app, "GET", "/whoami", token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has expired"'
    )


@pytest.mark.parametrize("flavour", list(FLAVOURS))
async def test_a_payload_with_both_roles_and_permissions(
    flavour: str, secret_key: SecretKey, verifier: TokenVerifier, clock: Clock
) -> None:
    """The blog's example payload: ``roles`` and a direct ``permissions`` list add up."""
    blog = Blog(secret_key, clock)
    app = FLAVOURS[flavour](blog, verifier)
    now = int(clock())
    claims = {"sub": "user_x", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    reader = secret_key.encode({**claims, "roles": [], "permissions": ["read:*"]})
    assert (await request(app, "GET", "/posts?limit=1", reader)).status_code == 200
    assert (await request(app, "POST", "/posts", reader, {"title": "x"})).status_code == 403
    writer = secret_key.encode({**claims, "roles": ["viewer"], "permissions": ["write:*"]})
    assert (await request(app, "POST", "/posts", writer, {"title": "x"})).status_code == 201
    assert (await request(app, "DELETE", "/posts/1", writer)).status_code == 403
