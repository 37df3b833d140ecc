"""TokenVerifier.from_env: JWT_* variables in, a verifier out, or one clear error naming the variable.

Every test passes its own ``environ`` mapping; the process environment is never touched.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from asgi_jwt import (
    ConfigurationError,
    InvalidAudience,
    InvalidIssuer,
    InvalidSignature,
    JWKSResolver,
    JWTAuthMiddleware,
    KeyPair,
    PublicKey,
    RotatingKeys,
    SecretKey,
    TokenExpired,
    TokenVerifier,
)
from asgi_jwt.config import keys_from_env, verifier_options_from_env
from test_jwks_server import Server

SECRET = "env-secret-0123456789-abcdefghijklmnop"  # 38 bytes: fine for HS256, short for HS384/512
PREVIOUS = "env-previous-secret-0123456789-abcdefghij"
SHORT = "short-secret-but-distinct"  # 25 bytes


NOT_SET = (
    "JWT_SECRET_KEY is not set (or set JWT_PUBLIC_KEY_PATH for a public key, JWT_JWKS_URL for a JWK Set,"
    " or JWT_ISSUER alone to discover the issuer's keys)"
)


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 300, **extra}


def config_error(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        TokenVerifier.from_env(environ)
    # One message, with no chained exception that a traceback would print after it.
    assert caught.value.__cause__ is None
    return str(caught.value)


async def test_secret_key() -> None:
    verifier = TokenVerifier.from_env({"JWT_SECRET_KEY": SECRET})
    assert isinstance(verifier.keys, SecretKey)
    assert verifier.keys.algorithm == "HS256"
    assert (await verifier.verify(SecretKey(SECRET).encode(claims())))["sub"] == "alice"
    assert verifier.rules.issuers is None
    assert verifier.rules.audiences is None
    assert verifier.rules.leeway == 30


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, NOT_SET),
        ({"JWT_SECRET_KEY": ""}, NOT_SET),
        (
            {"JWT_PREVIOUS_SECRET_KEY": PREVIOUS},
            NOT_SET,
        ),
        (
            {"JWT_SECRET_KEY": SHORT},
            "JWT_SECRET_KEY: an HS256 secret needs at least 32 bytes (RFC 7518 §3.2), this one has 25",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "HS512"},
            "JWT_SECRET_KEY: an HS512 secret needs at least 64 bytes (RFC 7518 §3.2), this one has 38",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_PREVIOUS_SECRET_KEY": SHORT},
            "JWT_PREVIOUS_SECRET_KEY: an HS256 secret needs at least 32 bytes (RFC 7518 §3.2), this one has 25",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_PREVIOUS_SECRET_KEY": SECRET},
            "JWT_PREVIOUS_SECRET_KEY is the same as JWT_SECRET_KEY",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "RS256"},
            "JWT_ALGORITHM 'RS256' does not go with JWT_SECRET_KEY (use HS256, HS384 or HS512),"
            " or set JWT_PUBLIC_KEY_PATH for an asymmetric key",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "none"},
            "JWT_ALGORITHM 'none' does not go with JWT_SECRET_KEY (use HS256, HS384 or HS512),"
            " or set JWT_PUBLIC_KEY_PATH for an asymmetric key",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_PUBLIC_KEY_PATH": "/etc/jwt/public.pem"},
            "set either JWT_SECRET_KEY or JWT_PUBLIC_KEY_PATH, not both",
        ),
        (
            {"JWT_SECRET_KEY": SECRET, "JWT_JWKS_URL": "https://idp.example.com/jwks"},
            "set JWT_JWKS_URL alone, not with JWT_SECRET_KEY or JWT_PUBLIC_KEY_PATH",
        ),
        (
            {"JWT_PREVIOUS_SECRET_KEY": PREVIOUS, "JWT_JWKS_URL": "https://idp.example.com/jwks"},
            "set JWT_JWKS_URL alone, not with JWT_SECRET_KEY or JWT_PUBLIC_KEY_PATH",
        ),
        (
            {"JWT_JWKS_URL": "https://idp.example.com/jwks", "JWT_ALGORITHM": "RS256"},
            "JWT_ALGORITHM does not apply to JWT_JWKS_URL: each key of a JWK Set names its own",
        ),
        (
            {"JWT_ISSUER": "https://idp.example.com", "JWT_ALGORITHM": "RS256"},
            "JWT_ALGORITHM does not apply to JWT_ISSUER: each key of a JWK Set names its own",
        ),
        (
            {"JWT_JWKS_URL": "idp.example.com/jwks"},
            "JWT_JWKS_URL: the JWK Set url must be an https:// URL, not 'idp.example.com/jwks'",
        ),
        ({"JWT_ISSUER": "login-service"}, "JWT_ISSUER: the issuer must be an https:// URL, not 'login-service'"),
        (
            {"JWT_ISSUER": "https://a.example.com,https://b.example.com"},
            "JWT_ISSUER names several issuers: discovery needs exactly one (or set JWT_JWKS_URL, or use a"
            " MultiIssuerVerifier)",
        ),
        ({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "abc"}, "JWT_LEEWAY must be a number of seconds, not 'abc'"),
        ({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "30s"}, "JWT_LEEWAY must be a number of seconds, not '30s'"),
        ({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "-5"}, "JWT_LEEWAY must be between 0 and 3600 seconds"),
        ({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "3601"}, "JWT_LEEWAY must be between 0 and 3600 seconds"),
        ({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "nan"}, "JWT_LEEWAY must be between 0 and 3600 seconds"),
        ({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "inf"}, "JWT_LEEWAY must be between 0 and 3600 seconds"),
    ],
)
def test_bad_settings(environ: dict[str, str], message: str) -> None:
    assert config_error(environ) == message


@pytest.mark.parametrize(
    "environ",
    [
        {"JWT_SECRET_KEY": SHORT},
        {"JWT_SECRET_KEY": SHORT, "JWT_ALGORITHM": "HS384"},
        {"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "HS512"},
        {"JWT_SECRET_KEY": SECRET, "JWT_PREVIOUS_SECRET_KEY": SHORT},
        {"JWT_SECRET_KEY": SECRET, "JWT_PREVIOUS_SECRET_KEY": SECRET},
        {"JWT_SECRET_KEY": SECRET, "JWT_PUBLIC_KEY_PATH": "/etc/jwt/public.pem"},
        {"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "ES256"},
        {"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "x"},
    ],
)
def test_errors_never_echo_a_secret(environ: dict[str, str]) -> None:
    message = config_error(environ)
    for secret in (SECRET, SHORT, PREVIOUS):
        assert secret not in message
        assert secret[:12] not in message


def test_secret_that_is_really_a_pem_key() -> None:
    pem = KeyPair.generate("ES256").public_pem().decode()
    message = config_error({"JWT_SECRET_KEY": pem})
    assert message == (
        "JWT_SECRET_KEY: the secret looks like a PEM or JWK key; use PublicKey or KeyPair for asymmetric keys"
    )


@pytest.mark.parametrize(("algorithm", "length"), [("HS384", 48), ("HS512", 64), (" HS512 ", 64)])
async def test_hmac_algorithm(algorithm: str, length: int) -> None:
    secret = "x" * length
    verifier = TokenVerifier.from_env({"JWT_SECRET_KEY": secret, "JWT_ALGORITHM": algorithm})
    assert verifier.keys.algorithm == algorithm.strip()  # type: ignore[attr-defined]
    token = SecretKey(secret, algorithm=algorithm.strip()).encode(claims())
    assert (await verifier.verify(token))["sub"] == "alice"


async def test_previous_secret_is_still_accepted() -> None:
    verifier = TokenVerifier.from_env({"JWT_SECRET_KEY": SECRET, "JWT_PREVIOUS_SECRET_KEY": PREVIOUS})
    assert isinstance(verifier.keys, RotatingKeys)
    assert (await verifier.verify(SecretKey(SECRET).encode(claims(v="new"))))["v"] == "new"
    assert (await verifier.verify(SecretKey(PREVIOUS).encode(claims(v="old"))))["v"] == "old"
    with pytest.raises(InvalidSignature):
        await verifier.verify(SecretKey("z" * 32).encode(claims()))
    # Signing (for whoever mints with the same settings) uses the current secret.
    assert (await TokenVerifier(SecretKey(SECRET)).verify(verifier.keys.encode(claims())))["sub"] == "alice"


async def test_public_key_path(tmp_path: Path) -> None:
    pair = KeyPair.generate("ES384")
    path = tmp_path / "public.pem"
    path.write_bytes(pair.public_pem())
    verifier = TokenVerifier.from_env({"JWT_PUBLIC_KEY_PATH": str(path)})
    assert isinstance(verifier.keys, PublicKey)
    assert verifier.keys.algorithm == "ES384"
    assert (await verifier.verify(pair.encode(claims())))["sub"] == "alice"


async def test_public_key_path_with_algorithm(tmp_path: Path) -> None:
    pair = KeyPair.generate("PS256")
    path = tmp_path / "rsa.pem"
    path.write_bytes(pair.public_pem())
    verifier = TokenVerifier.from_env({"JWT_PUBLIC_KEY_PATH": str(path), "JWT_ALGORITHM": "PS256"})
    assert verifier.keys.algorithm == "PS256"  # type: ignore[attr-defined]
    assert (await verifier.verify(pair.encode(claims())))["sub"] == "alice"


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, {}, "JWT_PUBLIC_KEY_PATH: cannot read key file {path!r}: No such file or directory"),
        (b"garbage", {}, "JWT_PUBLIC_KEY_PATH: not a PEM public key or certificate"),
        (
            "private",
            {},
            "JWT_PUBLIC_KEY_PATH: PublicKey got a private key; use KeyPair to sign, or pass the public half",
        ),
        (
            "public",
            {"JWT_ALGORITHM": "HS256"},
            "JWT_PUBLIC_KEY_PATH: an EC key on secp256r1 cannot be used with 'HS256'",
        ),
        (
            "public",
            {"JWT_PREVIOUS_SECRET_KEY": PREVIOUS},
            "JWT_PREVIOUS_SECRET_KEY needs JWT_SECRET_KEY, not JWT_PUBLIC_KEY_PATH",
        ),
    ],
)
def test_bad_public_key_path(tmp_path: Path, content: Any, extra: dict[str, str], message: str) -> None:
    path = tmp_path / "key.pem"
    pair = KeyPair.generate("ES256")
    if content is not None:
        path.write_bytes({"private": pair.private_pem(), "public": pair.public_pem()}.get(content, content))
    assert config_error({"JWT_PUBLIC_KEY_PATH": str(path), **extra}) == message.format(path=str(path))


async def test_issuer_and_audience_lists() -> None:
    environ = {
        "JWT_SECRET_KEY": SECRET,
        "JWT_ISSUER": "https://a.example.com, https://b.example.com ,,",
        "JWT_AUDIENCE": "orders-api,billing-api",
    }
    verifier = TokenVerifier.from_env(environ)
    assert verifier.rules.issuers == {"https://a.example.com", "https://b.example.com"}
    assert verifier.rules.audiences == {"orders-api", "billing-api"}
    key = SecretKey(SECRET)
    token = key.encode(claims(iss="https://b.example.com", aud="billing-api"))
    assert (await verifier.verify(token))["aud"] == "billing-api"
    with pytest.raises(InvalidIssuer):
        await verifier.verify(key.encode(claims(iss="https://b.example.com/", aud="orders-api")))
    with pytest.raises(InvalidAudience):
        await verifier.verify(key.encode(claims(iss="https://a.example.com", aud="shipping-api")))


def test_blank_issuer_and_audience_mean_unset() -> None:
    options = verifier_options_from_env({"JWT_SECRET_KEY": SECRET, "JWT_ISSUER": " , ", "JWT_AUDIENCE": ""})
    assert set(options) == {"keys"}


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("10", 10.0), (" 2.5 ", 2.5), ("1e3", 1000.0), ("", 30)])
def test_leeway(value: str, seconds: float) -> None:
    verifier = TokenVerifier.from_env({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": value})
    assert verifier.rules.leeway == seconds


async def test_leeway_applies() -> None:
    verifier = TokenVerifier.from_env({"JWT_SECRET_KEY": SECRET, "JWT_LEEWAY": "0"})
    with pytest.raises(TokenExpired):
        await verifier.verify(SecretKey(SECRET).encode(claims(exp=int(time.time()) - 1)))


def test_keyword_options_win_over_the_environment() -> None:
    verifier = TokenVerifier.from_env(
        {"JWT_SECRET_KEY": SECRET, "JWT_ISSUER": "https://env", "JWT_LEEWAY": "10"},
        issuer="https://code",
        leeway=5,
        require=("exp", "jti"),
    )
    assert verifier.rules.issuers == {"https://code"}
    assert verifier.rules.leeway == 5
    assert verifier.rules.required == ("exp", "iss", "jti")


def test_keys_from_env_alone() -> None:
    keys = keys_from_env({"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": ""})
    assert isinstance(keys, SecretKey)
    assert keys.algorithm == "HS256"


class IdentityProvider:
    """An issuer over real HTTP: OpenID configuration and JWK Set, counting what is fetched."""

    def __init__(self, key: KeyPair) -> None:
        self.key = key
        self.issuer = ""
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.paths.append(scope["path"])
        if scope["path"] == "/.well-known/openid-configuration":
            document: dict[str, Any] = {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/keys"}
        elif scope["path"] == "/keys":
            document = {"keys": [self.key.to_jwk()]}
        else:
            await PlainTextResponse("not found", status_code=404)(scope, receive, send)
            return
        await JSONResponse(document)(scope, receive, send)


@pytest.fixture
async def idp() -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider(KeyPair.generate("ES256", kid="env-1"))
    server = Server(provider)
    provider.issuer = server.url
    assert await server.start()
    yield provider
    await server.stop()


async def test_jwks_url_over_http(idp: IdentityProvider) -> None:
    verifier = TokenVerifier.from_env(
        {"JWT_JWKS_URL": f"{idp.issuer}/keys", "JWT_ISSUER": idp.issuer, "JWT_AUDIENCE": "orders-api"}
    )
    assert isinstance(verifier.keys, JWKSResolver)
    await verifier.startup()
    try:
        token = idp.key.encode(claims(iss=idp.issuer, aud="orders-api"))
        assert (await verifier.verify(token))["sub"] == "alice"
        with pytest.raises(InvalidSignature):
            await verifier.verify(
                KeyPair.generate("ES256", kid="env-1").encode(claims(iss=idp.issuer, aud="orders-api"))
            )
    finally:
        await verifier.shutdown()
    assert idp.paths == ["/keys"]


async def test_issuer_alone_discovers_its_keys_over_http(idp: IdentityProvider) -> None:
    verifier = TokenVerifier.from_env({"JWT_ISSUER": idp.issuer, "JWT_AUDIENCE": "orders-api"})
    assert isinstance(verifier.keys, JWKSResolver)
    assert verifier.rules.issuers == {idp.issuer}

    async def whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.identity)

    app = Server(JWTAuthMiddleware(Starlette(routes=[Route("/", whoami)]), verifier=verifier), lifespan="on")
    assert await app.start()  # the middleware discovers and fetches the keys on lifespan start-up
    assert idp.paths == ["/.well-known/openid-configuration", "/keys"]
    try:
        token = idp.key.encode(claims(iss=idp.issuer, aud="orders-api"))
        other = idp.key.encode(claims(iss="https://elsewhere.example.com", aud="orders-api"))
        async with httpx.AsyncClient(base_url=app.url) as client:
            accepted = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            refused = await client.get("/", headers={"Authorization": f"Bearer {other}"})
    finally:
        await app.stop()
    assert (accepted.status_code, accepted.text) == (200, "alice")
    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token issuer is not accepted", "error": "invalid_token"}
    assert verifier.keys.url == f"{idp.issuer}/keys"
    assert idp.paths == ["/.well-known/openid-configuration", "/keys"]
