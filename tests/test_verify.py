"""TokenVerifier: strict parsing, algorithm pinning, resolvers, claim checks, and property tests.

Every rejection is asserted on the error's class *and* its fields, since a client sees
``status_code``, ``error`` and ``description`` and the log sees ``reason`` and ``claim``.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asgi_jwt import (
    AuthError,
    Claims,
    ConfigurationError,
    InvalidAlgorithm,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    KeyPair,
    KeyResolver,
    KeysUnavailable,
    MalformedToken,
    MissingClaim,
    PublicKey,
    RotatingKeys,
    SecretKey,
    TokenExpired,
    TokenNotYetValid,
    TokenVerifier,
    UnknownKey,
    VerificationKey,
    WrongTokenType,
)
from conftest import AUDIENCE, ISSUER, SECRET, Clock, TokenFactory, examples

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: Any) -> str:
    """A token segment: raw bytes as they are, anything else as compact JSON."""
    return b64(value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode())


def forge(header: Any, payload: Any, secret: bytes = SECRET.encode(), digest: str = "sha256") -> str:
    """A token signed by hand with HMAC, so odd headers and payloads still carry a valid signature."""
    signing_input = f"{part(header)}.{part(payload)}"
    signature = hmac.digest(secret, signing_input.encode(), digest)
    return f"{signing_input}.{b64(signature)}"


def resign(header: str, payload: str) -> str:
    """Sign already-encoded (possibly broken) segments, so only their encoding is at fault."""
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{b64(hmac.digest(SECRET.encode(), signing_input.encode(), 'sha256'))}"


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


async def reject(verifier: TokenVerifier, token: str, error: type[AuthError]) -> AuthError:
    """Verify ``token`` expecting exactly ``error``; return it for field checks."""
    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value.description}"
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_token"
    return caught.value


@pytest.fixture
def plain(secret_key: SecretKey, clock: Clock) -> TokenVerifier:
    """No issuer, audience or required claim: only the token's shape and signature matter."""
    return TokenVerifier(secret_key, require=(), clock=clock)


HS256 = {"alg": "HS256", "typ": "JWT"}


# ---------------------------------------------------------------------------------------------- happy path


async def test_valid_token(verifier: TokenVerifier, make_token: TokenFactory, clock: Clock) -> None:
    claims = await verifier.verify(make_token(scope="orders:read orders:write", role="admin"))
    assert isinstance(claims, Claims)
    assert claims["sub"] == claims.subject == "alice"
    assert claims.issuer == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims.expires_at == int(clock.now) + 300
    assert claims.scopes == {"orders:read", "orders:write"}
    assert claims["role"] == "admin"
    with pytest.raises(TypeError):
        claims["sub"] = "mallory"  # type: ignore[index]


# ---------------------------------------------------------------------------------------------- size and shape


class CountingResolver:
    """Wraps a resolver and counts calls: proves a rejection happened before key lookup."""

    def __init__(self, inner: KeyResolver) -> None:
        self.inner = inner
        self.calls = 0

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        self.calls += 1
        return await self.inner.resolve(header)


async def test_size_cap_before_any_decoding(secret_key: SecretKey, make_token: TokenFactory) -> None:
    counting = CountingResolver(secret_key)
    verifier = TokenVerifier(counting, require=())
    assert verifier.max_token_size == 8192
    token = make_token(padding="x" * 9000)
    assert len(token) > 9000
    error = await reject(verifier, token, MalformedToken)
    assert error.description == "Token is too large"
    assert error.reason == "malformed_token"
    # Garbage is refused for its size too, without even looking at its shape.
    error = await reject(verifier, "é" * 9000, MalformedToken)
    assert error.description == "Token is too large"
    assert counting.calls == 0


async def test_size_cap_boundary(secret_key: SecretKey) -> None:
    verifier = TokenVerifier(secret_key, require=())
    filler = 6000
    while len(token := forge(HS256, {"sub": "a", "f": "x" * filler})) < 8192:
        filler += 1
    assert len(token) == 8192
    assert (await verifier.verify(token))["sub"] == "a"
    longer = forge(HS256, {"sub": "a", "f": "x" * (filler + 1)})
    assert len(longer) > 8192
    assert (await reject(verifier, longer, MalformedToken)).description == "Token is too large"
    small = TokenVerifier(secret_key, require=(), max_token_size=8191)
    assert (await reject(small, token, MalformedToken)).description == "Token is too large"


