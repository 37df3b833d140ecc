"""Differential tests: our compact-JWS path never accepts what PyJWT, configured strictly, rejects.

asgi-jwt takes tokens apart itself (strict base64url, one HMAC over the original bytes,
only the payload parsed) instead of calling ``jwt.decode``. These property tests hold it
to PyJWT with the algorithm pinned, ``exp``/``iss``/``aud`` required and the same issuer,
audience and leeway: over tokens built from arbitrary headers, payloads and signatures,
and over valid tokens mutated character by character, whatever we accept PyJWT accepts,
with the same claims. (We may reject more: padded or non-canonical base64url, a
``typ`` that is not an access token, ``NaN`` anywhere, a string ``exp``.) A table of
what the RFCs require rejecting follows.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from asgi_jwt import AuthError, SecretKey, TokenExpired, TokenVerifier
from asgi_jwt._algorithms import verifier_for
from asgi_jwt._jose import STRICT_JSON, _b64decode_matched, b64decode, json_object
from asgi_jwt._text import has_lone_surrogate
from asgi_jwt.claims import ClaimRules
from conftest import AUDIENCE, ISSUER, SECRET, Clock, examples

LEEWAY = 30
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"
NOW = int(time.time())
OURS = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY, cache_size=0)
OURS_CACHED = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY)


class AskedEveryTime:
    """A resolver of the user's kind (not one of our fixed key sets): the verifier asks it for every token."""

    def __init__(self, keys: SecretKey) -> None:
        self.keys = keys

    async def resolve(self, header: Any) -> Any:
        return await self.keys.resolve(header)


class OwnRules(ClaimRules):
    """Rules replaced by a subclass: the verifier runs their public ``check``, surrogate walk and all, and every
    time check goes through ``check_times`` (an override turns the inline one off)."""

    def check_times(self, claims: Mapping[str, Any]) -> None:
        super().check_times(claims)


# The strict path, without the verifier's shortcuts: the resolver asked per token, every claim check in full.
STRICT = TokenVerifier(AskedEveryTime(SecretKey(SECRET)), cache_size=0)
STRICT.rules = OwnRules(issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY, clock=time.time)
PROPERTY = settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pyjwt_claims(token: str) -> dict[str, Any] | None:
    """PyJWT's verdict, configured like our verifier; ``None`` when it rejects."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None
    return claims


def our_claims(token: str, verifier: TokenVerifier = OURS) -> dict[str, Any] | None:
    outcome = verdict(token, verifier)
    return outcome if isinstance(outcome, dict) else None


def verdict(token: str, verifier: TokenVerifier = OURS) -> dict[str, Any] | tuple[str, str]:
    """The claims, or the refusal's type and description."""
    coroutine = verifier.verify(token)
    try:  # a static key never suspends, so the coroutine runs to its end in one step: no event loop needed
        coroutine.send(None)
    except StopIteration as done:
        return dict(done.value)
    except AuthError as error:
        return type(error).__name__, error.description
    coroutine.close()
    raise AssertionError("the verifier suspended")


def assert_never_looser(token: str) -> bool:
    """Ours accepts only what PyJWT accepts, with equal claims; returns whether ours accepted."""
    ours = our_claims(token)
    if ours is not None:
        assert pyjwt_claims(token) == ours, token
    cached = our_claims(token, OURS_CACHED)
    assert cached == ours, token  # the cache changes nothing about the verdict
    assert verdict(token) == verdict(token, STRICT), token  # nor do the shortcuts: the same claims or error
    return ours is not None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: bytes, payload: bytes, secret: str = SECRET) -> str:
    return sign_text(b64(header), b64(payload), secret)


def sign_text(header: str, payload: str, secret: str = SECRET) -> str:
    """Sign the two segments exactly as written, canonical or not."""
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{b64(hmac.digest(secret.encode(), signing_input.encode(), hashlib.sha256))}"


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def other_spelling(segment: str) -> str:
    """The same bytes with a non-zero unused bit in the last character (when it has unused bits)."""
    if len(segment) % 4 == 0:
        return segment + "A"  # no unused bits: one character too many instead
    return segment[:-1] + ALPHABET[ALPHABET.index(segment[-1]) ^ 1]


def respell(segment: str, how: str) -> str:
    return {
        "padded": segment + "=" * (-len(segment) % 4 or 4),
        "unused bits": other_spelling(segment),
        "standard alphabet": segment.replace("-", "+").replace("_", "/"),
        "empty": "",
    }[how]


