"""Starlette: ``Middleware(JWTAuthMiddleware, ...)``, ``@requires``, exception handlers, mounted sub-apps."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from asgi_jwt import AuthError, InsufficientScope, JWTAuthMiddleware, TokenVerifier, error_response
from conftest import TokenFactory

BARE = 'Bearer realm="api"'


@requires("orders:read")
async def list_orders(request: Request) -> JSONResponse:
    return JSONResponse({"orders": [], "user": request.user.identity})


@requires(["orders:read", "orders:write"])
async def create_order(request: Request) -> JSONResponse:
    return JSONResponse({"created": True, "by": request.user.display_name}, status_code=201)


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def refund(request: Request) -> JSONResponse:
    if "orders:refund" not in request.auth.scopes:
        raise InsufficientScope("orders:refund", "Refunds need the orders:refund scope")
    return JSONResponse({"refunded": True})


async def handle_auth_error(request: Request, exc: Exception) -> Response:
    """How an app routes our errors raised inside routes to the one response builder."""
    assert isinstance(exc, AuthError)
    return error_response(exc)


def starlette_app(verifier: TokenVerifier) -> Starlette:
    return Starlette(
        routes=[
            Route("/orders", list_orders),
            Route("/orders", create_order, methods=["POST"]),
            Route("/orders/refund", refund, methods=["POST"]),
            Route("/health", health),
        ],
        middleware=[Middleware(JWTAuthMiddleware, verifier=verifier, exclude_paths=["/health"])],
        exception_handlers={AuthError: handle_auth_error},
    )


@pytest.fixture
def client(verifier: TokenVerifier) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=starlette_app(verifier))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_requires_lets_a_token_with_the_scope_through(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    async with client:
        response = await client.get("/orders", headers={"Authorization": f"Bearer {make_token(scope='orders:read')}"})
    assert response.status_code == 200
    assert response.json() == {"orders": [], "user": "alice"}


async def test_requires_answers_its_own_bare_403_without_the_scope(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    # Starlette's @requires raises HTTPException(403): no challenge, its own body.
    async with client:
        response = await client.get("/orders", headers={"Authorization": f"Bearer {make_token(scope='profile')}"})
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert response.text == "Forbidden"


async def test_requires_with_several_scopes(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    async with client:
        partial = await client.post("/orders", headers={"Authorization": f"Bearer {make_token(scope='orders:read')}"})
        full = await client.post(
            "/orders", headers={"Authorization": f"Bearer {make_token(scope='orders:read orders:write', name='Al')}"}
        )
    assert partial.status_code == 403
    assert full.status_code == 201
    assert full.json() == {"created": True, "by": "Al"}


async def test_no_token_never_reaches_requires(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get("/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_insufficient_scope_raised_in_a_route_is_a_403_challenge(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    async with client:
        denied = await client.post(
            "/orders/refund", headers={"Authorization": f"Bearer {make_token(scope='orders:read')}"}
        )
        allowed = await client.post(
            "/orders/refund", headers={"Authorization": f"Bearer {make_token(scope='orders:refund')}"}
        )
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="Refunds need the orders:refund scope", scope="orders:refund"'
    )
    assert denied.headers["cache-control"] == "no-store"
    assert denied.json() == {"detail": "Refunds need the orders:refund scope", "error": "insufficient_scope"}
    assert allowed.json() == {"refunded": True}


async def test_excluded_health_check(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get("/health")
    assert (response.status_code, response.text) == (200, "ok")


def test_with_the_test_client_and_lifespan(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    # Entering the TestClient runs the lifespan through the middleware.
    with TestClient(starlette_app(verifier)) as client:
        assert client.get("/orders").status_code == 401
        response = client.get("/orders", headers={"Authorization": f"Bearer {make_token(scope='orders:read')}"})
        assert response.status_code == 200


def mounted_app(verifier: TokenVerifier) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(
            {"user": request.user.identity, "path": request.url.path, "root_path": request.scope["root_path"]}
        )

    api: ASGIApp = JWTAuthMiddleware(
        Starlette(routes=[Route("/{rest:path}", whoami)]), verifier=verifier, exclude_paths=["/health"]
    )
    return Starlette(routes=[Route("/", health), Mount("/api", app=api)])


@pytest.mark.parametrize(
    ("path", "status", "user"),
    [("/api/health", 200, ""), ("/api/health/live", 200, ""), ("/api/healthz", 401, None), ("/api/orders", 401, None)],
)
async def test_a_mounted_sub_app_excludes_paths_below_its_mount(
    verifier: TokenVerifier, path: str, status: int, user: str | None
) -> None:
    transport = httpx.ASGITransport(app=mounted_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(path)
    assert response.status_code == status
    if user is not None:
        assert response.json() == {"user": user, "path": path, "root_path": "/api"}
    else:
        assert response.headers["www-authenticate"] == BARE


async def test_a_mounted_sub_app_authenticates_and_the_outer_app_is_open(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    transport = httpx.ASGITransport(app=mounted_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        outer = await client.get("/")
        inner = await client.get("/api/orders", headers={"Authorization": f"Bearer {make_token(sub='frank')}"})
    assert (outer.status_code, outer.text) == (200, "ok")
    assert inner.json() == {"user": "frank", "path": "/api/orders", "root_path": "/api"}
