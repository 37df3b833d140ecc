"""FastAPI: ``app.add_middleware(JWTAuthMiddleware, verifier=...)`` and claims reachable from routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from asgi_jwt import JWTAuth, JWTAuthMiddleware, TokenVerifier, current_claims
from conftest import TokenFactory

BARE = 'Bearer realm="api"'


def claims_dependency() -> dict[str, Any]:
    """A dependency with no request parameter: it reads the context variable."""
    claims = current_claims()
    return {} if claims is None else dict(claims)


def fastapi_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(request: Request, claims: dict[str, Any] = Depends(claims_dependency)) -> dict[str, Any]:  # noqa: B008
        auth = request.scope["auth"]
        assert isinstance(auth, JWTAuth)
        return {
            "sub": request.user.identity,
            "authenticated": request.user.is_authenticated,
            "scope_claims": dict(auth.claims),
            "request_auth_scopes": sorted(request.auth.scopes),
            "dependency_claims": claims,
        }

    @app.get("/sync")
    def sync_route(request: Request) -> dict[str, Any]:
        return {"sub": request.user.identity}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        JWTAuthMiddleware,
        verifier=verifier,
        exclude_paths=["/health", "/docs", "/openapi.json"],
        realm="orders",
        current_claims=True,
    )
    return app


@pytest.fixture
def client(verifier: TokenVerifier) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fastapi_app(verifier)), base_url="http://testserver")


async def test_claims_reach_the_route(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    token = make_token(sub="alice", scope="orders:read", tenant="acme")
    async with client:
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == "alice"
    assert body["authenticated"] is True
    assert body["scope_claims"]["tenant"] == "acme"
    assert body["request_auth_scopes"] == ["orders:read"]
    assert body["dependency_claims"] == body["scope_claims"]


async def test_a_sync_route_sees_the_user(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    async with client:
        response = await client.get("/sync", headers={"Authorization": f"Bearer {make_token(sub='gina')}"})
    assert response.json() == {"sub": "gina"}


async def test_without_a_token_fastapi_routes_get_401(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="orders"'
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_an_expired_token(client: httpx.AsyncClient, make_token: TokenFactory) -> None:
    async with client:
        response = await client.get("/me", headers={"Authorization": f"Bearer {make_token(exp=1)}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="orders", error="invalid_token", error_description="Token has expired"'
    )
    assert response.json() == {"detail": "Token has expired", "error": "invalid_token"}


async def test_docs_and_health_are_excluded(client: httpx.AsyncClient) -> None:
    async with client:
        health = await client.get("/health")
        openapi = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert health.json() == {"status": "ok"}
    assert openapi.status_code == 200
    assert "/me" in openapi.json()["paths"]
    assert docs.status_code == 200


def test_with_fastapis_test_client(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    with TestClient(fastapi_app(verifier)) as client:
        assert client.get("/me").status_code == 401
        assert client.get("/me", headers={"Authorization": f"Bearer {make_token()}"}).json()["sub"] == "alice"