def as_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# Strategies -----------------------------------------------------------------------------------------

# Times far enough from every boundary (now ± leeway) that the few milliseconds between
# our check and PyJWT's cannot change either verdict.
offsets = st.integers(min_value=-(10**7), max_value=10**7).filter(
    lambda offset: abs(offset - LEEWAY) > 5 and abs(offset + LEEWAY) > 5
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
times = st.one_of(
    offsets.map(lambda offset: NOW + offset),
    offsets.map(lambda offset: NOW + offset + 0.5),
    offsets.map(lambda offset: str(NOW + offset)),  # PyJWT takes numeric strings; we never do
    st.just(True),
    st.none(),
    json_values,
)
audiences = st.one_of(
    st.just(AUDIENCE),
    st.just([AUDIENCE]),
    st.just(["other", AUDIENCE]),
    st.just([]),
    st.just(""),
    st.just([AUDIENCE, 1]),
    json_values,
)
issuers = st.sampled_from([ISSUER, ISSUER + "/", ISSUER.upper(), ""]) | json_values
MISSING = object()
CLAIM_FIELDS = ("sub", "iss", "aud", "exp", "nbf", "iat", "jti", "type", "scope", "extra")
HEADER_FIELDS = ("alg", "typ", "kid", "b64", "crit", "cty")
ENCODING_FIELDS = ("header encoding", "payload encoding", "secret", "signature text", "header text", "payload text")
SPELLINGS = ["padded", "unused bits", "standard alphabet", "empty"]
FIELDS = CLAIM_FIELDS + HEADER_FIELDS + ENCODING_FIELDS


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(MISSING), strategy)


# For each field: the value of a valid token, and what a perturbed one may hold instead.
CLAIM_CHOICES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "sub": ("alice", maybe(json_values)),
    "iss": (ISSUER, maybe(issuers)),
    "aud": (AUDIENCE, maybe(audiences)),
    "exp": (NOW + 3600, maybe(times)),
    "nbf": (MISSING, times),
    "iat": (MISSING, times),
    "jti": (MISSING, st.text(max_size=8) | json_values),
    "type": (MISSING, st.sampled_from(["access", "refresh", "Refresh"])),
    "scope": ("orders:read", maybe(st.text(max_size=20) | json_values)),
}
HEADER_CHOICES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "alg": ("HS256", maybe(st.sampled_from(["HS384", "none", "RS256", "hs256", ""]) | json_values)),
    "typ": ("JWT", maybe(st.sampled_from(["jwt", "at+jwt", "application/at+jwt", "JOSE", ""]) | json_values)),
    "kid": (MISSING, st.sampled_from([None, "key-1", 1, ["key-1"]])),
    "b64": (MISSING, st.booleans() | json_values),
    "crit": (MISSING, st.just(["b64"]) | st.just(["exp"]) | json_values),
    "cty": (MISSING, st.just("JWT") | json_values),
}


def fill(draw: st.DrawFn, fields: dict[str, tuple[Any, st.SearchStrategy[Any]]], changed: set[str]) -> dict[str, Any]:
    values = {name: draw(strategy) if name in changed else usual for name, (usual, strategy) in fields.items()}
    return {name: value for name, value in values.items() if value is not MISSING}


@st.composite
def tokens(draw: st.DrawFn) -> str:
    """A token near validity: a few of its fields (or, sometimes, all) drawn from what can go wrong."""
    changed = set(draw(st.lists(st.sampled_from(FIELDS), max_size=3)))
    if draw(st.booleans()) and draw(st.booleans()):
        changed = set(FIELDS)
    claims = fill(draw, CLAIM_CHOICES, changed)
    if "extra" in changed:
        claims.update(draw(st.dictionaries(st.text(max_size=5), json_values, max_size=2)))
    payload = json.dumps(claims).encode()  # NaN and Infinity come out as bare words
    if "payload encoding" in changed:
        payload = draw(
            st.sampled_from(
                [
                    payload[:-1] + b',"exp":' + as_json(NOW + 3600) + b"}" if claims else payload,  # a repeated name
                    b"\xef\xbb\xbf" + payload,  # a UTF-8 byte order mark
                    json.dumps(claims).encode("utf-16"),  # json.loads(bytes) would detect this one
                    as_json([claims]),
                ]
            )
            | st.binary(max_size=40)
        )
    header = json.dumps(fill(draw, HEADER_CHOICES, changed)).encode()
    if "header encoding" in changed:
        header = draw(
            st.sampled_from([as_json([json.loads(header)]), b"\xef\xbb\xbf" + header]) | st.binary(max_size=20)
        )
    head, body = b64(header), b64(payload)
    if "header text" in changed:  # another spelling of the same header, signed as written
        head = respell(head, draw(st.sampled_from(SPELLINGS)))
    if "payload text" in changed:
        body = respell(body, draw(st.sampled_from(SPELLINGS)))
    token = sign_text(head, body, OTHER_SECRET if "secret" in changed else SECRET)
    if "signature text" in changed:
        head, body, signature = token.split(".")
        token = ".".join([head, body, respell(signature, draw(st.sampled_from(SPELLINGS)))])
    return token