@pytest.mark.parametrize("size", [0, 63, -1, True, 100.0, "8192"])
def test_max_token_size_must_be_a_sensible_integer(secret_key: SecretKey, size: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_token_size must be an integer of at least 64"):
        TokenVerifier(secret_key, max_token_size=size)


SHAPES: list[tuple[str, Any]] = [
    ("empty", lambda h, p, s: ""),
    ("one segment", lambda h, p, s: h),
    ("two segments", lambda h, p, s: f"{h}.{p}"),
    ("four segments", lambda h, p, s: f"{h}.{p}.{s}.{s}"),
    ("five segments", lambda h, p, s: f"{h}.{p}.{s}.{p}.{s}"),
    ("trailing dot", lambda h, p, s: f"{h}.{p}.{s}."),
    ("only dots", lambda h, p, s: ".."),
    ("empty header", lambda h, p, s: f".{p}.{s}"),
    ("padding in header", lambda h, p, s: f"{h}=.{p}.{s}"),
    ("padding in payload", lambda h, p, s: resign(h, f"{p}==")),
    ("padding in signature", lambda h, p, s: f"{h}.{p}.{s}="),
    ("standard base64 '+'", lambda h, p, s: f"{h}.{p}.+{s[1:]}"),
    ("standard base64 '/'", lambda h, p, s: resign(h, f"{p[:-1]}/")),
    ("space in payload", lambda h, p, s: resign(h, f"{p[:4]} {p[5:]}")),
    ("space", lambda h, p, s: f"{h}.{p}. {s}"),
    ("newline", lambda h, p, s: f"{h}\n.{p}.{s}"),
    ("asterisk in header", lambda h, p, s: f"*{h[1:]}.{p}.{s}"),
    (
        "impossible length",
        lambda h, p, s: f"{h}A.{p}.{s}" if len(h) % 4 == 0 else f"{h[: len(h) - len(h) % 4 + 1]}.{p}.{s}",
    ),
    ("non-ascii letter", lambda h, p, s: f"{h}.{p}.{s[:-1]}é"),
    ("non-ascii digit", lambda h, p, s: f"{h}.{p}.{s[:-1]}\u0661"),
    ("fullwidth dot", lambda h, p, s: f"{h}\uff0e{p}\uff0e{s}"),
    ("nul byte", lambda h, p, s: f"{h}.{p}.{s}\x00"),
    ("bearer prefix kept", lambda h, p, s: f"Bearer {h}.{p}.{s}"),
]


@pytest.mark.parametrize("shape", [shape for _, shape in SHAPES], ids=[name for name, _ in SHAPES])
async def test_malformed_shapes(verifier: TokenVerifier, make_token: TokenFactory, shape: Any) -> None:
    header, payload, signature = make_token().split(".")
    error = await reject(verifier, shape(header, payload, signature), MalformedToken)
    assert error.description == "Malformed token"
    assert error.reason == "malformed_token"


async def test_non_string_token_is_malformed(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    await reject(verifier, make_token().encode(), MalformedToken)  # type: ignore[arg-type]
    await reject(verifier, None, MalformedToken)  # type: ignore[arg-type]


HEADERS: list[tuple[str, bytes]] = [
    ("not json", b"not json"),
    ("invalid utf-8", b'{"alg":"HS256","x":"\xff"}'),
    ("utf-8 bom", b'\xef\xbb\xbf{"alg":"HS256"}'),
    ("json array", b'["HS256"]'),
    ("json string", b'"HS256"'),
    ("json number", b"256"),
    ("json null", b"null"),
    ("alg missing", b'{"typ":"JWT"}'),
    ("alg null", b'{"alg":null}'),
    ("alg number", b'{"alg":256}'),
    ("alg list", b'{"alg":["HS256"]}'),
    ("alg object", b'{"alg":{"name":"HS256"}}'),
    ("NaN constant", b'{"alg":"HS256","x":NaN}'),
    ("deeply nested", b'{"alg":"HS256","x":' + b"[" * 2000 + b"]" * 2000 + b"}"),
    ("trailing garbage", b'{"alg":"HS256"}x'),
    ("empty", b""),
]


@pytest.mark.parametrize("header", [header for _, header in HEADERS], ids=[name for name, _ in HEADERS])
async def test_bad_headers_are_malformed(secret_key: SecretKey, header: bytes) -> None:
    counting = CountingResolver(secret_key)
    verifier = TokenVerifier(counting, require=())
    error = await reject(verifier, forge(header, {"sub": "a"}), MalformedToken)
    assert error.description == "Malformed token"
    assert counting.calls == 0


async def test_crit_header_is_rejected(plain: TokenVerifier) -> None:
    for crit in (["exp"], [], "b64", None):
        error = await reject(plain, forge({**HS256, "crit": crit}, {"sub": "a"}), MalformedToken)
        assert error.description == "Token uses unsupported critical header parameters"


PAYLOADS: list[tuple[str, bytes]] = [
    ("json array", b'[{"sub":"a"}]'),
    ("json string", b'"sub"'),
    ("json number", b"1"),
    ("json null", b"null"),
    ("json true", b"true"),
    ("not json", b"sub=a"),
    ("empty", b""),
    ("invalid utf-8", b'{"sub":"\xc3\x28"}'),
    ("NaN exp", b'{"exp":NaN}'),
    ("Infinity exp", b'{"exp":Infinity}'),
    ("-Infinity nbf", b'{"nbf":-Infinity}'),
    ("single quotes", b"{'exp':1}"),
    ("deeply nested claim", b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}"),
    ("deeply nested objects", b'{"a":' * 1000 + b"1" + b"}" * 1000),
]


@pytest.mark.parametrize("payload", [payload for _, payload in PAYLOADS], ids=[name for name, _ in PAYLOADS])
async def test_bad_payloads_are_malformed(plain: TokenVerifier, payload: bytes) -> None:
    error = await reject(plain, forge(HS256, payload), MalformedToken)
    assert error.description == "Malformed token"


async def test_recursion_bomb_is_malformed(secret_key: SecretKey) -> None:
    """``"[" * 100000``: json raises RecursionError, which must become a 401, not a 500."""
    verifier = TokenVerifier(secret_key, require=(), max_token_size=1_000_000)
    for bomb in (b"[" * 100_000, b'{"a":' * 50_000, b'{"exp":' + b"[" * 100_000):
        await reject(verifier, forge(HS256, bomb), MalformedToken)
        await reject(verifier, forge(bomb, {"sub": "a"}), MalformedToken)


# ---------------------------------------------------------------------------------------------- claim types


NOW_PLUS = 10**9 * 3  # comfortably in the future for the exp rows


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value",
    [
        "1700000000",
        None,
        [1700000000],
        {"seconds": 1},
        True,
        False,
        "",
        2**63,
        -(2**63),
        10**30,
    ],
    ids=repr,
)
async def test_numeric_dates_of_the_wrong_type(plain: TokenVerifier, claim: str, value: Any) -> None:
    payload = {"exp": NOW_PLUS, claim: value}
    error = await reject(plain, forge(HS256, payload), InvalidClaim)
    assert isinstance(error, InvalidClaim)
    assert error.claim == claim
    assert error.description == f"Token has an invalid '{claim}' claim"
    assert error.reason == "invalid_claim"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"1E+999"])
