"""The examples the docs include, run for real: if the docs' code breaks, these fail.

Each example is executed fresh with ``runpy`` under a controlled environment and
driven through ``httpx.ASGITransport`` (WebSockets through Starlette's TestClient);
the Django project runs in a subprocess because Django's settings are per process.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import runpy
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from asgi_jwt import (
    JWTAuthMiddleware,
    KeyPair,
    KeyResolver,
    KeysUnavailable,
    PublicKey,
    SecretKey,
    TokenVerifier,
    UnknownKey,
    config,
    errors,
)
from asgi_jwt.errors import InvalidSignature

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "example-secret-that-is-long-enough-for-hs256"
PREVIOUS_SECRET = "the-previous-secret-also-long-enough-for-hs256"
ISSUER = "https://auth.example.com"
AUDIENCE = "orders-api"

Loader = Callable[..., dict[str, Any]]


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Loader:
    """``load("quickstart", JWT_ISSUER=...)``: run ``examples/quickstart.py`` with exactly these JWT_* settings."""

    def run(name: str, **env: str) -> dict[str, Any]:
        for variable in list(os.environ):
            if variable.startswith("JWT_"):
                monkeypatch.delenv(variable)
        for variable, value in {"JWT_SECRET_KEY": SECRET, **env}.items():
            monkeypatch.setenv(variable, value)
        return runpy.run_path(str(EXAMPLES / f"{name}.py"))

    return run


def token(key: Any = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
    return str((key or SecretKey(SECRET)).encode({k: v for k, v in payload.items() if v is not None}))


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_quickstart(load: Loader) -> None:
    app = load("quickstart")["app"]
    async with client(app) as http:
        missing = await http.get("/orders")
        wrong_audience = await http.get("/orders", headers=bearer(token(aud="billing-api")))
        ok = await http.get("/orders", headers=bearer(token()))
        health = await http.get("/health")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="api"'
    assert missing.json() == {"detail": "Not authenticated", "error": None}
    assert wrong_audience.status_code == 401
    assert wrong_audience.json() == {"detail": "Token audience is not accepted", "error": "invalid_token"}
    assert ok.status_code == 200
    assert ok.json() == {"user": "alice", "orders": []}
    assert health.status_code == 200


async def test_starlette_recipe(load: Loader) -> None:
    app = load("starlette_app", JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)["app"]
    reader = bearer(token(scope="orders:read", name="Alice Example"))
    async with client(app) as http:
        profile = await http.get("/profile", headers=reader)
        orders = await http.get("/orders", headers=reader)
        forbidden = await http.get("/orders", headers=bearer(token(scope="profile")))
        health = await http.get("/health")
        missing = await http.get("/profile")
    assert profile.status_code == 200
    assert profile.json() == {
        "identity": "alice",
        "name": "Alice Example",
        "scopes": ["orders:read"],
        "audited_as": "alice",
    }
    assert orders.json() == {"orders": [], "for": "alice"}
    assert forbidden.status_code == 403  # Starlette's @requires
    assert health.json() == {"status": "ok", "authenticated": False}
    assert missing.status_code == 401


async def test_fastapi_recipe(load: Loader) -> None:
    app = load("fastapi_app")["app"]
    async with client(app) as http:
        ok = await http.get("/orders", headers=bearer(token(scope="orders:read orders:write")))
        missing = await http.get("/orders")
        expired = await http.get("/orders", headers=bearer(token(iat=1_000, exp=2_000)))
        docs = await http.get("/docs")
        schema = await http.get("/openapi.json")
    assert ok.status_code == 200
    assert ok.json() == {"user": "alice", "scopes": ["orders:read", "orders:write"], "orders": []}
    assert missing.status_code == 401
    assert expired.status_code == 401
    assert expired.json() == {"detail": "Token has expired", "error": "invalid_token"}
    assert 'error_description="Token has expired"' in expired.headers["www-authenticate"]
    assert docs.status_code == 200
    assert "/orders" in schema.json()["paths"]


async def test_plain_asgi_recipe(load: Loader) -> None:
    app = load("plain_asgi")["app"]
    async with client(app) as http:
        admin = await http.get("/", headers=bearer(token(aud="hello-service", scope="admin")))
        user = await http.get("/", headers=bearer(token(aud="hello-service")))
        other_audience = await http.get("/", headers=bearer(token()))
        missing = await http.get("/")
    assert admin.json() == {"hello": "alice", "admin": True}
    assert user.json() == {"hello": "alice", "admin": False}
    assert other_audience.status_code == 401
    assert other_audience.json()["error"] == "invalid_token"
    assert missing.status_code == 401


def test_websocket_recipe(load: Loader) -> None:
    app = load("websocket_app")["app"]
    with TestClient(app) as test_client:
        with test_client.websocket_connect(f"/ws?access_token={token(sub='bob', iss=None, aud=None)}") as ws:
            assert ws.receive_json() == {"hello": "bob"}
            ws.send_text("ping")
            assert ws.receive_text() == "ping"
        with pytest.raises(WebSocketDenialResponse) as denied, test_client.websocket_connect("/ws?access_token=a.b.c"):
            pass
    assert denied.value.status_code == 401
    assert denied.value.headers["cache-control"] == "no-store"
    assert denied.value.json()["error"] == "invalid_token"


async def test_key_rotation_recipe(load: Loader) -> None:
    example = load("key_rotation", JWT_PREVIOUS_SECRET_KEY=PREVIOUS_SECRET)
    verifier: TokenVerifier = example["verifier"]
    assert (await verifier.verify(token(SecretKey(SECRET), aud=None)))["sub"] == "alice"
    assert (await verifier.verify(token(SecretKey(PREVIOUS_SECRET), aud=None)))["sub"] == "alice"
    with pytest.raises(InvalidSignature):
        await verifier.verify(token(SecretKey("a-third-secret-nobody-configured-anywhere"), aud=None))

    by_kid = TokenVerifier(example["keys"])
    current = example["keys"].encode({"sub": "alice", "exp": int(time.time()) + 60})
    assert httpx.Headers(_header(current))["kid"] == "2025-06"
    assert (await by_kid.verify(current))["sub"] == "alice"
    previous = SecretKey(PREVIOUS_SECRET, kid="2025-01").encode({"sub": "bob", "exp": int(time.time()) + 60})
    assert (await by_kid.verify(previous))["sub"] == "bob"
    with pytest.raises(UnknownKey):
        await by_kid.verify(SecretKey(SECRET, kid="2024-06").encode({"sub": "eve", "exp": int(time.time()) + 60}))

    migrating = TokenVerifier(example["migrating"])
    assert (await migrating.verify(token(example["signing_key"], aud=None)))["sub"] == "alice"
    assert (await migrating.verify(token(SecretKey(SECRET), aud=None)))["sub"] == "alice"


def _header(compact: str) -> dict[str, str]:
    import base64

    segment = compact.split(".")[0]
    decoded: dict[str, str] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


class FakeVault:
    """Stands in for a secrets store client: ``await read(path)`` returns ``{kid: pem}``."""

    def __init__(self, secrets: Mapping[str, Mapping[str, str]], *, down: bool = False) -> None:
        self.secrets = secrets
        self.down = down
        self.reads = 0

    async def read(self, path: str) -> Mapping[str, str]:
        self.reads += 1
        if self.down:
            raise ConnectionRefusedError("vault unreachable")
        return self.secrets[path]


async def test_custom_resolver_recipe(load: Loader) -> None:
    example = load("custom_resolver")
    assert example["VaultKeys"].__mro__[1:] == (object,)  # implements the protocol, inherits nothing of ours
    signer = KeyPair.generate("ES256", kid="k1")
    vault = FakeVault({"secret/jwt-keys": {"k1": signer.public_pem().decode()}})
    verifier: TokenVerifier = example["build_verifier"](vault)
    assert isinstance(verifier.keys, KeyResolver)
    assert (await verifier.verify(token(signer)))["sub"] == "alice"
    assert (await verifier.verify(token(signer, sub="bob")))["sub"] == "bob"
    assert vault.reads == 1  # read once, then kept
    with pytest.raises(UnknownKey):
        await verifier.verify(token(KeyPair.generate("ES256", kid="k2")))

    down: TokenVerifier = example["build_verifier"](FakeVault({}, down=True))
    with pytest.raises(KeysUnavailable):
        await down.verify(token(signer))
    app = load("quickstart")["app"]
    app.verifier = down  # the same outage seen through the middleware
    async with client(app) as http:
        response = await http.get("/orders", headers=bearer(token(signer)))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "www-authenticate" not in response.headers


async def test_denylist_recipe_refuses_a_revoked_token_even_when_cached(load: Loader) -> None:
    app = load("denylist")["app"]
    key = SecretKey("a-secret-of-at-least-32-bytes-for-hs256!")
    kept, revoked = token(key, jti="kept"), token(key, sub="mallory", jti="stolen")
    async with client(app) as http:
        for _ in range(2):  # the second request of each is answered from the cache
            assert (await http.get("/orders", headers=bearer(kept))).json() == {"user": "alice"}
            assert (await http.get("/orders", headers=bearer(revoked))).json() == {"user": "mallory"}
        logout = await http.post("/logout", headers=bearer(revoked))
        refused = await http.get("/orders", headers=bearer(revoked))
        still_fine = await http.get("/orders", headers=bearer(kept))
    assert logout.json() == {"revoked": "stolen"}
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token has been revoked", "error": "invalid_token"}
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has been revoked"'
    )
    assert still_fine.status_code == 200


async def test_denylist_recipe_logs_a_user_out_everywhere(load: Loader) -> None:
    app = load("denylist")["app"]
    key = SecretKey("a-secret-of-at-least-32-bytes-for-hs256!")
    earlier = int(time.time()) - 10
    laptop, phone = token(key, jti="laptop", iat=earlier), token(key, jti="phone", iat=earlier)
    other_user = token(key, sub="bob", jti="bob-1", iat=earlier)
    async with client(app) as http:
        assert (await http.get("/orders", headers=bearer(phone))).status_code == 200  # cached from here on
        logout = await http.post("/logout/everywhere", headers=bearer(laptop))
        answers = [(await http.get("/orders", headers=bearer(t))).status_code for t in (laptop, phone, other_user)]
    assert logout.json() == {"logged_out": "alice"}
    assert answers == [401, 401, 200]


async def test_cognito_id_tokens_recipe_admits_id_tokens_and_nothing_else(load: Loader) -> None:
    app = load("cognito_id_tokens", JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)["app"]
    async with client(app) as http:
        id_token = await http.get("/me", headers=bearer(token(token_use="id", **{"cognito:groups": ["staff"]})))
        refresh = await http.get("/me", headers=bearer(token(typ="Refresh")))
    assert id_token.status_code == 200
    assert id_token.json() == {"user": "alice", "groups": ["staff"]}
    assert refresh.status_code == 401
    assert refresh.json() == {"detail": "Refresh tokens cannot be used for access", "error": "invalid_token"}


async def test_custom_errors_recipe(load: Loader) -> None:
    app = load("custom_errors")["app"]
    async with client(app) as http:
        missing = await http.post("/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call"})
        bad = await http.post("/mcp/", headers=bearer("a.b.c"))
        ok = await http.post("/mcp/", headers=bearer(token(sub=None, user_id="u-7", role="doctor", aud="mcp-server")))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="mcp"'
    assert missing.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "Not authenticated"}}
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith('Bearer realm="mcp", error="invalid_token"')
    assert bad.json()["error"]["message"] == "Malformed token"
    assert ok.json() == {"jsonrpc": "2.0", "id": 1, "result": {"user_id": "u-7"}}


DJANGO_DRIVER = """
import asyncio, json, sys
import httpx
from django_project.asgi import application

