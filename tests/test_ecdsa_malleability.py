"""ECDSA signatures have two valid spellings: ``(r, s)`` and ``(r, n - s)``.

RFC 7518 §3.4 does not ask for "low S", and issuers produce either half the
time, so both are accepted. What keeps that harmless: nothing here is keyed on the
token string for security. The second spelling verifies to the same claims, the
verified-token cache keyed by the string only saves work (each spelling is one
more entry within the same bound, and each is checked for time and keys on every
hit), and revocation keys on the ``jti`` claim. Any other change to the signature,
such as ``s + n``, is refused: a token has exactly two spellings, never more.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from asgi_jwt import InvalidSignature, KeyPair, PublicKey, TokenExpired, TokenVerifier
from conftest import AUDIENCE, ISSUER, Clock

# The order n of each curve's base point (SEC 2), and the length of r and of s in the JWS signature.
CURVES = {
    "ES256": (0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551, 32),
    "ES384": (
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
        48,
    ),
    "ES512": (
        int(
            "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
        66,
    ),
}


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _respell(token: str, algorithm: str, change: Any) -> str:
    """The token with its signature's ``(r, s)`` replaced by ``change(r, s, n)``."""
    order, size = CURVES[algorithm]
    head, signature = token.rsplit(".", 1)
    raw = _b64decode(signature)
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    new_r, new_s = change(r, s, order)
    return f"{head}.{_b64encode(new_r.to_bytes(size, 'big') + new_s.to_bytes(size, 'big'))}"


def _verifier(pair: KeyPair, clock: Clock, **options: Any) -> TokenVerifier:
    keys = PublicKey(pair.public_pem())
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock, **options)


def _token(pair: KeyPair, clock: Clock) -> str:
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "jti": "j-1", "exp": int(clock.now) + 300}
    return pair.encode(claims)


def test_the_curve_orders_are_right() -> None:
    for algorithm, curve in (("ES256", ec.SECP256R1()), ("ES384", ec.SECP384R1()), ("ES512", ec.SECP521R1())):
        pair = KeyPair.generate(algorithm)
        assert isinstance(pair.private_key, ec.EllipticCurvePrivateKey)
        assert pair.private_key.curve.name == curve.name
        assert CURVES[algorithm][0].bit_length() == curve.key_size


@pytest.mark.parametrize("algorithm", CURVES)
async def test_the_high_s_spelling_verifies_to_the_same_claims(algorithm: str, clock: Clock) -> None:
    pair = KeyPair.generate(algorithm)
    token = _token(pair, clock)
    twin = _respell(token, algorithm, lambda r, s, n: (r, n - s))
    assert twin != token
    for cache_size in (0, 10):
        verifier = _verifier(pair, clock, cache_size=cache_size)
        first, second = await verifier.verify(token), await verifier.verify(twin)
        assert first == second
        assert (second["sub"], second["jti"]) == ("alice", "j-1")  # revocation by jti catches both spellings


@pytest.mark.parametrize("algorithm", CURVES)
async def test_no_third_spelling(algorithm: str, clock: Clock) -> None:
    pair = KeyPair.generate(algorithm)
    token = _token(pair, clock)
    verifier = _verifier(pair, clock)
    order, size = CURVES[algorithm]
    changes = [
        lambda r, s, n: (r, s + n),  # out of range: 0 < s < n (where it still fits the field)
        lambda r, s, n: (r + n, s),
        lambda r, s, n: (n - r, s),
        lambda r, s, n: (r, 0),
        lambda r, s, n: (0, s),
    ]
    raw = _b64decode(token.rsplit(".", 1)[1])
    signed = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    tried = 0
    for change in changes:
        r, s = change(*signed, order)
        if r.bit_length() > size * 8 or s.bit_length() > size * 8:
            continue  # does not fit the fixed-length encoding at all (P-256, P-384 mostly)
        tried += 1
        with pytest.raises(InvalidSignature):
            await verifier.verify(_respell(token, algorithm, change))
    assert tried >= 3
    if algorithm == "ES512":
        assert tried == len(changes)  # P-521's 66 bytes leave room for s + n and r + n: both refused


async def test_both_spellings_leave_the_cache_together(clock: Clock) -> None:
    pair = KeyPair.generate("ES256")
    token = _token(pair, clock)
    twin = _respell(token, "ES256", lambda r, s, n: (r, n - s))
    verifier = _verifier(pair, clock, cache_size=1)
    await verifier.verify(token)
    await verifier.verify(twin)
    assert verifier.cache is not None
    assert len(verifier.cache) == 1  # the second spelling takes a slot within the bound, never beyond it
    assert verifier.cached(twin) is not None
    clock.now += 400  # past exp and the leeway: neither spelling is served
    for spelling in (twin, token):
        with pytest.raises(TokenExpired):
            await verifier.verify(spelling)
    assert len(verifier.cache) == 0