async def test_overflowing_number_literal_is_an_invalid_claim(plain: TokenVerifier, claim: str, literal: bytes) -> None:
    # json reads 1e400 as float("inf"): not a NumericDate.
    error = await reject(plain, forge(HS256, b'{"%s":%s}' % (claim.encode(), literal)), InvalidClaim)
    assert error.claim == claim  # type: ignore[attr-defined]


async def test_huge_integer_exp_is_rejected_not_crashed(plain: TokenVerifier) -> None:
    # 5000 digits: Python 3.11+ refuses to parse it (int max str digits), 3.10 parses then range-checks.
    with pytest.raises((MalformedToken, InvalidClaim)):
        await plain.verify(forge(HS256, b'{"exp":' + b"9" * 5000 + b"}"))


@pytest.mark.parametrize("claim", ["sub", "iss", "jti"])
@pytest.mark.parametrize("value", [123, None, ["alice"], {"id": "alice"}, True], ids=repr)
async def test_string_claims_of_the_wrong_type(plain: TokenVerifier, claim: str, value: Any) -> None:
    error = await reject(plain, forge(HS256, {claim: value}), InvalidClaim)
    assert error.claim == claim  # type: ignore[attr-defined]


async def test_numeric_dates_may_be_floats(verifier: TokenVerifier, make_token: TokenFactory, clock: Clock) -> None:
    claims = await verifier.verify(make_token(exp=clock.now + 0.5, iat=clock.now - 0.25, nbf=clock.now))
    assert claims["exp"] == clock.now + 0.5


# ---------------------------------------------------------------------------------------------- required claims


async def test_exp_is_required_by_default(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    error = await reject(verifier, make_token(exp=None), MissingClaim)
    assert error.claim == "exp"  # type: ignore[attr-defined]
    assert error.description == "Token is missing the 'exp' claim"
    assert error.reason == "missing_claim"


async def test_require_can_be_lifted_or_changed(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    no_exp = make_token(exp=None, aud=None)
    assert (await TokenVerifier(secret_key, require=(), clock=clock).verify(no_exp))["sub"] == "alice"
    jti_only = TokenVerifier(secret_key, require=("jti",), clock=clock)
    error = await reject(jti_only, no_exp, MissingClaim)
    assert error.claim == "jti"  # type: ignore[attr-defined]
    assert (await jti_only.verify(make_token(exp=None, aud=None, jti="abc")))["jti"] == "abc"


@pytest.mark.parametrize(("claim", "options"), [("iss", {"issuer": ISSUER}), ("aud", {"audience": AUDIENCE})])
async def test_issuer_and_audience_make_their_claim_required(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory, claim: str, options: dict[str, str]
) -> None:
    verifier = TokenVerifier(secret_key, require=(), clock=clock, **options)  # type: ignore[arg-type]
    error = await reject(verifier, make_token(**{claim: None}), MissingClaim)
    assert error.claim == claim  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(300, True), (0, True), (-10, True), (-29, True), (-30, False), (-31, False), (-3600, False)],
)
async def test_exp_with_default_leeway(
    verifier: TokenVerifier, make_token: TokenFactory, clock: Clock, offset: int, accepted: bool
) -> None:
    token = make_token(exp=int(clock.now) + offset)
    clock.now = int(clock.now)
    if accepted:
        assert (await verifier.verify(token))["sub"] == "alice"
    else:
        error = await reject(verifier, token, TokenExpired)
        assert error.description == "Token has expired"
        assert error.reason == "token_expired"