async def main():
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        results = {}
        for name, method, path, token in json.loads(sys.argv[1]):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await http.request(method, path, headers=headers)
            results[name] = {"status": response.status_code, "body": response.text}
        print(json.dumps(results))

asyncio.run(main())
"""


def test_django_recipe() -> None:
    requests = [
        ("missing", "GET", "/orders", None),
        ("reader", "GET", "/orders", token(scope="orders:read", role="clinician")),
        ("reader_writes", "POST", "/orders/new", token(scope="orders:read")),
        ("writer_writes", "POST", "/orders/new", token(scope="orders:write")),
        ("health", "GET", "/health", None),
    ]
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("JWT_", "DJANGO_"))},
        "JWT_SECRET_KEY": SECRET,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
    }
    command = [sys.executable, "-c", DJANGO_DRIVER, json.dumps(requests)]
    run = subprocess.run(  # noqa: S603 - this interpreter, our own driver
        command, cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert results["missing"]["status"] == 401
    assert json.loads(results["missing"]["body"]) == {"detail": "Not authenticated", "error": None}
    assert results["reader"]["status"] == 200
    assert json.loads(results["reader"]["body"]) == {"user": "alice", "role": "clinician", "scopes": ["orders:read"]}
    assert results["reader_writes"]["status"] == 403
    assert results["writer_writes"]["status"] == 201
    assert json.loads(results["writer_writes"]["body"]) == {"created": True, "by": "alice"}
    assert results["health"]["status"] == 200
    assert json.loads(results["health"]["body"]) == {"status": "ok", "authenticated": False}


async def test_mint_token_makes_a_token_the_quickstart_accepts(load: Loader) -> None:
    minted = load("mint_token")["token"]
    app = load("quickstart")["app"]
    async with client(app) as http:
        response = await http.get("/orders", headers=bearer(minted))
    assert response.status_code == 200
    assert response.json()["user"] == "alice"


def test_jwks_services_walkthrough_answers_200_with_a_minted_token() -> None:
    """``python examples/jwks_services.py``: the issuer mints over HTTP, the API verifies with the published keys."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JWT_") and name != "JWKS_URL"}
    command = [sys.executable, str(EXAMPLES / "jwks_services.py")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert run.returncode == 0, run.stderr
    minted, with_token, without = run.stdout.splitlines()
    assert re.fullmatch(r"POST http://127\.0\.0\.1:\d+/token\?sub=alice -> a token signed with key [\w-]{43}", minted)
    assert with_token.endswith(' with the token -> 200 {"user":"alice","orders":[]}')
    assert without.endswith(' without a token -> 401 {"detail":"Not authenticated","error":null}')


async def test_jwks_services_token_endpoint_needs_a_subject(load: Loader) -> None:
    issuer = load("jwks_services")["issuer"]
    async with client(issuer) as http:
        refused = await http.post("/token")
        minted = await http.post("/token", params={"sub": "bob"})
        keys = await http.get("/.well-known/jwks.json")
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_request", "error_description": "sub is required"}
    body = minted.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 600)
    published = PublicKey.from_jwk(keys.json()["keys"][0])  # the token verifies with the published key alone
    verifier = TokenVerifier(published, issuer="https://issuer.example.com", audience=AUDIENCE)
    assert (await verifier.verify(body["access_token"]))["sub"] == "bob"


