"""Refuse revoked tokens before they expire: a TokenVerifier subclass with a denylist of ``jti`` values.

A repeated token is normally answered from the verifier's cache through the
synchronous ``cached(token)``, without calling ``verify``. So the check goes into
both: ``verify`` for a token seen the first time, ``cached`` for every repeat.
Override only ``verify`` and the middleware stops using the cache for you instead,
which is also correct, only slower.
"""

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import Claims, InvalidToken, JWTAuthMiddleware, SecretKey, TokenVerifier


class DenylistVerifier(TokenVerifier):
    """A TokenVerifier that refuses tokens whose ``jti`` has been revoked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.revoked: set[str] = set()  # one process; share it (Redis, a database) across several

    def _refuse_revoked(self, claims: Claims) -> Claims:
        if claims.get("jti") in self.revoked:
            raise InvalidToken("Token has been revoked")  # 401 invalid_token, like any bad token
        return claims

    async def verify(self, token: str) -> Claims:
        return self._refuse_revoked(await super().verify(token))

    def cached(self, token: str) -> Claims | None:
        claims = super().cached(token)
        return None if claims is None else self._refuse_revoked(claims)


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity})


verifier = DenylistVerifier(
    SecretKey("a-secret-of-at-least-32-bytes-for-hs256!"), issuer="https://auth.example.com", audience="orders-api"
)
app = JWTAuthMiddleware(Starlette(routes=[Route("/orders", orders)]), verifier=verifier)
