"""Starlette: ``Middleware(JWTAuthMiddleware, ...)``, ``@requires``, exception handlers, mounted sub-apps."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from asgi_jwt import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    JWTAuthMiddleware,
    SecretKey,
    TokenVerifier,
    error_response,
)
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


# --- an MCP server called by a Django backend ------------------------------------------------------
# The backend mints HS256 tokens carrying ``user_id`` and ``role``; the server is a Starlette
# app with ``POST /mcp/`` taking a JSON-RPC body. Two deliberate differences from how such
# backends are often set up, both asserted: a 26-byte secret is refused (HS256 needs at least
# 32 bytes, RFC 7518 §3.2), and a token without ``exp`` is refused until the minting side adds
# one (``require=()`` is the explicit opt-out).


SHORT_SECRET = "django-insecure-secret-key"  # a Django project's default-style value: 26 bytes
JWT_SECRET = "mcp-shared-secret-generated-for-hs256-0123456789"  # what the deployment must use instead
OTHER_SERVICE_SECRET = "some-other-service-secret-that-is-long-enough"

MCP_RBAC = {"Doctor": {"get_medical_records"}, "Nurse": {"get_medical_records"}, "Receptionist": set()}
RECORDS = {
    "NUGWI": [{"id": 1, "date": "2025-11-10", "note": "Follow-up"}, {"id": 2, "date": "2025-11-05", "note": "Initial"}]
}


async def mcp_endpoint(request: Request) -> JSONResponse:
    """The tool call: identity from the middleware, RBAC on the role claim."""
    rpc = await request.json()
    claims = request.auth.claims
    user_id, role = request.user.identity, claims.get("role")
    if rpc["method"] not in MCP_RBAC.get(role, set()):
        raise InsufficientScope(description=f"Role may not call {rpc['method']}")
    patient_id = rpc["params"]["arguments"]["patient_id"]
    return JSONResponse(
        {
            "jsonrpc": "2.0",
            "id": rpc.get("id"),
            "result": {"data": RECORDS.get(patient_id, []), "user_id": user_id, "role": role},
        }
    )


def mcp_server(verifier: TokenVerifier) -> JWTAuthMiddleware:
    app = Starlette(
        routes=[Route("/mcp/", mcp_endpoint, methods=["POST"])], exception_handlers={AuthError: handle_auth_error}
    )
    return JWTAuthMiddleware(app, verifier=verifier, identity_claim="user_id")


RPC = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "get_medical_records",
    "params": {"arguments": {"patient_id": "NUGWI"}},
}


def backend_token(secret: str = JWT_SECRET, *, role: str = "Doctor", **extra: Any) -> str:
    """What the Django backend mints for each tool call: user_id, role, username, signed HS256."""
    payload = {"user_id": "1", "role": role, "username": "yenji100", **extra}
    return jwt.encode(payload, secret, algorithm="HS256")


async def call_mcp(verifier: TokenVerifier, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    transport = httpx.ASGITransport(app=mcp_server(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:5000") as client:
        return await client.post("/mcp/", json=RPC, headers=headers)


@pytest.fixture
def mcp_verifier() -> TokenVerifier:
    return TokenVerifier(SecretKey(JWT_SECRET))


def test_a_26_byte_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"HS256 secret needs at least 32 bytes .* this one has 26"):
        SecretKey(SHORT_SECRET)
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY") as refused:
        TokenVerifier.from_env({"JWT_SECRET_KEY": SHORT_SECRET})
    assert SHORT_SECRET not in str(refused.value)


async def test_without_a_token_the_call_gets_401(mcp_verifier: TokenVerifier) -> None:
    response = await call_mcp(mcp_verifier, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_with_a_token_the_tool_sees_user_id_and_role(mcp_verifier: TokenVerifier) -> None:
    token = backend_token(exp=int(time.time()) + 300)
    response = await call_mcp(mcp_verifier, token)
    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"data": RECORDS["NUGWI"], "user_id": "1", "role": "Doctor"},
    }


async def test_a_backend_token_without_exp_is_refused_by_default(mcp_verifier: TokenVerifier) -> None:
    token = backend_token()
    response = await call_mcp(mcp_verifier, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token is missing the \'exp\' claim"'
    )
    assert response.json() == {"detail": "Token is missing the 'exp' claim", "error": "invalid_token"}


async def test_require_nothing_is_the_explicit_opt_out_for_tokens_without_exp() -> None:
    response = await call_mcp(TokenVerifier(SecretKey(JWT_SECRET), require=()), backend_token())
    assert response.status_code == 200
    assert response.json()["result"]["user_id"] == "1"


async def test_a_token_signed_with_another_secret_gets_401(mcp_verifier: TokenVerifier) -> None:
    token = backend_token(OTHER_SERVICE_SECRET, exp=int(time.time()) + 300)
    response = await call_mcp(mcp_verifier, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Invalid token signature"'
    )
    assert response.json() == {"detail": "Invalid token signature", "error": "invalid_token"}
    assert token not in response.text


async def test_a_role_without_the_tool_gets_403(mcp_verifier: TokenVerifier) -> None:
    response = await call_mcp(mcp_verifier, backend_token(role="Receptionist", exp=int(time.time()) + 300))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", error_description="Role may not call get_medical_records"'
    )
    assert response.json() == {"detail": "Role may not call get_medical_records", "error": "insufficient_scope"}
