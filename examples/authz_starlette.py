"""Authorization in Starlette endpoints: ``@authorize``, Starlette's ``@requires``, and a claim check.

``@authorize`` takes permissions (all required), ``roles=`` (any one will do) and
requirement objects, and answers like the middleware: 401 with the bare
challenge when there is no token, 403 ``insufficient_scope`` naming what is
missing. Starlette's ``@requires`` keeps working and sees the same grants, but
answers a bare 403. The verifier comes from the ``JWT_*`` environment variables.
"""

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import (
    ClaimCheck,
    HasPermission,
    HasRole,
    JWTAuthMiddleware,
    PermissionPolicy,
    TokenVerifier,
    auth_exception_handlers,
    authorize,
)

# Keycloak puts roles under realm_access.roles; the policy reads them there.
policy = PermissionPolicy(
    {"editor": ["posts:*"], "auditor": ["reports:read"]},
    role_claims=["realm_access.roles"],
)


@authorize("posts:publish")  # editors hold posts:*, which grants it
async def publish(request: Request) -> JSONResponse:
    return JSONResponse({"published": True})


@authorize(roles=["editor", "auditor"])  # either role
async def drafts(request: Request) -> JSONResponse:
    return JSONResponse({"drafts": []})


@authorize(HasRole("auditor") | HasPermission("reports:export"))
async def export(request: Request) -> JSONResponse:
    return JSONResponse({"export": "started"})


@requires("posts:read")  # Starlette's own: "posts:read" in request.auth.scopes, wildcards included
async def read(request: Request) -> JSONResponse:
    return JSONResponse({"posts": []})


def same_tenant(claims: Mapping[str, Any], conn: HTTPConnection) -> bool:
    return claims.get("tenant") == conn.path_params["tenant"]


@authorize("reports:read", ClaimCheck(same_tenant, "a token for this tenant"))
async def tenant_report(request: Request) -> JSONResponse:
    return JSONResponse({"tenant": request.path_params["tenant"]})


async def archive(request: Request) -> JSONResponse:
    # Deciding inside the endpoint: check() raises, and the registered handlers answer.
    HasPermission("posts:archive").check(request)
    return JSONResponse({"archived": True})


app = Starlette(
    routes=[
        Route("/publish", publish, methods=["POST"]),
        Route("/drafts", drafts),
        Route("/export", export),
        Route("/read", read),
        Route("/tenants/{tenant}/report", tenant_report),
        Route("/archive", archive, methods=["POST"]),
    ],
    middleware=[Middleware(JWTAuthMiddleware, verifier=TokenVerifier.from_env(), policy=policy)],
    exception_handlers=auth_exception_handlers(),
)
