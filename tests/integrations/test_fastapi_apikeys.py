"""FastAPI with API keys: the dependencies admit a key like a token, and OpenAPI declares both schemes."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from asgi_jwt import ApiKeys, ConfigurationError, JWTAuth, JWTAuthMiddleware, TokenVerifier
from asgi_jwt.integrations.fastapi import CurrentUser, add_exception_handlers, document_api_keys, require
from conftest import TokenFactory

ROLES = {"admin": ["*"], "reader": ["reports:read"]}


def build(verifier: TokenVerifier, api_keys: ApiKeys) -> FastAPI:
    api = FastAPI()
    add_exception_handlers(api, api_keys=api_keys)
    document_api_keys(api, api_keys)

    @api.get("/public")
    async def public() -> dict[str, str]:
        return {"hello": "world"}

    @api.get("/reports")
    async def reports(auth: Annotated[JWTAuth, Depends(require("reports:read"))], user: CurrentUser) -> dict[str, Any]:
        return {"for": user.identity, "via": auth.method}

    @api.get("/admin", dependencies=[Depends(require(roles="admin"))])
    async def admin() -> dict[str, str]:
        return {"admin": "yes"}

    api.add_middleware(JWTAuthMiddleware, verifier=verifier, optional=True, policy=ROLES, api_keys=api_keys)
    return api


@pytest.fixture
def keys() -> dict[str, Any]:
    return {"reader": ApiKeys.generate("etl", roles=["reader"]), "admin": ApiKeys.generate("ops", ["*"])}


@pytest.fixture
def api(verifier: TokenVerifier, keys: dict[str, Any]) -> FastAPI:
    return build(verifier, ApiKeys(records=[new.record for new in keys.values()]))


async def get(api: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


async def test_dependencies_admit_a_key_like_a_token(
    api: FastAPI, keys: dict[str, Any], make_token: TokenFactory
) -> None:
    assert (await get(api, "/reports", {"X-API-Key": keys["reader"].key})).json() == {"for": "etl", "via": "api_key"}
    bearer = {"Authorization": f"Bearer {make_token(roles=['reader'])}"}
    assert (await get(api, "/reports", bearer)).json() == {"for": "alice", "via": "bearer"}
    refused = await get(api, "/admin", {"X-API-Key": keys["reader"].key})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Requires the role 'admin'", "error": "insufficient_scope"}
    assert (await get(api, "/admin", {"X-API-Key": keys["admin"].key})).status_code == 403  # "*" is not the role
    missing = await get(api, "/reports", {})
    assert missing.status_code == 401
    assert missing.headers.get_list("www-authenticate") == [
        'Bearer realm="api"',
        'ApiKey realm="api", header="X-API-Key"',
    ]


def test_openapi_declares_the_key_scheme_beside_the_bearer_one(api: FastAPI) -> None:
    with TestClient(api) as client:
        document = client.get("/openapi.json").json()
        again = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT access token, sent as `Authorization: Bearer <token>`.",
        },
        "apiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key, sent as `X-API-Key: <key>`.",
        },
    }
    paths = document["paths"]
    assert "security" not in paths["/public"]["get"]
    # Items of "security" are alternatives: a bearer token or a key, each with the route's scopes.
    assert paths["/reports"]["get"]["security"] == [{"bearerAuth": ["reports:read"]}, {"apiKeyAuth": ["reports:read"]}]
    assert paths["/admin"]["get"]["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    assert again == document  # amended once, not on every request


def test_a_custom_header_is_declared(verifier: TokenVerifier) -> None:
    api = build(verifier, ApiKeys(header="X-Service-Key"))
    scheme = api.openapi()["components"]["securitySchemes"]["apiKeyAuth"]
    assert (scheme["name"], scheme["in"]) == ("X-Service-Key", "header")


def test_document_api_keys_needs_the_api_keys() -> None:
    with pytest.raises(ConfigurationError, match="document_api_keys needs the middleware's ApiKeys"):
        document_api_keys(FastAPI(), "X-API-Key")  # type: ignore[arg-type]
