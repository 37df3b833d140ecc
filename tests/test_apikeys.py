"""API keys through the middleware: the scope they produce, every refusal, the stores, and misconfiguration."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pickle
import re
import runpy
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from asgi_jwt import (
    ApiKey,
    ApiKeyExpired,
    ApiKeys,
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidApiKey,
    InvalidToken,
    JWTAuthMiddleware,
    KeysUnavailable,
    PermissionPolicy,
    Rule,
    SecretKey,
    TokenVerifier,
    auth_exception_handlers,
    authorize,
    current_claims,
    error_response,
)
from conftest import SECRET, Clock, TokenFactory
from live_server import serve

LEGACY = "billing-4f9a1c7e2b8d6053"  # a key of another format that a system already holds
BEARER_CHALLENGE = 'Bearer realm="api"'
KEY_CHALLENGE = 'ApiKey realm="api", header="X-API-Key"'
GENERATED = re.compile(r"^ajk_[0-9a-f]{16}_[0-9A-Za-z]{43}$")


async def whoami(request: Request) -> JSONResponse:
    auth = request.auth
    return JSONResponse(
        {
            "identity": request.user.identity,
            "method": auth.method,
            "scopes": sorted(auth.scopes),
            "key_id": getattr(auth, "key_id", None),
            "token": auth.token,
            "claims": dict(auth.claims),
            "current": dict(current_claims() or {}),
        }
    )


@requires("read:reports")
async def reports(request: Request) -> JSONResponse:
    return JSONResponse({"reports": ["2026-q3"]})


@authorize("write:reports")
async def write(request: Request) -> JSONResponse:
    return JSONResponse({"written": True})


def build(verifier: TokenVerifier, api_keys: ApiKeys, **options: Any) -> ASGIApp:
    routes = [
        Route("/whoami", whoami),
        Route("/reports", reports),
        Route("/write", write, methods=["POST"]),
        Route("/admin", whoami),
    ]
    return JWTAuthMiddleware(Starlette(routes=routes), verifier=verifier, api_keys=api_keys, **options)


async def get(app: ASGIApp, path: str = "/whoami", method: str = "GET", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers={name.replace("_", "-"): v for name, v in headers.items()})


def challenges(response: httpx.Response) -> list[str]:
    return response.headers.get_list("www-authenticate")


@pytest.fixture
def generated() -> tuple[str, ApiKey]:
    return ApiKeys.generate("reporting-job", ["read:reports"])


@pytest.fixture
def api_keys(generated: tuple[str, ApiKey], clock: Clock) -> ApiKeys:
    return ApiKeys({LEGACY: ("billing", ["read:reports", "write:reports"])}, records=[generated[1]], clock=clock)


@pytest.fixture
def app(verifier: TokenVerifier, api_keys: ApiKeys) -> ASGIApp:
    return build(verifier, api_keys, current_claims=True)


def test_generated_keys_carry_prefix_id_and_secret() -> None:
    key, record = ApiKeys.generate("ci", ["read:reports"])
    assert GENERATED.match(key)
    assert key.split("_")[1] == record.id
    assert record.subject == "ci"
    assert record.scopes == ("read:reports",)
    assert key not in json.dumps(record.to_dict())
    assert ApiKeys.generate("ci").key != key
    assert ApiKeys.generate("ci", prefix="acme").key.startswith("acme_")


async def test_a_generated_key_authenticates_like_a_token(app: ASGIApp, generated: tuple[str, ApiKey]) -> None:
    key, record = generated
    response = await get(app, X_API_Key=key)
    assert response.status_code == 200
    assert response.json() == {
        "identity": "reporting-job",
        "method": "api_key",
        "scopes": ["read:reports"],
        "key_id": record.id,
        "token": None,  # an API key is not a bearer token to forward
        "claims": {"sub": "reporting-job", "scope": "read:reports"},
        "current": {"sub": "reporting-job", "scope": "read:reports"},
    }
    assert (await get(app, "/reports", X_API_Key=key)).json() == {"reports": ["2026-q3"]}  # Starlette's @requires
    assert (await get(app, "/write", "POST", X_API_Key=key)).status_code == 403


async def test_a_bearer_request_says_bearer(app: ASGIApp, make_token: TokenFactory) -> None:
    response = await get(app, Authorization=f"Bearer {make_token(scope='read:reports')}")
    assert (response.status_code, response.json()["method"], response.json()["key_id"]) == (200, "bearer", None)


async def test_an_existing_key_of_any_format_works_and_is_not_kept(app: ASGIApp, api_keys: ApiKeys) -> None:
    response = await get(app, X_API_Key=LEGACY)
    assert (response.json()["identity"], response.json()["method"]) == ("billing", "api_key")
    assert (await get(app, "/write", "POST", X_API_Key=LEGACY)).json() == {"written": True}  # @authorize
    stored = pickle.dumps(api_keys)
    assert LEGACY.encode() not in stored
    assert LEGACY not in repr(api_keys)


def assert_bad_key(response: httpx.Response, description: str = "Invalid API key") -> None:
    assert response.status_code == 401
    assert challenges(response) == [
        BEARER_CHALLENGE,  # bare: the bearer scheme is offered, nothing was wrong with a token
        f'{KEY_CHALLENGE}, error="invalid_token", error_description="{description}"',
    ]
    assert response.json() == {"detail": description, "error": "invalid_token"}
    assert response.headers["cache-control"] == "no-store"


def altered(key: str, position: int) -> str:
    position %= len(key)
    return key[:position] + ("A" if key[position] != "A" else "B") + key[position + 1 :]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda key: altered(key, -1), id="last-secret-character"),
        pytest.param(lambda key: altered(key, 21), id="first-secret-character"),
        pytest.param(lambda key: altered(key, 5), id="id"),
        pytest.param(lambda key: key[:-1], id="truncated"),
        pytest.param(lambda key: key + "x", id="extended"),
        pytest.param(lambda key: key.upper(), id="upper-case"),
        pytest.param(lambda key: "xyz" + key[3:], id="other-prefix"),
        pytest.param(lambda key: key.split("_", 2)[2], id="secret-only"),
        pytest.param(lambda key: LEGACY[:-1] + "4", id="legacy-last-character"),
        pytest.param(lambda key: "ñ" + key, id="not-ascii"),
        pytest.param(lambda key: key * 20, id="oversized"),
    ],
)
async def test_a_bad_key_is_refused_with_both_challenges(
    app: ASGIApp, generated: tuple[str, ApiKey], change: Any
) -> None:
    bad = change(generated[0])
    headers = [(b"x-api-key", bad.encode("utf-8"))]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/whoami", headers=headers)
    assert_bad_key(response)


async def test_an_expired_key_is_a_401(verifier: TokenVerifier, clock: Clock) -> None:
    clock.now = 1_800_000_000
    key, record = ApiKeys.generate("ci", expires_at=datetime.fromtimestamp(clock.now + 60, UTC))
    app = build(verifier, ApiKeys(records=[record], clock=clock))
    assert (await get(app, X_API_Key=key)).json()["claims"]["exp"] == clock.now + 60
    clock.now += 60
    assert_bad_key(await get(app, X_API_Key=key), "API key has expired")


async def test_without_credentials_both_schemes_are_offered(app: ASGIApp) -> None:
    response = await get(app)
    assert response.status_code == 401
    assert challenges(response) == [BEARER_CHALLENGE, KEY_CHALLENGE]
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_a_bad_token_keeps_its_error_on_the_bearer_challenge(app: ASGIApp) -> None:
    response = await get(app, Authorization="Bearer not.a.token")
    assert response.status_code == 401
    assert challenges(response) == [
        'Bearer realm="api", error="invalid_token", error_description="Malformed token"',
        KEY_CHALLENGE,
    ]


@pytest.mark.parametrize(
    ("headers", "path", "description"),
    [
        (
            {"Authorization": "Bearer abc", "X-API-Key": LEGACY},
            "/whoami",
            "Send a bearer token or an API key, not both",
        ),
        (
            {"authorization": "bearer abc", "X-API-Key": LEGACY},
            "/whoami",
            "Send a bearer token or an API key, not both",
        ),
        ({"X-API-Key": LEGACY}, "/whoami?access_token=abc", "Send a bearer token or an API key, not both"),
        ({"X-API-Key": " "}, "/whoami", "The API key is empty"),
        ({"X-API-Key": ""}, "/whoami", "The API key is empty"),
    ],
)
async def test_ambiguous_or_empty_credentials_are_a_400(
    verifier: TokenVerifier, api_keys: ApiKeys, headers: dict[str, str], path: str, description: str
) -> None:
    app = build(verifier, api_keys, query_param=True, query_param_http=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(path, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"detail": description, "error": "invalid_request"}
    assert challenges(response)[0] == f'{BEARER_CHALLENGE}, error="invalid_request", error_description="{description}"'


async def test_a_repeated_key_header_is_a_400(app: ASGIApp) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/whoami", headers=[("X-API-Key", LEGACY), ("X-API-Key", LEGACY)])
    assert (response.status_code, response.json()["detail"]) == (400, "Only one X-API-Key header is allowed")


async def test_another_authorization_scheme_beside_a_key_is_ignored(app: ASGIApp) -> None:
    response = await get(app, X_API_Key=LEGACY, Authorization="Basic dXNlcjpwYXNz")  # e.g. added by a proxy
    assert response.json()["identity"] == "billing"


async def test_the_header_name_is_configurable(verifier: TokenVerifier) -> None:
    app = build(verifier, ApiKeys({LEGACY: ("billing", [])}, header="X-Service-Key"))
    assert (await get(app, X_Service_Key=LEGACY)).json()["identity"] == "billing"
    refused = await get(app, X_API_Key=LEGACY)
    assert challenges(refused) == [BEARER_CHALLENGE, 'ApiKey realm="api", header="X-Service-Key"']


async def test_rules_and_a_role_table_apply_to_keys(verifier: TokenVerifier) -> None:
    admin_key, admin = ApiKeys.generate("ops", roles=["admin"])
    job_key, job = ApiKeys.generate("job", ["read:reports"])
    app = build(
        verifier,
        ApiKeys(records=[admin, job]),
        policy={"admin": ["*"]},
        rules=[Rule("/admin", roles="admin")],
    )
    assert (await get(app, "/admin", X_API_Key=admin_key)).json()["claims"]["roles"] == ["admin"]
    assert (await get(app, "/write", "POST", X_API_Key=admin_key)).json() == {"written": True}  # "*" from the role
    refused = await get(app, "/admin", X_API_Key=job_key)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Requires the role 'admin'", "error": "insufficient_scope"}


async def test_a_policy_reading_other_claims_still_sees_the_keys_grants(verifier: TokenVerifier) -> None:
    key, record = ApiKeys.generate("ops", ["write:reports"], roles=["admin"])
    policy = PermissionPolicy(
        {"admin": ["read:*"]}, permission_claims=["permissions"], role_claims=["realm_access.roles"]
    )
    app = build(verifier, ApiKeys(records=[record]), policy=policy, rules=[Rule("/admin", roles="admin")])
    assert (await get(app, "/admin", X_API_Key=key)).json()["scopes"] == ["read:*", "write:reports"]
    assert (await get(app, "/reports", X_API_Key=key)).json() == {"reports": ["2026-q3"]}  # read:* from the role
    assert (await get(app, "/write", "POST", X_API_Key=key)).json() == {"written": True}


async def test_the_identity_claim_of_the_middleware_names_the_subject(verifier: TokenVerifier) -> None:
    app = build(verifier, ApiKeys({LEGACY: ("billing", [])}), identity_claim="user_id")
    body = (await get(app, X_API_Key=LEGACY)).json()
    assert (body["identity"], body["claims"]["user_id"]) == ("billing", "billing")


class Database:
    """Records by id, as a table with the id as primary key would hold them; counts the queries."""

    def __init__(self, *records: ApiKey) -> None:
        self.rows = {record.id: record.to_dict() for record in records}
        self.queries: list[str] = []
        self.down = False

    async def lookup(self, key_id: str) -> ApiKey | None:
        self.queries.append(key_id)
        if self.down:
            raise ConnectionError("database is down")
        row = self.rows.get(key_id)
        return None if row is None else ApiKey.from_dict(row)


async def test_a_custom_lookup_is_asked_once_by_id(verifier: TokenVerifier, generated: tuple[str, ApiKey]) -> None:
    key, record = generated
    database = Database(record)
    app = build(verifier, ApiKeys(lookup=database.lookup))
    assert (await get(app, X_API_Key=key)).json()["identity"] == "reporting-job"
    assert_bad_key(await get(app, X_API_Key=altered(key, -1)))
    assert database.queries == [record.id, record.id]  # the id only: the secret never reaches the database


async def test_an_existing_key_in_a_database_is_found_by_its_digest(verifier: TokenVerifier) -> None:
    stored = ApiKeys().record(LEGACY, "billing", ["read:reports"])  # as a migration would write it
    assert stored.id == stored.hash == hashlib.sha256(LEGACY.encode()).hexdigest()
    database = Database(stored)
    app = build(verifier, ApiKeys(lookup=database.lookup))
    assert (await get(app, X_API_Key=LEGACY)).json()["identity"] == "billing"
    assert database.queries == [stored.hash]


async def test_a_failing_lookup_is_a_503_not_a_bad_key(
    verifier: TokenVerifier, generated: tuple[str, ApiKey], caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(generated[1])
    database.down = True
    response = await get(build(verifier, ApiKeys(lookup=database.lookup)), X_API_Key=generated[0])
    assert response.status_code == 503
    assert response.json() == {"detail": "API keys are temporarily unavailable", "error": None}
    assert "API key lookup failed: ConnectionError: database is down" in caplog.text

    async def wrong(key_id: str) -> Any:
        return {"subject": "x"}

    assert (await get(build(verifier, ApiKeys(lookup=wrong)), X_API_Key=generated[0])).status_code == 503


async def test_keys_from_a_file_of_stored_records(verifier: TokenVerifier, tmp_path: Path) -> None:
    first, second = ApiKeys.generate("ci", ["read:reports"]), ApiKeys.generate("etl", expires_at=4_102_444_800)
    path = tmp_path / "api-keys.json"
    path.write_text(json.dumps({"keys": [first.record.to_dict(), second.record.to_dict()]}), encoding="utf-8")
    assert first.key not in path.read_text(encoding="utf-8")
    app = build(verifier, ApiKeys.from_file(path))
    assert (await get(app, X_API_Key=first.key)).json()["identity"] == "ci"
    assert (await get(app, X_API_Key=second.key)).json()["claims"]["exp"] == 4_102_444_800


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read API keys from"),
        ('{"keys": {}}', 'expected a JSON object {"keys": [...]}'),
        ('{"keys": [{"id": "a1"}]}', "an API key record has id, hash, subject"),
        ('{"keys": [{"id": "a1", "hash": "00", "subject": "x"}]}', "hash must be a SHA-256 hex digest"),
        ('{"keys": [{"id": "a1", "hash": "' + "0" * 64 + '", "subject": "x", "scopes": 3}]}', "scopes must be a list"),
        ('{"keys": [{"id": "a1", "hash": "' + "0" * 64 + '", "subject": "x", "scopes": ["a b"]}]}', "without spaces"),
        ('{"keys": [{"id": "a1", "hash": "' + "0" * 64 + '", "subject": "x", "expires_at": "soon"}]}', "Unix time"),
    ],
)
def test_a_bad_file_fails_at_start_up(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "api-keys.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        ApiKeys.from_file(path)


def test_a_missing_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read API keys from"):
        ApiKeys.from_file(tmp_path / "nowhere.json")


@pytest.mark.parametrize(
    ("build_keys", "message"),
    [
        (lambda: ApiKeys({"short": ("x", [])}), "API keys must be 16 to 512 characters long"),
        (lambda: ApiKeys({" " + LEGACY: ("x", [])}), "printable ASCII without surrounding spaces"),
        (lambda: ApiKeys({LEGACY: "billing"}), "each API key maps to (subject, scopes)"),
        (lambda: ApiKeys({LEGACY: ("billing", "read:reports")}), "each API key maps to (subject, scopes)"),
        (lambda: ApiKeys({LEGACY: ("", [])}), "subject must be a non-empty string"),
        (lambda: ApiKeys([LEGACY]), "keys must map each key to (subject, scopes)"),
        (lambda: ApiKeys(header="Authorization"), "header must be a header name other than Authorization"),
        (lambda: ApiKeys(header="X API Key"), "header must be a header name"),
        (lambda: ApiKeys(prefix="Bad_Prefix"), "prefix must be 2 to 16 lower-case letters and digits"),
        (lambda: ApiKeys(lookup="db"), "lookup must be an async function"),  # type: ignore[arg-type]
        (lambda: ApiKeys({LEGACY: ("x", [])}, lookup=Database().lookup), "not both"),
        (lambda: ApiKeys(records=["x"]), "records must be a list of ApiKey records"),  # type: ignore[list-item]
        (lambda: ApiKeys(records=[ApiKeys.generate("a").record] * 2), "two API keys have the id"),
        (lambda: ApiKeys.generate("ci", expires_at=datetime(2030, 1, 1)), "timezone-aware"),
        (lambda: ApiKeys.generate("ci", ["read reports"]), "without spaces"),
    ],
)
def test_misconfiguration_fails_at_construction(build_keys: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        build_keys()


def test_the_middleware_wants_an_api_keys_object(verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match="api_keys must be an ApiKeys object"):
        JWTAuthMiddleware(Starlette(), verifier=verifier, api_keys={LEGACY: ("x", [])})  # type: ignore[arg-type]


def test_key_errors_are_invalid_token_errors() -> None:
    assert issubclass(ApiKeyExpired, InvalidApiKey)
    assert issubclass(InvalidApiKey, InvalidToken)
    assert (InvalidApiKey().reason, ApiKeyExpired().reason) == ("invalid_api_key", "api_key_expired")


HEADER_VALUES = st.binary(max_size=80).filter(lambda value: b"\r" not in value and b"\n" not in value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=HEADER_VALUES, authorization=st.one_of(st.none(), HEADER_VALUES), repeat=st.booleans())
def test_no_header_value_is_a_500(
    app: ASGIApp, generated: tuple[str, ApiKey], key: bytes, authorization: bytes | None, repeat: bool
) -> None:
    headers = [(b"x-api-key", key)] * (2 if repeat else 1)
    if authorization is not None:
        headers.append((b"authorization", authorization))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/whoami",
        "raw_path": b"/whoami",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    sent: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] in (200, 400, 401)


def test_through_a_real_server(
    verifier: TokenVerifier, generated: tuple[str, ApiKey], make_token: TokenFactory
) -> None:
    key, record = generated
    app = build(verifier, ApiKeys(records=[record]))
    with serve(app) as url, httpx.Client(base_url=url) as client:
        by_key = client.get("/reports", headers={"X-API-Key": key})
        by_token = client.get("/whoami", headers={"Authorization": f"Bearer {make_token()}"})
        refused = client.get("/reports", headers={"X-API-Key": key[:-1]})
        both = client.get("/reports", headers={"X-API-Key": key, "Authorization": f"Bearer {make_token()}"})
    assert by_key.json() == {"reports": ["2026-q3"]}
    assert by_token.json()["method"] == "bearer"
    assert refused.status_code == 401
    assert refused.headers.get_list("www-authenticate") == [
        BEARER_CHALLENGE,
        f'{KEY_CHALLENGE}, error="invalid_token", error_description="Invalid API key"',
    ]
    assert both.status_code == 400


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "api_keys.py"


def make_key(keys_file: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python api_keys.py SUBJECT SCOPE...``, as an operator runs it."""
    env = {**os.environ, "API_KEYS_FILE": str(keys_file), "JWT_SECRET_KEY": SECRET}
    return subprocess.run(  # noqa: S603 - this interpreter, the project's own example
        [sys.executable, str(EXAMPLE), *arguments], env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def example_key(tmp_path: Path) -> tuple[Path, str]:
    keys_file = tmp_path / "api-keys.json"
    made = make_key(keys_file, "reporting", "read:reports")
    assert made.returncode == 0, made.stderr
    return keys_file, made.stdout.strip()


async def test_the_example(
    example_key: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, make_token: TokenFactory
) -> None:
    keys_file, key = example_key
    assert GENERATED.match(key)
    assert key not in keys_file.read_text(encoding="utf-8")
    for name, value in {"API_KEYS_FILE": str(keys_file), "JWT_SECRET_KEY": SECRET, "BILLING_API_KEY": LEGACY}.items():
        monkeypatch.setenv(name, value)
    for name in ("JWT_ISSUER", "JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    app = runpy.run_path(str(EXAMPLE))["app"]
    token = SecretKey(SECRET).encode({"sub": "alice", "roles": ["auditor"], "exp": int(time.time()) + 60})
    assert (await get(app, "/reports", X_API_Key=key)).json() == {
        "reports": ["2026-q3"],
        "for": "reporting",
        "via": "api_key",
    }
    assert (await get(app, "/reports", X_API_Key=LEGACY)).json()["for"] == "billing"
    assert (await get(app, "/reports", Authorization=f"Bearer {token}")).json()["via"] == "bearer"
    assert (await get(app, "/reports", X_API_Key=key[:-1])).status_code == 401
    denied = await get(app, "/reports", Authorization=f"Bearer {make_token()}")
    assert denied.status_code == 401  # another issuer's token: the example's verifier has no iss/aud


def test_the_example_needs_a_subject(tmp_path: Path) -> None:
    run = make_key(tmp_path / "api-keys.json")
    assert (run.returncode, run.stderr.strip()) == (1, "usage: python api_keys.py SUBJECT [SCOPE ...]")


def test_a_websocket_authenticates_with_a_key(verifier: TokenVerifier, generated: tuple[str, ApiKey]) -> None:
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"user": websocket.user.identity, "method": websocket.auth.method})
        await websocket.close()

    app = JWTAuthMiddleware(
        Starlette(routes=[WebSocketRoute("/ws", chat)]), verifier=verifier, api_keys=ApiKeys(records=[generated[1]])
    )
    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers={"X-API-Key": generated[0]}) as websocket:
            assert websocket.receive_json() == {"user": "reporting-job", "method": "api_key"}
        refused = pytest.raises(WebSocketDenialResponse)
        with refused as denied, client.websocket_connect("/ws", headers={"X-API-Key": generated[0][:-1]}):
            pytest.fail("the connection must not be accepted")
    assert denied.value.status_code == 401
    assert denied.value.headers.get_list("www-authenticate")[1].startswith(KEY_CHALLENGE + ', error="invalid_token"')


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (KeysUnavailable(), []),  # an outage has no challenge, only Retry-After
        (
            InsufficientScope("read:reports"),
            [
                'Bearer realm="api", error="insufficient_scope", error_description="Insufficient permissions", '
                'scope="read:reports"',
                KEY_CHALLENGE,
            ],
        ),
    ],
)
def test_the_response_builder_adds_the_key_challenge(error: AuthError, expected: list[str]) -> None:
    response = error_response(error, api_key_header="X-API-Key")
    assert [value.decode() for name, value in response.raw_headers if name == b"www-authenticate"] == expected


def test_route_level_handlers_want_the_api_keys_object() -> None:
    with pytest.raises(ConfigurationError, match="api_keys must be the middleware's ApiKeys"):
        auth_exception_handlers(api_keys="X-API-Key")  # type: ignore[arg-type]