# The reference pages are written by hand; these keep them in step with the code.

DOCS = EXAMPLES.parent / "docs"


def _documented_names(page: str, section: str) -> set[str]:
    """The first-column names of the table in ``## {section}`` of ``docs/{page}``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)`", body, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("section", "constructor"),
    [("`TokenVerifier`", TokenVerifier), ("`JWTAuthMiddleware`", JWTAuthMiddleware)],
)
def test_configuration_reference_lists_every_option(section: str, constructor: type) -> None:
    parameters = set(inspect.signature(constructor).parameters)
    assert _documented_names("configuration.md", section) == parameters, "update docs/configuration.md"


def test_configuration_reference_lists_every_environment_variable() -> None:
    read = set(re.findall(r"""["'](JWT_[A-Z_]+)["']""", inspect.getsource(config)))  # every variable name literal
    assert read, "the config module reads no JWT_* variables?"
    assert _documented_names("configuration.md", "Environment variables") == read, "update docs/configuration.md"


def test_errors_page_lists_every_error_with_its_answer() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    rows = {
        name: (int(status), error.strip("`"), description, reason)
        for name, status, error, description, reason in re.findall(
            r"^\| `(\w+)` \| (\d{3}) \| (`\w+`|—) \| ([^|]+?) \| `(\w+)` \|$", text, flags=re.MULTILINE
        )
    }
    classes = {
        name: getattr(errors, name)
        for name in errors.__all__
        if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), errors.AuthError)
    }
    assert set(rows) == set(classes) - {"AuthError"}, "update the table in docs/errors.md"
    for name, error_class in classes.items():
        if name == "AuthError":
            continue
        status, error, description, reason = rows[name]
        assert status == error_class.status_code, name
        assert error == (error_class.error or "—"), name
        assert reason == error_class.reason, name
        if "…" not in description:  # MissingClaim/InvalidClaim name the claim
            assert description == error_class.default_description, name


