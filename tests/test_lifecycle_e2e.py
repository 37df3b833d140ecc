"""The whole token lifecycle through a real uvicorn server on 127.0.0.1, with examples/login_refresh_logout.py.

login (the example's own code) → pair → protected call → refresh → the old refresh
token refused (reuse: the family is logged out) → a new login → logout (RFC 7009) →
its access token refused, cached or not.
"""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_server import serve

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "login_refresh_logout.py"
PASSWORD = "correct horse battery staple"
REVOKED = {"detail": "Token has been revoked", "error": "invalid_token"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve(runpy.run_path(str(EXAMPLE))["app"]) as url:
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def test_login_refresh_reuse_logout(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        wrong = await http.post("/login", json={"username": "alice", "password": "guess"})
        assert wrong.status_code == 400
        assert wrong.json() == {"error": "invalid_grant"}

        first = await login(http)
        assert first["token_type"] == "Bearer"
        assert first["scope"] == "orders:read"
        assert (await http.get("/orders", headers=bearer(first["access_token"]))).json() == {
            "user": "alice",
            "orders": [],
        }

        refreshed = await http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert refreshed.headers["cache-control"] == "no-store"
        second = refreshed.json()
        assert (await http.get("/orders", headers=bearer(second["access_token"]))).status_code == 200

        replayed = await http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_grant"
        for token in (first["access_token"], second["access_token"]):  # reuse logged the whole family out
            refused = await http.get("/orders", headers=bearer(token))
            assert refused.status_code == 401
            assert refused.json() == REVOKED

        session = await login(http)
        for _ in range(2):  # the second call is a verified-token cache hit
            assert (await http.get("/orders", headers=bearer(session["access_token"]))).status_code == 200
        logout = await http.post("/oauth/revoke", data={"token": session["refresh_token"]})
        assert logout.status_code == 200
        after = await http.get("/orders", headers=bearer(session["access_token"]))
        assert after.status_code == 401
        assert after.headers["www-authenticate"] == (
            'Bearer realm="api", error="invalid_token", error_description="Token has been revoked"'
        )
        again = await http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": session["refresh_token"]}
        )
        assert again.json()["error"] == "invalid_grant"
        assert (await http.post("/oauth/revoke", data={"token": "garbage"})).status_code == 200


async def test_logout_everywhere_refuses_every_session(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        laptop, phone = await login(http), await login(http)
        for session in (laptop, phone):
            assert (await http.get("/orders", headers=bearer(session["access_token"]))).status_code == 200
        out = await http.post("/logout/everywhere", headers=bearer(laptop["access_token"]))
        assert out.json() == {"logged_out": "alice"}
        for session in (laptop, phone):
            assert (await http.get("/orders", headers=bearer(session["access_token"]))).json() == REVOKED
            refresh = await http.post(
                "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": session["refresh_token"]}
            )
            assert refresh.json()["error"] == "invalid_grant"
