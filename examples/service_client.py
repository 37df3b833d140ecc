"""Service to service: the billing service calls the orders API with tokens it mints itself.

``BearerAuth(issuer=...)`` mints a token on the first request, reuses it until a
minute before it expires, and mints the next one then: one mint however many
requests run at once. The orders API is an ordinary app behind ``JWTAuthMiddleware``
that trusts tokens for its audience signed with the shared secret::

    JWT_SECRET_KEY=$(asgi-jwt keygen) python examples/service_client.py

Here both services live in one process (the client talks to the app through
``httpx.ASGITransport``); in production ``base_url`` is the orders API's address.
"""

from __future__ import annotations

import asyncio
import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import BearerAuth, JWTAuthMiddleware, SecretKey, TokenIssuer, TokenVerifier

KEY = SecretKey(os.environ["JWT_SECRET_KEY"])
ISSUER = "https://billing.internal"


# The orders API: it accepts tokens from the billing service, for its own audience only.
async def list_orders(request: Request) -> JSONResponse:
    return JSONResponse({"caller": request.user.identity, "scopes": sorted(request.auth.scopes), "orders": [17, 42]})


orders_api = JWTAuthMiddleware(
    Starlette(routes=[Route("/orders", list_orders)]),
    verifier=TokenVerifier(KEY, issuer=ISSUER, audience="orders-api"),
)

# The billing service: one BearerAuth for the life of the process, shared by all its clients.
auth = BearerAuth(
    issuer=TokenIssuer(KEY, issuer=ISSUER, access_ttl=600),
    subject="billing",
    audience="orders-api",
    scope="orders:read",
)


async def fetch_orders(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/orders")
    response.raise_for_status()
    return dict(response.json())


async def main() -> list[dict[str, object]]:
    transport = httpx.ASGITransport(app=orders_api)  # production: no transport, base_url="https://orders.internal"
    async with httpx.AsyncClient(auth=auth, transport=transport, base_url="http://orders.internal") as client:
        return await asyncio.gather(*(fetch_orders(client) for _ in range(10)))  # ten requests, one token


if __name__ == "__main__":
    for answer in asyncio.run(main())[:2]:
        print(answer)