async def test_exp_with_zero_leeway(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    clock.now = 1_800_000_000
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, leeway=0, clock=clock)
    assert (await verifier.verify(make_token(exp=clock.now + 1)))["sub"] == "alice"
    await reject(verifier, make_token(exp=clock.now), TokenExpired)
    await reject(verifier, make_token(exp=clock.now - 1), TokenExpired)


async def test_a_token_expires_while_in_use(verifier: TokenVerifier, make_token: TokenFactory, clock: Clock) -> None:
    token = make_token(exp=int(clock.now) + 60)
    assert (await verifier.verify(token))["sub"] == "alice"
    clock.now += 60 + 30 + 1
    await reject(verifier, token, TokenExpired)


@pytest.mark.parametrize(("offset", "accepted"), [(10, True), (30, True), (31, False), (3600, False)])
async def test_nbf(
    verifier: TokenVerifier, make_token: TokenFactory, clock: Clock, offset: int, accepted: bool
) -> None:
    clock.now = int(clock.now)
    token = make_token(nbf=int(clock.now) + offset)
    if accepted:
        assert (await verifier.verify(token))["sub"] == "alice"
    else:
        error = await reject(verifier, token, TokenNotYetValid)
        assert error.description == "Token is not yet valid"
        assert error.reason == "token_not_yet_valid"


@pytest.mark.parametrize(("offset", "accepted"), [(-86400, True), (10, True), (30, True), (31, False)])
async def test_iat_in_the_future(
    verifier: TokenVerifier, make_token: TokenFactory, clock: Clock, offset: int, accepted: bool
) -> None:
    clock.now = int(clock.now)
    token = make_token(iat=int(clock.now) + offset)
    if accepted:
        assert (await verifier.verify(token))["sub"] == "alice"
    else:
        error = await reject(verifier, token, TokenNotYetValid)
        assert error.description == "Token was issued in the future"


@pytest.mark.parametrize("leeway", [-1, 3601, True, "30", None, float("nan")])
def test_leeway_must_be_sensible(secret_key: SecretKey, leeway: Any) -> None:
    with pytest.raises(ConfigurationError, match="leeway must be a number of seconds between 0 and 3600"):
        TokenVerifier(secret_key, leeway=leeway)


# ---------------------------------------------------------------------------------------------- iss / aud


@pytest.mark.parametrize(
    ("iss", "accepted"),
    [
        (ISSUER, True),
        (ISSUER + "/", False),
        (ISSUER.upper(), False),
        (" " + ISSUER, False),
        ("https://evil.example.com", False),
        ("", False),
    ],
)
async def test_issuer_exact_match(verifier: TokenVerifier, make_token: TokenFactory, iss: str, accepted: bool) -> None:
    if accepted:
        assert (await verifier.verify(make_token(iss=iss)))["iss"] == iss
    else:
        error = await reject(verifier, make_token(iss=iss), InvalidIssuer)
        assert error.description == "Token issuer is not accepted"
        assert error.reason == "invalid_issuer"


async def test_several_issuers(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    issuers = ["https://a.example.com", "https://b.example.com/"]
    verifier = TokenVerifier(secret_key, issuer=issuers, audience=AUDIENCE, clock=clock)
    for iss in issuers:
        assert (await verifier.verify(make_token(iss=iss)))["iss"] == iss
    await reject(verifier, make_token(iss="https://b.example.com"), InvalidIssuer)
    await reject(verifier, make_token(iss=ISSUER), InvalidIssuer)


@pytest.mark.parametrize(
    ("aud", "accepted"),
    [
        (AUDIENCE, True),
        ([AUDIENCE], True),
        (["other-api", AUDIENCE], True),
        ("other-api", False),
        (["other-api", "third-api"], False),
        (AUDIENCE.upper(), False),
        (AUDIENCE + " ", False),
    ],
)
async def test_audience(verifier: TokenVerifier, make_token: TokenFactory, aud: Any, accepted: bool) -> None:
    if accepted:
        assert (await verifier.verify(make_token(aud=aud)))["aud"] == aud
    else:
        error = await reject(verifier, make_token(aud=aud), InvalidAudience)
        assert error.description == "Token audience is not accepted"
        assert error.reason == "invalid_audience"


async def test_several_audiences(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=("orders-api", "billing-api"), clock=clock)
    assert (await verifier.verify(make_token(aud="billing-api")))["aud"] == "billing-api"
    assert (await verifier.verify(make_token(aud=["x", "orders-api"])))["aud"] == ["x", "orders-api"]
    await reject(verifier, make_token(aud="shipping-api"), InvalidAudience)


async def test_token_with_audience_needs_a_verifier_with_one(plain: TokenVerifier) -> None:
    """RFC 7519 §4.1.3: a token meant for someone must be rejected by a verifier that is nobody."""
    await reject(plain, forge(HS256, {"aud": "orders-api"}), InvalidAudience)
    await reject(plain, forge(HS256, {"aud": ["orders-api"]}), InvalidAudience)


@pytest.mark.parametrize("aud", [[AUDIENCE, 1], [None], [], 7, None, {"aud": AUDIENCE}, [[AUDIENCE]], True])
async def test_audience_of_the_wrong_type(verifier: TokenVerifier, clock: Clock, aud: Any) -> None:
    payload = {"sub": "alice", "iss": ISSUER, "aud": aud, "exp": int(clock.now) + 60}
    error = await reject(verifier, forge(HS256, payload), InvalidClaim)
    assert error.claim == "aud"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("option", "value"),
    [("issuer", ""), ("issuer", []), ("issuer", [ISSUER, 7]), ("audience", ""), ("audience", ["a", ""])],
)
def test_issuer_and_audience_settings_are_checked(secret_key: SecretKey, option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"{option} must be a non-empty string or a list"):
        TokenVerifier(secret_key, **{option: value})


