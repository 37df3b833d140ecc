"""The installed ``asgi-jwt`` console script, run as a subprocess, as users run it.

Remote keys come from a real uvicorn server on 127.0.0.1 serving a JWK Set and an
OpenID discovery document. Every run checks the contract: no traceback ever, and
an error is exactly one line on stderr.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWKSEndpoint, KeyPair, PublicKey, SecretKey, TokenVerifier, jwk_thumbprint
from asgi_jwt.cli import duration
from live_server import serve

SCRIPT = Path(sys.executable).parent / "asgi-jwt"
SECRET = "a-cli-secret-that-is-long-enough-for-hs256"
SUBCOMMANDS = ("token", "decode", "verify", "keygen", "jwks")


def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"the console script is not installed at {SCRIPT} (pip install -e .)"
    environ = {name: value for name, value in os.environ.items() if not name.startswith("JWT_")}
    environ.update(env)
    result = subprocess.run(  # noqa: S603
        [str(SCRIPT), *args], input=stdin, capture_output=True, text=True, env=environ, timeout=60, check=False
    )
    assert "Traceback" not in result.stderr
    if result.returncode != 0:
        assert result.stderr.count("\n") == 1, result.stderr  # one clear line
        assert result.stdout == ""
    return result


def claims_of(token: str, key: Any = None, **options: Any) -> dict[str, Any]:
    import asyncio

    verifier = TokenVerifier(key or SecretKey(SECRET), cache_size=0, **options)
    return dict(asyncio.run(verifier.verify(token)))


def header_of(token: str) -> dict[str, Any]:
    import base64

    segment = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


# -- token -------------------------------------------------------------------------------------------------------


def test_token_from_the_environment_secret_with_every_claim_option() -> None:
    result = run(
        "token",
        "--subject",
        "analytics-service",
        "--expires-in",
        "7d",
        "--scope",
        "orders:read orders:write",
        "--role",
        "admin",
        "--role",
        "viewer",
        "--claim",
        "tenant=acme",
        "--claim",
        "level=3",
        "--claim",
        'tags=["a", "b"]',
        "--issuer",
        "https://auth.example.com",
        "--audience",
        "orders-api",
        "--kid",
        "2026-12",
        JWT_SECRET_KEY=SECRET,
    )
    assert result.returncode == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    claims = claims_of(
        token, SecretKey(SECRET, kid="2026-12"), issuer="https://auth.example.com", audience="orders-api"
    )
    assert claims["sub"] == "analytics-service"
    assert claims["scope"] == "orders:read orders:write"
    assert claims["roles"] == ["admin", "viewer"]
    assert (claims["tenant"], claims["level"], claims["tags"]) == ("acme", 3, ["a", "b"])
    assert abs(claims["exp"] - (time.time() + 7 * 86400)) < 120
    assert header_of(token) == {"alg": "HS256", "typ": "at+jwt", "kid": "2026-12"}
    assert len(claims["jti"]) == 22


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600s", 3600),
        ("30m", 1800),
        ("24h", 86400),
        ("30d", 2592000),
        ("4w", 2419200),
        ("90", 90),
        ("never", math.inf),
    ],
)
def test_expires_in_units(text: str, seconds: float) -> None:
    assert duration(text) == seconds


def test_expires_in_sets_exp() -> None:
    claims = claims_of(run("token", "--secret", SECRET, "--expires-in", "30m").stdout.strip())
    assert claims["exp"] - claims["iat"] == 1800


def test_expires_in_never_leaves_exp_out() -> None:
    token = run("token", "--secret", SECRET, "--expires-in", "never").stdout.strip()
    claims = claims_of(token, require=())
    assert "exp" not in claims
    assert claims["sub"] == "client"


def test_a_refresh_token_is_not_an_access_token() -> None:
    token = run("token", "--type", "refresh", "--subject", "alice", JWT_SECRET_KEY=SECRET).stdout.strip()
    assert header_of(token)["typ"] == "rt+jwt"
    times = json.loads(run("decode", token).stdout)["times"]
    assert times["exp"].endswith("(in 14 d)")
    refused = run("verify", token, JWT_SECRET_KEY=SECRET)
    assert refused.stderr == "asgi-jwt verify: wrong_token_type: Token type is not accepted here\n"
    never = run("token", "--type", "refresh", "--expires-in", "never", JWT_SECRET_KEY=SECRET)
    assert never.returncode == 1
    assert "a refresh token always expires" in never.stderr


def test_token_without_any_secret_is_a_configuration_error() -> None:
    result = run("token")
    assert result.returncode == 1
    assert result.stderr.startswith("asgi-jwt token: no key: pass --secret or --key-file, or set JWT_SECRET_KEY")


def test_a_short_secret_is_refused_without_showing_it() -> None:
    result = run("token", JWT_SECRET_KEY="too-short-for-hs256")
    assert result.returncode == 1
    assert "JWT_SECRET_KEY: an HS256 secret needs at least 32 bytes" in result.stderr
    assert "too-short" not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["token", "--expires-in", "soon"], "'soon' is not a duration"),
        (["token", "--claim", "novalue"], "'novalue' is not key=value"),
        (["token", "--claim", "exp=1"], "the 'exp' claim is set by asgi-jwt itself"),
        (["token", "--secret", SECRET, "--key-file", "k.pem"], "not allowed with argument"),
        (["token", "--type", "id"], "invalid choice: 'id'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["decode"], "the following arguments are required: token"),
        (["keygen", "--algorithm", "none"], "invalid choice: 'none'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(arguments: list[str], message: str) -> None:
    result = run(*arguments, JWT_SECRET_KEY=SECRET)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.rstrip().endswith("--help)")


def test_no_subcommand_shows_the_help_and_exits_2() -> None:
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert result.returncode == 2
    assert all(name in result.stderr for name in SUBCOMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_every_subcommand_help_shows_an_example(subcommand: str) -> None:
    result = run(subcommand, "--help")
    assert result.returncode == 0
    assert re.search(rf"\nexample:\n(  .*\n)*  asgi-jwt {subcommand} ", result.stdout)


# -- decode ------------------------------------------------------------------------------------------------------


def test_decode_reads_stdin_and_shows_times_with_a_loud_warning() -> None:
    token = run("token", "--secret", SECRET, "--expires-in", "23h", "--audience", "orders-api").stdout
    result = run("decode", "-", stdin=f"Bearer {token}")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["header"] == {"alg": "HS256", "typ": "at+jwt"}
    assert document["claims"]["aud"] == "orders-api"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 23 h\)", document["times"]["exp"])
    assert re.fullmatch(r".*Z \((now|\d+ s ago)\)", document["times"]["iat"])
    assert "NOTHING WAS VERIFIED" in result.stderr


def test_decode_says_when_a_time_has_passed() -> None:
    now = int(time.time())
    token = SecretKey(SECRET).encode({"sub": "x", "iat": now - 4 * 86400, "exp": now - 3 * 86400})
    times = json.loads(run("decode", token).stdout)["times"]
    assert times["exp"].endswith("(3 d ago)")
    assert times["iat"].endswith("(4 d ago)")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-token", "a signed token has 3 dot-separated parts, this one has 1"),
        ("e30.bm90IGpzb24.sig", "the claims is not base64url-encoded JSON"),
        ("W10.e30.sig", "the header is not a JSON object"),
    ],
)
def test_decode_of_something_that_is_not_a_jwt(token: str, message: str) -> None:
    result = run("decode", token)
    assert result.returncode == 1
    assert result.stderr == f"asgi-jwt decode: not a JWT: {message}\n"


def test_decode_of_empty_stdin() -> None:
    result = run("decode", "-", stdin="\n")
    assert result.returncode == 1
    assert result.stderr == "asgi-jwt decode: no token given on stdin\n"


# -- verify ------------------------------------------------------------------------------------------------------


def test_verify_prints_the_claims_of_a_good_token() -> None:
    token = run("token", "--secret", SECRET, "--subject", "svc", "--audience", "orders-api").stdout.strip()
    result = run("verify", "--audience", "orders-api", token, JWT_SECRET_KEY=SECRET)
    assert result.returncode == 0
    assert json.loads(result.stdout)["sub"] == "svc"


@pytest.mark.parametrize(
    ("claims", "arguments", "reason"),
    [
        ({"exp": -600}, [], "token_expired: Token has expired"),
        ({"nbf": 3600}, [], "token_not_yet_valid: Token is not yet valid"),
        ({"aud": "billing"}, ["--audience", "orders-api"], "invalid_audience: Token audience is not accepted"),
        ({"aud": "billing"}, [], "invalid_audience: Token audience is not accepted (the token names an audience"),
        ({"iss": "https://evil.example"}, ["--issuer", "https://auth.example.com"], "invalid_issuer"),
        ({"exp": None}, [], "missing_claim: Token is missing the 'exp' claim"),
    ],
)
def test_verify_gives_the_precise_reason(claims: dict[str, Any], arguments: list[str], reason: str) -> None:
    now = int(time.time())
    payload = {"sub": "x", "iat": now, "exp": now + 300}
    payload.update({name: now + value if name in ("exp", "nbf") and value else value for name, value in claims.items()})
    token = SecretKey(SECRET).encode({name: value for name, value in payload.items() if value is not None})
    result = run("verify", "--leeway", "0", *arguments, token, JWT_SECRET_KEY=SECRET)
    assert result.returncode == 1
    assert result.stderr.startswith(f"asgi-jwt verify: {reason}")


def test_verify_with_the_wrong_secret_and_with_garbage() -> None:
    token = SecretKey("some-other-secret-that-is-long-enough-too").encode({"sub": "x", "exp": time.time() + 60})
    assert run("verify", "--secret", SECRET, token).stderr == (
        "asgi-jwt verify: invalid_signature: Invalid token signature\n"
    )
    assert run("verify", "--secret", SECRET, "a.b").stderr == "asgi-jwt verify: malformed_token: Malformed token\n"


def test_verify_without_any_key() -> None:
    result = run("verify", "a.b.c")
    assert result.returncode == 1
    assert "no key: pass --secret, --key-file, --jwks-url or --issuer" in result.stderr


# -- keys: keygen, jwks, key files, remote JWK Sets over HTTP ----------------------------------------------------


def test_keygen_secret_is_long_enough_for_its_algorithm() -> None:
    for algorithm, length in (("HS256", 43), ("HS384", 64), ("HS512", 86)):
        secret = run("keygen", "--algorithm", algorithm).stdout.strip()
        assert len(secret) == length
        SecretKey(secret, algorithm=algorithm)
    assert run("keygen").stdout.strip() != run("keygen").stdout.strip()


def test_keygen_out_writes_a_secret_file_0600(tmp_path: Path) -> None:
    result = run("keygen", "--algorithm", "HS512", "--out", str(tmp_path))
    assert result.stdout == ""
    path = tmp_path / "jwt-secret.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    SecretKey(path.read_text().strip(), algorithm="HS512")
    assert path.read_text().strip() not in result.stderr


def test_keygen_out_writes_a_private_key_0600_and_a_jwks_with_thumbprint_kids(tmp_path: Path) -> None:
    result = run("keygen", "--algorithm", "ES256", "--out", str(tmp_path / "keys"))
    assert result.returncode == 0
    keys = tmp_path / "keys"
    assert stat.S_IMODE((keys / "private.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((keys / "public.pem").stat().st_mode) & 0o077 != 0o077
    jwks = json.loads((keys / "jwks.json").read_text())
    public = PublicKey((keys / "public.pem").read_bytes())
    (jwk,) = jwks["keys"]
    assert jwk["kid"] == jwk_thumbprint(jwk) == public.to_jwk()["kid"]
    assert (jwk["alg"], jwk["use"], "d" in jwk) == ("ES256", "sig", False)
    assert "wrote" in result.stderr
    again = run("keygen", "--algorithm", "ES256", "--out", str(keys))
    assert again.returncode == 1
    assert "private.pem already exists: not overwritten" in again.stderr


def test_keygen_eddsa_prints_the_pair_and_the_jwks() -> None:
    output = run("keygen", "--algorithm", "EdDSA").stdout
    private, rest = output.split("-----END PRIVATE KEY-----\n")
    pair = KeyPair(private + "-----END PRIVATE KEY-----\n")
    public_pem, jwks = rest.split("-----END PUBLIC KEY-----\n")
    assert PublicKey(public_pem + "-----END PUBLIC KEY-----\n").to_jwk() == json.loads(jwks)["keys"][0]
    assert pair.to_jwk()["crv"] == "Ed25519"


def test_jwks_of_several_pem_files(tmp_path: Path) -> None:
    run("keygen", "--algorithm", "RS256", "--out", str(tmp_path / "new"))
    run("keygen", "--algorithm", "ES256", "--out", str(tmp_path / "old"))
    result = run("jwks", str(tmp_path / "new" / "private.pem"), str(tmp_path / "old" / "public.pem"))
    document = json.loads(result.stdout)
    assert [jwk["kty"] for jwk in document["keys"]] == ["RSA", "EC"]
    assert all(set(jwk) >= {"kid", "alg", "use"} and "d" not in jwk for jwk in document["keys"])
    assert document["keys"][1] == json.loads((tmp_path / "old" / "jwks.json").read_text())["keys"][0]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file or directory"), ("not a key", "not a PEM public key or certificate")],
)
def test_jwks_of_a_bad_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_text(content)
    result = run("jwks", str(path))
    assert result.returncode == 1
    assert message in result.stderr


def test_token_signed_with_a_key_file_carries_its_thumbprint(tmp_path: Path) -> None:
    run("keygen", "--algorithm", "ES256", "--out", str(tmp_path))
    token = run("token", "--key-file", str(tmp_path / "private.pem"), "--subject", "svc").stdout.strip()
    kid = json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["kid"]
    assert header_of(token) == {"alg": "ES256", "typ": "at+jwt", "kid": kid}
    verified = run("verify", "--key-file", str(tmp_path / "public.pem"), token)
    assert json.loads(verified.stdout)["sub"] == "svc"
    public_only = run("token", "--key-file", str(tmp_path / "public.pem"))
    assert public_only.returncode == 1
    assert "holds a public key: signing needs the private key" in public_only.stderr


ISSUER_PATH = "/realms/main"


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[tuple[str, KeyPair]]:
    """A JWK Set and an OpenID discovery document, served over HTTP on 127.0.0.1."""
    key = KeyPair.generate("RS256")
    base: dict[str, str] = {}

    async def discovery(request: Request) -> JSONResponse:
        issuer = base["url"] + ISSUER_PATH
        return JSONResponse({"issuer": issuer, "jwks_uri": f"{issuer}/certs"})

    app = Starlette(
        routes=[
            Route(f"{ISSUER_PATH}/.well-known/openid-configuration", discovery),
            Route(f"{ISSUER_PATH}/certs", JWKSEndpoint(key)),
        ]
    )
    with serve(app) as url:
        base["url"] = url
        yield url, key


def test_verify_with_a_jwks_url_and_with_discovery(identity_provider: tuple[str, KeyPair]) -> None:
    url, key = identity_provider
    issuer = url + ISSUER_PATH
    token = key.encode({"sub": "remote", "iss": issuer, "aud": "orders-api", "exp": int(time.time()) + 300})
    by_url = run("verify", "--jwks-url", f"{issuer}/certs", "--audience", "orders-api", token)
    assert by_url.returncode == 0
    assert json.loads(by_url.stdout)["sub"] == "remote"
    discovered = run("verify", "--issuer", issuer, "--audience", "orders-api", "-", stdin=token)
    assert discovered.returncode == 0
    assert json.loads(discovered.stdout)["iss"] == issuer
    stranger = KeyPair.generate("RS256", kid="stranger").encode({"sub": "x", "exp": int(time.time()) + 60})
    refused = run("verify", "--jwks-url", f"{issuer}/certs", stranger)
    assert refused.stderr == "asgi-jwt verify: unknown_key: Token signing key is not recognised\n"


def test_verify_when_the_jwks_cannot_be_fetched(identity_provider: tuple[str, KeyPair]) -> None:
    url, _ = identity_provider
    result = run("verify", "--jwks-url", f"{url}/nowhere", "a.b.c")
    assert result.returncode == 1
    assert result.stderr == f"asgi-jwt verify: could not load the JWK Set from {url}/nowhere: HTTP status 404\n"
    wrong_issuer = run("verify", "--issuer", f"{url}/realms/other", "a.b.c")
    assert wrong_issuer.returncode == 1
    assert "discovery for the issuer" in wrong_issuer.stderr


def test_the_workflow_script_of_the_docs(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "cli_workflow.sh"
    environ = {name: value for name, value in os.environ.items() if not name.startswith("JWT_")}
    environ["PATH"] = f"{SCRIPT.parent}{os.pathsep}{environ.get('PATH', '')}"
    bash = shutil.which("bash")
    assert bash is not None, "the workflow script needs bash"
    result = subprocess.run(  # noqa: S603
        [bash, str(example)],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r'\s*"exp": "\S+Z \(in 7 d\)"', lines[1])
    assert [line.strip().rstrip(",") for line in lines[2:]] == ['"sub": "my-service"', '"aud": "orders-api"', "1"]
    assert result.stderr.splitlines()[-1] == "asgi-jwt verify: invalid_signature: Invalid token signature"
    assert stat.S_IMODE((tmp_path / "keys" / "private.pem").stat().st_mode) == 0o600