VALID_CLAIMS = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": NOW, "exp": NOW + 3600, "scope": "a b"}
VALID = sign(as_json({"alg": "HS256", "typ": "JWT"}), as_json(VALID_CLAIMS))
MUTATION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. \t%é\x00"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    token = VALID
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(token)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "duplicate", "swap"]))
        character = draw(st.sampled_from(MUTATION_ALPHABET))
        if kind == "replace" and position < len(token):
            token = token[:position] + character + token[position + 1 :]
        elif kind == "insert":
            token = token[:position] + character + token[position:]
        elif kind == "delete" and position < len(token):
            token = token[:position] + token[position + 1 :]
        elif kind == "duplicate":
            token = token[:position] + token[position:] + token[position:]
        elif kind == "swap" and position + 1 < len(token):
            token = token[:position] + token[position + 1] + token[position] + token[position + 2 :]
    return token


# Properties ------------------------------------------------------------------------------------------


def test_a_well_formed_token_is_accepted_by_both_with_the_same_claims() -> None:
    assert assert_never_looser(VALID)
    assert our_claims(VALID) == pyjwt_claims(VALID) == VALID_CLAIMS


@PROPERTY
@given(token=tokens())
def test_tokens_from_arbitrary_headers_payloads_and_signatures(token: str) -> None:
    event("accepted" if assert_never_looser(token) else "rejected")


@PROPERTY
@given(token=mutated())
def test_mutated_tokens(token: str) -> None:
    if assert_never_looser(token):  # the HMAC covers every byte and base64url has one spelling
        assert token == VALID


@PROPERTY
@given(text=st.text(max_size=80) | st.text(alphabet=MUTATION_ALPHABET, max_size=400))
def test_arbitrary_strings(text: str) -> None:
    assert not assert_never_looser(text)


@settings(max_examples=examples(200), deadline=None)
@given(claims=st.fixed_dictionaries({}, optional={"sub": st.text(max_size=10), "jti": st.text(max_size=10)}))
def test_valid_tokens_with_varied_claims_are_accepted_by_both(claims: dict[str, str]) -> None:
    token = sign(as_json({"alg": "HS256", "typ": "JWT"}), as_json({**VALID_CLAIMS, **claims}))
    assert assert_never_looser(token)