# ---------------------------------------------------------------------------------------------- token type


@pytest.mark.parametrize(
    "marker", [{"type": "refresh"}, {"type": "REFRESH"}, {"token_type": "Refresh"}, {"token_type": "refresh"}]
)
async def test_refresh_tokens_are_rejected(verifier: TokenVerifier, make_token: TokenFactory, marker: Any) -> None:
    error = await reject(verifier, make_token(**marker), WrongTokenType)
    assert error.description == "Refresh tokens cannot be used for access"
    assert error.reason == "wrong_token_type"


@pytest.mark.parametrize("marker", [{"type": "access"}, {"token_type": "Bearer"}, {"type": 1}])
async def test_other_type_claims_pass(verifier: TokenVerifier, make_token: TokenFactory, marker: Any) -> None:
    assert (await verifier.verify(make_token(**marker)))["sub"] == "alice"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "application/AT+JWT", None])
async def test_access_token_typ_headers_are_accepted(verifier: TokenVerifier, clock: Clock, typ: str | None) -> None:
    header = {"alg": "HS256"} if typ is None else {"alg": "HS256", "typ": typ}
    token = forge(header, {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60})
    assert (await verifier.verify(token))["sub"] == "alice"


@pytest.mark.parametrize("typ", ["refresh+jwt", "JOSE", "JWS", "id_token+jwt", "", "application/jwt", 1, ["JWT"]])
async def test_other_typ_headers_are_rejected(verifier: TokenVerifier, clock: Clock, typ: Any) -> None:
    token = forge({"alg": "HS256", "typ": typ}, {"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": clock.now + 60})
    error = await reject(verifier, token, WrongTokenType)
    assert error.description == "Token type is not accepted here"


async def test_require_at_jwt(secret_key: SecretKey, clock: Clock, make_token: TokenFactory) -> None:
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, require_at_jwt=True, clock=clock)
    for typ in ("at+jwt", "application/at+jwt", "AT+JWT"):
        assert (await verifier.verify(make_token(headers={"typ": typ})))["sub"] == "alice"
    error = await reject(verifier, make_token(headers={"typ": "JWT"}), WrongTokenType)
    assert error.description == "Token type is not accepted here"
    untyped = forge({"alg": "HS256"}, {"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": clock.now + 60})
    error = await reject(verifier, untyped, WrongTokenType)
    assert error.description == "Token must have the at+jwt type"


# ---------------------------------------------------------------------------------------------- algorithms (RFC 8725)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
async def test_alg_none_is_rejected(verifier: TokenVerifier, clock: Clock, alg: str, signature: str) -> None:
    payload = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 300}
    token = f"{part({'alg': alg, 'typ': 'JWT'})}.{part(payload)}.{signature}"
    error = await reject(verifier, token, InvalidAlgorithm)
    assert error.description == "Token algorithm is not accepted"
    assert error.reason == "invalid_algorithm"


@pytest.fixture(scope="module")
def rsa_pair() -> KeyPair:
    return KeyPair.generate("RS256")


def _claims(clock: Clock) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(clock.now) + 300}


async def test_hmac_signed_with_the_public_key_is_rejected(rsa_pair: KeyPair, clock: Clock) -> None:
    """The classic confusion: the attacker HMACs with the public PEM the server publishes."""
    pem = rsa_pair.public_pem()
    token = forge({"alg": "HS256", "typ": "JWT"}, _claims(clock), secret=pem)
    for keys in (PublicKey(pem), rsa_pair, RotatingKeys(PublicKey(pem, kid="r"), PublicKey(pem, algorithm="PS256"))):
        error = await reject(TokenVerifier(keys, clock=clock), token, InvalidAlgorithm)
        assert error.description == "Token algorithm is not accepted"
    # ... and the same with the JWK JSON as the secret.
    jwk_secret = json.dumps(rsa_pair.to_jwk()).encode()
    await reject(TokenVerifier(PublicKey(pem), clock=clock), forge(HS256, _claims(clock), jwk_secret), InvalidAlgorithm)


