"""Starlette: the middleware in the app's middleware list, and Starlette's own ``@requires``.

The verifier comes from the ``JWT_*`` environment variables (see the configuration
reference): ``JWT_SECRET_KEY``, and optionally ``JWT_ISSUER`` and ``JWT_AUDIENCE``.
"""

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, TokenVerifier, current_claims

verifier = TokenVerifier.from_env()


def audit_subject() -> str:
    """Deep in the call stack, with no request at hand: the context variable has the claims."""
    claims = current_claims()
    return claims["sub"] if claims else "anonymous"


async def profile(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "identity": request.user.identity,
            "name": request.user.display_name,
            "scopes": sorted(request.auth.scopes),
            "audited_as": audit_subject(),
        }
    )


@requires("orders:read")  # Starlette's decorator: answers 403 when the token lacks the scope
async def list_orders(request: Request) -> JSONResponse:
    return JSONResponse({"orders": [], "for": request.user.identity})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "authenticated": request.user.is_authenticated})


app = Starlette(
    routes=[Route("/profile", profile), Route("/orders", list_orders), Route("/health", health)],
    # current_claims=True: audit_subject() reads the claims through the context variable
    middleware=[Middleware(JWTAuthMiddleware, verifier=verifier, exclude_paths=["/health"], current_claims=True)],
)