@PROPERTY
@given(
    claims=st.dictionaries(st.sampled_from(["sub", "jti", "name", "typ", "type", "token_use"]), json_scalars),
    escaped=st.booleans(),
)
def test_claims_as_raw_utf8_or_escaped_get_the_strict_paths_verdict(claims: dict[str, Any], escaped: bool) -> None:
    """Text claims written as UTF-8 (no backslash: the surrogate walk is skipped) or as \\u escapes."""
    try:
        payload = json.dumps({**VALID_CLAIMS, **claims}, ensure_ascii=escaped, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: only its escape can carry it
        payload = as_json({**VALID_CLAIMS, **claims})
    token = sign(as_json({"alg": "HS256", "typ": "JWT"}), payload)
    assert verdict(token) == verdict(token, STRICT)
    assert_never_looser(token)


@PROPERTY
@given(segment=st.text(alphabet=MUTATION_ALPHABET, max_size=40) | st.text(max_size=12))
def test_base64url_decoding_decides_as_the_strict_pattern(segment: str) -> None:
    def outcome(decode: Any) -> bytes | None:
        try:
            return decode(segment)  # type: ignore[no-any-return]
        except AuthError:
            return None

    assert outcome(b64decode) == outcome(_b64decode_matched)


@PROPERTY
@given(
    algorithm=st.sampled_from(["HS256", "HS384", "HS512"]),
    secret=st.binary(min_size=1, max_size=300),  # shorter and longer than every hash's block
    message=st.binary(max_size=600),
    flip=st.integers(min_value=-1, max_value=63),
)
def test_hmac_from_prekeyed_states_decides_as_hmac_digest(
    algorithm: str, secret: bytes, message: bytes, flip: int
) -> None:
    expected = hmac.digest(secret, message, "sha" + algorithm[2:])
    signature = expected
    if 0 <= flip < len(expected):  # one bit wrong: must be refused
        signature = expected[:flip] + bytes([expected[flip] ^ 1]) + expected[flip + 1 :]
    assert verifier_for(algorithm, secret)(message, signature) is (signature == expected)


_SIGNATURE_CHANGES = {
    "valid": lambda signature: signature,
    "one bit flipped": lambda signature: signature[:-1] + bytes([signature[-1] ^ 1]),
    "one byte short": lambda signature: signature[:-1],
    "one byte long": lambda signature: signature + b"\0",
    "empty": lambda signature: b"",
    "halves swapped": lambda signature: signature[len(signature) // 2 :] + signature[: len(signature) // 2],
}


@pytest.fixture(scope="module")
def asymmetric_keys() -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curves = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
    keys: dict[str, Any] = {name: ec.generate_private_key(curve) for name, curve in curves.items()}
    keys.update({f"{family}{bits}": rsa_key for family in ("RS", "PS") for bits in (256, 384, 512)})
    return keys


_TIMES = st.one_of(
    st.integers(min_value=NOW - 60, max_value=NOW + 60),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) + 1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.text(max_size=3),
)


@PROPERTY
@given(
    times=st.dictionaries(st.sampled_from(["exp", "iat", "nbf"]), _TIMES),
    offset=st.integers(min_value=-10, max_value=10) | st.floats(min_value=-100, max_value=100),
)
@example(times={"exp": NOW - LEEWAY, "iat": NOW}, offset=0)  # expired on the second
@example(times={"exp": NOW - LEEWAY + 1, "iat": NOW}, offset=0)
@example(times={"exp": NOW + 60, "iat": NOW + LEEWAY}, offset=0)  # issued at the edge of the leeway
@example(times={"exp": NOW + 60, "iat": NOW + LEEWAY + 1}, offset=0)
def test_the_inline_time_check_decides_as_check_times(times: dict[str, Any], offset: float) -> None:
    def outcome(rules: ClaimRules) -> str | None:
        try:
            rules.check({"iss": ISSUER, "aud": AUDIENCE, **times})
        except AuthError as error:
            return f"{type(error).__name__}: {error.description}"
        return None

    def clock() -> float:
        return NOW + offset

    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "leeway": LEEWAY, "clock": clock}
    assert outcome(ClaimRules(**options)) == outcome(OwnRules(**options))


@pytest.mark.parametrize("change", sorted(_SIGNATURE_CHANGES))
@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"])
def test_signature_checks_decide_as_pyjwts_algorithms(
    asymmetric_keys: dict[str, Any], algorithm: str, change: str
) -> None:
    """Our RSA, RSA-PSS and ECDSA checks (scheme objects built once per key) against PyJWT's own."""
    private_key = asymmetric_keys[algorithm]
    pyjwt = jwt.get_algorithm_by_name(algorithm)
    message = b"eyJhbGciOiJ4In0.eyJzdWIiOiJhbGljZSJ9"
    signature = _SIGNATURE_CHANGES[change](pyjwt.sign(message, private_key))
    expected = pyjwt.verify(message, private_key.public_key(), signature)
    assert expected is (change == "valid")
    assert verifier_for(algorithm, private_key.public_key())(message, signature) is expected
    assert verifier_for(algorithm, private_key.public_key())(message + b".", signature) is False


@PROPERTY
@given(text=st.text(max_size=40) | json_values.map(json.dumps).map(lambda text: f" {text}\n"))
def test_json_objects_are_decoded_as_the_strict_decoder_decodes_them(text: str) -> None:
    try:
        expected = STRICT_JSON.decode(text)
    except (ValueError, RecursionError):
        expected = None
    if has_lone_surrogate(text):  # no UTF-8 form: the bytes a token would carry are refused as malformed
        expected = None
    try:
        ours = json_object(text.encode("utf-8", "surrogatepass"))
    except AuthError:
        ours = None
    assert ours == (expected if isinstance(expected, dict) else None)


