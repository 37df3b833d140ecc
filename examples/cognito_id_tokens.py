"""An API that takes Amazon Cognito ID tokens, on purpose: the one kind of non-access token it admits.

By default a token with ``token_use: id`` (or Keycloak's ``typ: ID``) is refused with
401 "ID tokens cannot be used for access". Some Cognito set-ups send the ID token to
their API because it carries the user's groups; such an API admits that kind once, at
start-up. Refresh tokens stay refused.

Run it with ``uvicorn examples.cognito_id_tokens:app`` and ``JWT_SECRET_KEY``,
``JWT_ISSUER`` and ``JWT_AUDIENCE`` set (for Cognito: ``JWT_ISSUER`` alone, the user
pool's issuer URL, discovers its keys).
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, TokenVerifier


async def me(request: Request) -> JSONResponse:
    claims = request.auth.claims
    return JSONResponse({"user": request.user.identity, "groups": claims.get("cognito:groups", [])})


verifier = TokenVerifier.from_env()
verifier.rules.accept_token_kinds("id")  # "id", "refresh" or "logout"; anything else is a ConfigurationError

app = JWTAuthMiddleware(Starlette(routes=[Route("/me", me)]), verifier=verifier)