async def test_rs256_key_rejects_other_rsa_algorithms(rsa_pair: KeyPair, clock: Clock) -> None:
    verifier = TokenVerifier(PublicKey(rsa_pair.public_pem()), clock=clock)
    assert (await verifier.verify(rsa_pair.encode(_claims(clock))))["sub"] == "alice"
    for alg in ("RS384", "RS512", "PS256"):
        token = jwt.encode(_claims(clock), rsa_pair.private_key, algorithm=alg)
        await reject(verifier, token, InvalidAlgorithm)


async def test_ec_token_against_hmac_verifier(verifier: TokenVerifier, clock: Clock) -> None:
    token = KeyPair.generate("ES256").encode({"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": clock.now + 60})
    await reject(verifier, token, InvalidAlgorithm)


async def test_header_keys_are_never_trusted(verifier: TokenVerifier, clock: Clock) -> None:
    """jwk / jku / x5u in the header name the attacker's key: the configured key decides."""
    attacker = KeyPair.generate("ES256")
    claims = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 60}
    for extra in ({"jwk": attacker.to_jwk()}, {"jku": "https://evil.example/jwks"}, {"x5u": "https://evil.example/c"}):
        token = forge({**HS256, **extra}, claims, secret=b"attacker-secret-" * 4)
        error = await reject(verifier, token, InvalidSignature)
        assert error.description == "Invalid token signature"
        assert error.reason == "invalid_signature"


# ---------------------------------------------------------------------------------------------- signatures