# What the RFCs require rejecting -----------------------------------------------------------------------

HEADER = b64(as_json({"alg": "HS256", "typ": "JWT"}))
PAYLOAD = b64(as_json(VALID_CLAIMS))
SIGNATURE = VALID.rsplit(".", 1)[1]


def signed(header: Any, payload: Any) -> str:
    raw_header = header if isinstance(header, bytes) else as_json(header)
    raw_payload = payload if isinstance(payload, bytes) else as_json(payload)
    return sign(raw_header, raw_payload)


def _with_urlsafe_characters() -> str:
    """A valid token whose base64url text uses ``-`` or ``_`` (so the standard alphabet differs)."""
    for number in range(1000):
        token = signed({"alg": "HS256"}, {**VALID_CLAIMS, "jti": str(number)})
        if "-" in token or "_" in token:
            return token
    raise AssertionError("no token with - or _ in 1000 tries")


URLSAFE_ONLY = _with_urlsafe_characters()

REJECTED = {
    "two segments": f"{HEADER}.{PAYLOAD}",
    "four segments": f"{VALID}.{SIGNATURE}",
    "an empty signature": f"{HEADER}.{PAYLOAD}.",
    "padding": f"{HEADER}.{PAYLOAD}.{SIGNATURE}=",
    "the standard alphabet": URLSAFE_ONLY.replace("-", "+").replace("_", "/"),
    "whitespace inside": f"{HEADER}.{PAYLOAD[:10]} {PAYLOAD[10:]}.{SIGNATURE}",
    "non-canonical signature": f"{HEADER}.{PAYLOAD}.{other_spelling(SIGNATURE)}",
    "non-canonical header, signed as written": sign_text(other_spelling(HEADER), PAYLOAD),
    "non-canonical payload, signed as written": sign_text(HEADER, other_spelling(PAYLOAD)),
    "a JSON array payload": signed({"alg": "HS256"}, [VALID_CLAIMS]),
    "a JSON string header": signed(b'"HS256"', VALID_CLAIMS),
    "invalid UTF-8": signed({"alg": "HS256"}, b'{"sub":"\xff"}'),
    "a UTF-16 payload": signed({"alg": "HS256"}, json.dumps(VALID_CLAIMS).encode("utf-16")),
    "exp as a string": signed({"alg": "HS256"}, {**VALID_CLAIMS, "exp": str(NOW + 3600)}),
    "exp as a boolean": signed({"alg": "HS256"}, {**VALID_CLAIMS, "exp": True}),
    "exp as null": signed({"alg": "HS256"}, {**VALID_CLAIMS, "exp": None}),
    "exp NaN": signed({"alg": "HS256"}, json.dumps({**VALID_CLAIMS, "exp": float("nan")}).encode()),
    "exp beyond 64 bits": signed({"alg": "HS256"}, {**VALID_CLAIMS, "exp": 2**70}),
    "no exp": signed({"alg": "HS256"}, {key: value for key, value in VALID_CLAIMS.items() if key != "exp"}),
    "alg none": signed({"alg": "none"}, VALID_CLAIMS),
    "kid null": signed({"alg": "HS256", "kid": None}, VALID_CLAIMS),
    "b64 false": signed({"alg": "HS256", "b64": False}, VALID_CLAIMS),
    "crit": signed({"alg": "HS256", "crit": ["exp"], "exp": 1}, VALID_CLAIMS),
    "a refresh token": signed({"alg": "HS256"}, {**VALID_CLAIMS, "type": "refresh"}),
}


@pytest.mark.parametrize("token", REJECTED.values(), ids=REJECTED.keys())
def test_what_the_rfcs_require_rejecting_is_rejected(token: str) -> None:
    assert our_claims(token) is None


def test_a_fractional_exp_counts_from_its_whole_second_as_pyjwt_does(clock: Clock) -> None:
    """PyJWT compares ``int(exp)``: a token with exp T + 0.5 is expired from T (plus leeway) on."""
    clock.now = float(NOW)
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, leeway=0, clock=clock)
    token = signed({"alg": "HS256"}, {**VALID_CLAIMS, "iat": NOW - 60, "exp": NOW + 0.5})
    with pytest.raises(TokenExpired):
        asyncio.run(verifier.verify(token))
    clock.now = NOW - 0.25
    assert asyncio.run(verifier.verify(token))["exp"] == NOW + 0.5