async def test_browser_app_answers_preflights_and_guards_cookie_posts(load: Loader) -> None:
    app = load("browser_app", JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)["app"]
    frontend = "https://app.example.com"
    cookie = {"Cookie": f"access_token={token()}"}
    async with client(app) as http:
        preflight = await http.options("/orders", headers={"Origin": frontend, "Access-Control-Request-Method": "POST"})
        anonymous = await http.get("/orders", headers={"Origin": frontend})
        from_frontend = await http.post("/orders", headers={"Origin": frontend, **cookie})
        forged = await http.post("/orders", headers={"Origin": "https://evil.example", **cookie})
        with_header = await http.post("/orders", headers={"Origin": "https://evil.example", **bearer(token())})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == frontend
    assert anonymous.status_code == 401
    assert anonymous.headers["access-control-allow-origin"] == frontend  # the page can read our refusal
    assert anonymous.json() == {"detail": "Not authenticated", "error": None}
    assert (from_frontend.status_code, from_frontend.json()) == (201, {"created_by": "alice"})
    assert (forged.status_code, forged.json()) == (403, {"detail": "Cross-site request refused", "error": None})
    assert forged.headers["www-authenticate"] == 'Bearer realm="api"'
    assert with_header.status_code == 201  # a bearer header cannot be forged cross-site: no CSRF check
