"""A browser-facing API: CORS outside the auth middleware, the token in a cookie, CSRF defence on.

The single-page app lives on ``https://app.example.com`` and calls this API on another
origin. Starlette's ``CORSMiddleware`` is the outer layer: it answers CORS preflights
itself (they never reach the auth middleware or an endpoint) and adds its headers to
every answer, our 401s included, so the page can read them. Requests carry the token
in an ``HttpOnly`` cookie or an ``Authorization`` header; a ``POST`` with the cookie
must come from a trusted origin (``Origin``) or from the API's own pages.
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import CSRFProtection, JWTAuthMiddleware, TokenVerifier

FRONTEND = "https://app.example.com"


async def orders(request: Request) -> JSONResponse:
    if request.method == "POST":
        return JSONResponse({"created_by": request.user.identity}, status_code=201)
    return JSONResponse({"orders": [], "for": request.user.identity})


app = Starlette(
    routes=[Route("/orders", orders, methods=["GET", "POST"])],
    middleware=[
        # First in the list is outermost: CORS answers preflights before authentication runs.
        Middleware(
            CORSMiddleware,
            allow_origins=[FRONTEND],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=True,  # the browser sends the cookie on cross-origin calls
        ),
        Middleware(
            JWTAuthMiddleware,
            verifier=TokenVerifier.from_env(),
            cookie="access_token",
            csrf=CSRFProtection(trusted_origins=[FRONTEND]),
        ),
    ],
)
