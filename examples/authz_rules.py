"""Authorization in the middleware: a role table and path rules, with no auth code in the endpoints.

The role table is a blog's: admin may do everything under ``read:``, ``write:``
and ``delete:``; a user reads posts and writes their own; a viewer only reads. Optional mode keeps ``/public_info``
open to everyone, while each rule demands an authenticated caller with the right
grant. The verifier comes from the ``JWT_*`` environment variables.
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, Rule, TokenVerifier

ROLES = {
    "admin": ["read:*", "write:*", "delete:*"],
    "user": ["read:posts", "write:own_posts"],
    "viewer": ["read:posts"],
}
RULES = [
    Rule("/whoami"),  # any authenticated caller
    Rule("/posts", "read:posts", methods="GET"),  # GET also covers HEAD
    Rule("/posts", "write:own_posts", methods=["POST", "PUT"]),
    Rule("/posts", "delete:posts", methods="DELETE"),
    Rule("/admin", roles="admin"),  # /admin and everything under it
]


async def public_info(request: Request) -> JSONResponse:
    return JSONResponse({"server": "blog"})


async def whoami(request: Request) -> JSONResponse:
    grants = request.auth.scopes  # a Grants: "read:posts" in grants applies the role table and wildcards
    return JSONResponse({"sub": request.user.identity, "roles": sorted(grants.roles), "grants": sorted(grants)})


async def posts(request: Request) -> JSONResponse:
    return JSONResponse({"method": request.method, "posts": []})


async def dashboard(request: Request) -> JSONResponse:
    return JSONResponse({"users": 3})


app = Starlette(
    routes=[
        Route("/public_info", public_info),
        Route("/whoami", whoami),
        Route("/posts", posts, methods=["GET", "POST"]),
        Route("/posts/{post_id:int}", posts, methods=["PUT", "DELETE"]),
        Route("/admin/dashboard", dashboard),
    ],
    middleware=[
        Middleware(JWTAuthMiddleware, verifier=TokenVerifier.from_env(), optional=True, policy=ROLES, rules=RULES)
    ],
)
