"""Seed 001: a Django backend calls an MCP server with an HS256 token carrying ``user_id`` and ``role``.

The MCP server is a Starlette app with ``POST /mcp/`` taking a JSON-RPC body. Without
a token the call gets a 401; with one, the tool sees ``user_id="1"`` and
``role="Doctor"``. Tokens are minted with PyJWT exactly as the seed's Django handler
does (``jwt.encode(payload, secret, algorithm="HS256")``).

Two deliberate differences from the seed, both asserted here:

* its 26-byte secret ``django-insecure-secret-key`` is refused: HS256 needs at least
  32 bytes (RFC 7518 §3.2);
* its tokens have no ``exp``; the default verifier requires one, so a seed-style token
  gets 401 "Token is missing the 'exp' claim" until the minting side adds ``exp``
  (``require=()`` is the explicit opt-out).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from asgi_jwt import AuthError, ConfigurationError, InsufficientScope, JWTAuthMiddleware, SecretKey, TokenVerifier
from asgi_jwt import error_response as build_error_response

SEED_SECRET = "django-insecure-secret-key"  # the seed's .env value: 26 bytes
JWT_SECRET = "mcp-shared-secret-generated-for-hs256-0123456789"  # what the deployment must use instead
OTHER_SECRET = "some-other-service-secret-that-is-long-enough"

RBAC = {"Doctor": {"get_medical_records"}, "Nurse": {"get_medical_records"}, "Receptionist": set()}
RECORDS = {
    "NUGWI": [{"id": 1, "date": "2025-11-10", "note": "Follow-up"}, {"id": 2, "date": "2025-11-05", "note": "Initial"}]
}


async def mcp_endpoint(request: Request) -> JSONResponse:
    """The tool call: identity from the middleware, RBAC on the role claim."""
    rpc = await request.json()
    claims = request.auth.claims
    user_id, role = request.user.identity, claims.get("role")
    if rpc["method"] not in RBAC.get(role, set()):
        raise InsufficientScope(description=f"Role may not call {rpc['method']}")
    patient_id = rpc["params"]["arguments"]["patient_id"]
    return JSONResponse(
        {
            "jsonrpc": "2.0",
            "id": rpc.get("id"),
            "result": {"data": RECORDS.get(patient_id, []), "user_id": user_id, "role": role},
        }
    )


async def on_auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return build_error_response(exc)


def mcp_server(verifier: TokenVerifier) -> JWTAuthMiddleware:
    app = Starlette(
        routes=[Route("/mcp/", mcp_endpoint, methods=["POST"])], exception_handlers={AuthError: on_auth_error}
    )
    return JWTAuthMiddleware(app, verifier=verifier, identity_claim="user_id")


RPC = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "get_medical_records",
    "params": {"arguments": {"patient_id": "NUGWI"}},
}


def seed_token(secret: str = JWT_SECRET, *, role: str = "Doctor", **extra: Any) -> str:
    """The seed's LLMAgentHandler._execute_tool: user_id, role, username, signed HS256."""
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
def verifier() -> TokenVerifier:
    return TokenVerifier(SecretKey(JWT_SECRET))


def test_the_seeds_26_byte_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"HS256 secret needs at least 32 bytes .* this one has 26"):
        SecretKey(SEED_SECRET)
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY") as refused:
        TokenVerifier.from_env({"JWT_SECRET_KEY": SEED_SECRET})
    assert SEED_SECRET not in str(refused.value)


async def test_without_a_token_the_call_gets_401(verifier: TokenVerifier) -> None:
    response = await call_mcp(verifier, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_with_a_token_the_tool_sees_user_id_and_role(verifier: TokenVerifier) -> None:
    token = seed_token(exp=int(time.time()) + 300)
    response = await call_mcp(verifier, token)
    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"data": RECORDS["NUGWI"], "user_id": "1", "role": "Doctor"},
    }


async def test_a_seed_style_token_without_exp_is_refused_by_default(verifier: TokenVerifier) -> None:
    token = seed_token()
    response = await call_mcp(verifier, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token is missing the \'exp\' claim"'
    )
    assert response.json() == {"detail": "Token is missing the 'exp' claim", "error": "invalid_token"}


async def test_require_nothing_is_the_explicit_opt_out_for_tokens_without_exp() -> None:
    response = await call_mcp(TokenVerifier(SecretKey(JWT_SECRET), require=()), seed_token())
    assert response.status_code == 200
    assert response.json()["result"]["user_id"] == "1"


async def test_a_token_signed_with_another_secret_gets_401(verifier: TokenVerifier) -> None:
    token = seed_token(OTHER_SECRET, exp=int(time.time()) + 300)
    response = await call_mcp(verifier, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Invalid token signature"'
    )
    assert response.json() == {"detail": "Invalid token signature", "error": "invalid_token"}
    assert token not in response.text


async def test_a_role_without_the_tool_gets_403(verifier: TokenVerifier) -> None:
    response = await call_mcp(verifier, seed_token(role="Receptionist", exp=int(time.time()) + 300))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", error_description="Role may not call get_medical_records"'
    )
    assert response.json() == {"detail": "Role may not call get_medical_records", "error": "insufficient_scope"}