async def test_wrong_secret(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    await reject(verifier, make_token(key=SecretKey("another-secret-that-is-long-enough!!")), InvalidSignature)


async def test_signature_from_another_token(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    alice = make_token(sub="alice")
    bob = make_token(sub="bob")
    spliced = ".".join([*bob.split(".")[:2], alice.split(".")[2]])
    await reject(verifier, spliced, InvalidSignature)


@pytest.mark.parametrize("cut", [1, 2, 3, 43])
async def test_truncated_signature(verifier: TokenVerifier, make_token: TokenFactory, cut: int) -> None:
    token = make_token()
    with pytest.raises((InvalidSignature, MalformedToken)):
        await verifier.verify(token[:-cut])


@pytest.mark.parametrize("segment", [1, 2])
async def test_non_canonical_base64_is_malformed(
    verifier: TokenVerifier, make_token: TokenFactory, segment: int
) -> None:
    """Regression: the unused low bits of the last character used to be ignored, so each token had
    several spellings that all verified (and slipped past anything keyed by the token string)."""
    token = make_token(pad="ab")  # a payload whose base64 ends with a partial quantum
    parts = token.split(".")
    assert len(parts[segment]) % 4 in (2, 3)
    last = ALPHABET.index(parts[segment][-1])
    spare = 0x0F if len(parts[segment]) % 4 == 2 else 0x03
    assert last & spare == 0
    for bits in range(1, spare + 1):
        mutated = [*parts]
        mutated[segment] = parts[segment][:-1] + ALPHABET[last | bits]
        # Same bytes once decoded leniently: only strict decoding tells the spellings apart.
        assert base64.urlsafe_b64decode(mutated[segment] + "==") == base64.urlsafe_b64decode(parts[segment] + "==")
        with pytest.raises((MalformedToken, InvalidSignature)):
            await verifier.verify(".".join(mutated))
    assert (await verifier.verify(token))["sub"] == "alice"


async def test_non_canonical_signature_is_malformed_even_when_it_would_verify(
    plain: TokenVerifier,
) -> None:
    token = forge(HS256, {"sub": "a"})
    header, payload, signature = token.split(".")
    assert len(signature) == 43  # 32 bytes: two spare bits in the last character
    last = ALPHABET.index(signature[-1])
    for bits in (1, 2, 3):
        mutated = f"{header}.{payload}.{signature[:-1]}{ALPHABET[last ^ bits]}"
        error = await reject(plain, mutated, MalformedToken)
        assert error.description == "Malformed token"


# ---------------------------------------------------------------------------------------------- rotation


async def test_rotation_end_to_end(clock: Clock) -> None:
    current = SecretKey("c" * 32, kid="2025")
    previous = SecretKey("p" * 32, kid="2024")
    retired = SecretKey("r" * 32, kid="2023")
    verifier = TokenVerifier(RotatingKeys(current, previous), clock=clock)
    claims = _claims(clock)
    assert (await verifier.verify(current.encode(claims)))["sub"] == "alice"
    assert (await verifier.verify(previous.encode(claims)))["sub"] == "alice"
    assert (await verifier.verify(RotatingKeys(current, previous).encode(claims)))["sub"] == "alice"
    # The retired key's kid names nothing any more.
    error = await reject(verifier, retired.encode(claims), UnknownKey)
    assert error.description == "Token signing key is not recognised"
    assert error.reason == "unknown_key"
    # After the next rotation the previous key is gone too.
    rotated = TokenVerifier(RotatingKeys(SecretKey("n" * 32, kid="2026"), current), clock=clock)
    await reject(rotated, previous.encode(claims), UnknownKey)
    assert (await rotated.verify(current.encode(claims)))["sub"] == "alice"


async def test_rotation_without_kids(clock: Clock) -> None:
    current, previous, removed = SecretKey("c" * 32), SecretKey("p" * 32), SecretKey("r" * 32)
    verifier = TokenVerifier(RotatingKeys(current, previous), clock=clock)
    assert (await verifier.verify(current.encode(_claims(clock))))["sub"] == "alice"
    assert (await verifier.verify(previous.encode(_claims(clock))))["sub"] == "alice"
    await reject(verifier, removed.encode(_claims(clock)), InvalidSignature)
    await reject(TokenVerifier(RotatingKeys(current), clock=clock), previous.encode(_claims(clock)), InvalidSignature)


async def test_unknown_kid_falls_back_to_keys_without_kid_only(clock: Clock) -> None:
    named = SecretKey("n" * 32, kid="named")
    unnamed = SecretKey("u" * 32)
    verifier = TokenVerifier(RotatingKeys(named, unnamed), clock=clock)
    # Signed by the unnamed key, with a kid nobody has: the unnamed key is tried, and verifies.
    assert (await verifier.verify(unnamed.encode(_claims(clock), headers={"kid": "elsewhere"})))["sub"] == "alice"
    # Signed by the named key but claiming another kid: the named key is NOT tried.
    token = forge({**HS256, "kid": "elsewhere"}, _claims(clock), secret=b"n" * 32)
    await reject(verifier, token, InvalidSignature)
    assert (await verifier.verify(named.encode(_claims(clock))))["sub"] == "alice"


# ---------------------------------------------------------------------------------------------- custom resolvers


class VaultResolver:
    """Keys from a "vault" (a dict here), by kid. Inherits from nothing of ours."""

    def __init__(self, secrets: dict[str, bytes]) -> None:
        self._keys = {kid: VerificationKey("HS512", secret, kid) for kid, secret in secrets.items()}
        self.lookups: list[Any] = []

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        self.lookups.append(header.get("kid"))
        key = self._keys.get(header.get("kid"))  # type: ignore[arg-type]
        if key is None:
            raise UnknownKey()
        return [key]


async def test_custom_resolver(clock: Clock) -> None:
    vault = VaultResolver({"v1": b"1" * 64, "v2": b"2" * 64})
    assert isinstance(vault, KeyResolver)
    verifier = TokenVerifier(vault, clock=clock)
    token = SecretKey(b"2" * 64, algorithm="HS512", kid="v2").encode(_claims(clock))
    assert (await verifier.verify(token))["sub"] == "alice"
    await reject(verifier, SecretKey(b"1" * 64, algorithm="HS512", kid="v2").encode(_claims(clock)), InvalidSignature)
    await reject(verifier, SecretKey(b"3" * 64, algorithm="HS512", kid="v3").encode(_claims(clock)), UnknownKey)
    await reject(verifier, SecretKey(b"1" * 64, kid="v1").encode(_claims(clock)), InvalidAlgorithm)
    assert "v3" in vault.lookups


class BrokenResolver:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        raise self.exc


@pytest.mark.parametrize(
    "exc",
    [RuntimeError("vault sealed: token=abc"), OSError("connection refused"), KeyError("kid"), TimeoutError()],
    ids=lambda exc: type(exc).__name__,
)
async def test_resolver_failure_is_keys_unavailable(
    exc: Exception, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = TokenVerifier(BrokenResolver(exc))
    token = make_token()
    with caplog.at_level(logging.WARNING, logger="asgi_jwt"), pytest.raises(KeysUnavailable) as caught:
        await verifier.verify(token)
    error = caught.value
    assert (error.status_code, error.error, error.reason) == (503, None, "keys_unavailable")
    assert error.description == "Authentication keys are temporarily unavailable"
    assert error.retry_after == 30
    assert error.__cause__ is exc
    (record,) = [record for record in caplog.records if record.name == "asgi_jwt"]
    assert record.getMessage() == f"key resolver BrokenResolver failed: {type(exc).__name__}"
    assert token not in caplog.text
    assert "abc" not in caplog.text  # the exception's own text may hold secrets: never logged


@pytest.mark.parametrize("exc", [UnknownKey(), KeysUnavailable(retry_after=5), MalformedToken("Bad kid")])
async def test_resolver_auth_errors_pass_through(exc: AuthError, make_token: TokenFactory) -> None:
    with pytest.raises(AuthError) as caught:
        await TokenVerifier(BrokenResolver(exc)).verify(make_token())
    assert caught.value is exc


async def test_a_sync_resolver_is_an_outage_not_a_crash(make_token: TokenFactory, secret_key: SecretKey) -> None:
    class SyncResolver:
        def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
            return secret_key.verification_keys

    with pytest.raises(KeysUnavailable):
        await TokenVerifier(SyncResolver()).verify(make_token())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "returned",
    [None, 42, "HS256", [b"a-raw-secret-of-thirty-two-bytes!"], [None], {"kid": "k1"}],
    ids=["None", "int", "str", "raw-bytes", "list-of-None", "dict"],
)
async def test_a_resolver_returning_no_keys_is_an_outage_not_a_crash(
    returned: Any, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A resolver that breaks the protocol is a bug in it, answered 503 and logged, never a 500."""

    class WrongResolver:
        async def resolve(self, header: Mapping[str, Any]) -> Any:
            return returned

    with caplog.at_level(logging.ERROR, logger="asgi_jwt"), pytest.raises(KeysUnavailable) as caught:
        await TokenVerifier(WrongResolver()).verify(make_token())
    assert caught.value.status_code == 503
    assert "key resolver WrongResolver returned" in caplog.text


@pytest.mark.parametrize("keys", ["secret", b"s" * 32, None, object()])
def test_verifier_needs_a_resolver(keys: Any) -> None:
    with pytest.raises(ConfigurationError, match="keys must be a key resolver"):
        TokenVerifier(keys)


def test_repr_names_the_rules_not_the_secret(secret_key: SecretKey) -> None:
    text = repr(TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE))
    assert text.startswith("TokenVerifier(SecretKey(algorithm='HS256', kid=None), issuer=frozenset({")
    assert SECRET not in text


# ---------------------------------------------------------------------------------------------- properties

PROPERTY_SETTINGS = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PROPERTY_VERIFIER = TokenVerifier(SecretKey(SECRET), require=(), max_token_size=4096)


def outcome(token: Any) -> Claims | AuthError:
    """The claims, or the AuthError; anything else escapes and fails the test."""
    try:
        return run(PROPERTY_VERIFIER.verify(token))  # type: ignore[no-any-return]
    except AuthError as error:
        return error


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    assert not isinstance(outcome(text), Claims)


@PROPERTY_SETTINGS
@given(st.text(alphabet=ALPHABET + ".=+/ ", max_size=200))
def test_arbitrary_token_shaped_text_never_crashes(text: str) -> None:
    assert not isinstance(outcome(text), Claims)


@PROPERTY_SETTINGS
@given(st.binary(max_size=200), st.binary(max_size=200), st.binary(max_size=80))
def test_arbitrary_segments_never_crash(header: bytes, payload: bytes, signature: bytes) -> None:
    outcome(f"{b64(header)}.{b64(payload)}.{b64(signature)}")
    # ... and with a valid signature, so the payload parsing and claim checks are reached.
    result = outcome(forge(HS256, payload))
    assert isinstance(result, Claims | AuthError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
CLAIM_NAMES = st.sampled_from(["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "type", "token_type", "scope"])


@PROPERTY_SETTINGS
@given(
    st.dictionaries(st.sampled_from(["kid", "typ", "crit", "cty", "x"]), JSON, max_size=3),
    st.dictionaries(CLAIM_NAMES | st.text(max_size=8), JSON, max_size=6),
)
def test_signed_arbitrary_json_never_crashes(header: dict[str, Any], payload: dict[str, Any]) -> None:
    result = outcome(forge({**header, "alg": "HS256"}, payload))
    if isinstance(result, Claims):
        assert dict(result) == payload


@pytest.fixture(scope="module")
def good_token() -> str:
    return SecretKey(SECRET).encode({"sub": "alice", "exp": 4_000_000_000, "scope": "orders:read"})


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_single_changed_character_never_verifies(good_token: str, data: st.DataObject) -> None:
    assert isinstance(outcome(good_token), Claims)  # verified (and possibly cached) first
    position = data.draw(st.integers(min_value=0, max_value=len(good_token) - 1), label="position")
    replacement = data.draw(st.sampled_from(ALPHABET + "."), label="replacement")
    if good_token[position] == replacement:
        replacement = "A" if replacement != "A" else "B"
    mutated = good_token[:position] + replacement + good_token[position + 1 :]
    result = outcome(mutated)
    assert isinstance(result, AuthError), f"{mutated!r} verified"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutations_of_signature_or_payload_never_verify(good_token: str, data: st.DataObject) -> None:
    header, payload, signature = good_token.split(".")
    which = data.draw(st.sampled_from(["payload", "signature"]))
    segment = payload if which == "payload" else signature
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(segment) - 1), st.sampled_from(ALPHABET)), min_size=1))
    mutated = list(segment)
    for position, char in edits:
        mutated[position] = char
    new = "".join(mutated)
    assume(new != segment)
    token = f"{header}.{new}.{signature}" if which == "payload" else f"{header}.{payload}.{new}"
    assert isinstance(outcome(token), AuthError)
