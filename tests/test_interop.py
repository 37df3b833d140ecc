"""Interoperability: tokens minted, and JWKs exported, by other JOSE implementations.

joserfc and python-jose each sign tokens for every algorithm they support that we
support; their public keys, exported in their own JWK form, go through ``JWKSet``
and through ``JWKSResolver`` (served as a JWK Set). Each token verifies, and its
tampered copies fail. HMAC tokens, which no JWK Set may carry, verify through
``SecretKey``.
"""

from __future__ import annotations

import base64
import functools
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk as jose_jwk
from jose import jwt as jose_jwt
from joserfc import jwt as joserfc_jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from asgi_jwt import InvalidSignature, JWKSet, SecretKey, TokenVerifier
from conftest import AUDIENCE, ISSUER, SECRET, Clock
from jwks_support import FakeIdP, claims_for, resolver

JOSERFC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
PYTHON_JOSE_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

Minted = tuple[dict[str, Any], Callable[[dict[str, Any]], str]]  # (public JWK, sign(claims) -> token)


@functools.cache
def _joserfc_rsa() -> RSAKey:
    return RSAKey.generate_key(2048)


@functools.cache
def _joserfc(algorithm: str, curve: str = "Ed25519") -> Minted:
    """A public JWK as joserfc exports it, and a signer; the ``kid`` names the library and algorithm."""
    key: Any
    if algorithm[:2] in ("RS", "PS"):
        key = _joserfc_rsa()
    elif algorithm == "EdDSA":
        key = OKPKey.generate_key(curve)
    else:
        key = ECKey.generate_key(_CURVES[algorithm])
    kid = f"joserfc-{algorithm}-{curve}" if algorithm == "EdDSA" else f"joserfc-{algorithm}"
    public = {**key.as_dict(private=False), "kid": kid, "alg": algorithm}

    def sign(claims: dict[str, Any]) -> str:
        with warnings.catch_warnings():  # joserfc prefers RFC 9864's "Ed25519"/"Ed448" to "EdDSA" now
            warnings.simplefilter("ignore", SecurityWarning)
            return joserfc_jwt.encode({"alg": algorithm, "kid": kid}, claims, key, algorithms=[algorithm])

    return public, sign


@functools.cache
def _python_jose_rsa() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _NO_ENCRYPTION)


_NO_ENCRYPTION = serialization.NoEncryption()


@functools.cache
def _python_jose(algorithm: str) -> Minted:
    if algorithm.startswith("RS"):
        pem = _python_jose_rsa()
    else:
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[algorithm]
        pem = ec.generate_private_key(curve).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _NO_ENCRYPTION
        )
    kid = f"python-jose-{algorithm}"
    public = {**jose_jwk.construct(pem, algorithm).public_key().to_dict(), "kid": kid}

    def sign(claims: dict[str, Any]) -> str:
        return str(jose_jwt.encode(claims, pem, algorithm=algorithm, headers={"kid": kid}))

    return public, sign


def _cases() -> dict[str, Callable[[], Minted]]:
    cases: dict[str, Callable[[], Minted]] = {}
    for algorithm in JOSERFC_ALGORITHMS:
        cases[f"joserfc-{algorithm}"] = functools.partial(_joserfc, algorithm)
    cases["joserfc-EdDSA-Ed448"] = functools.partial(_joserfc, "EdDSA", "Ed448")
    for algorithm in PYTHON_JOSE_ALGORITHMS:
        cases[f"python-jose-{algorithm}"] = functools.partial(_python_jose, algorithm)
    return cases


MAKERS = _cases()


@pytest.fixture(scope="module")
def everyone() -> list[Minted]:
    return [make() for make in MAKERS.values()]


def _flip_a_bit(signature: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def _tampered(token: str, sign: Callable[[dict[str, Any]], str], now: float) -> list[str]:
    """The signature over another payload, and the signature with one bit flipped."""
    header, payload, signature = token.split(".")
    other_payload = sign(claims_for(now, sub="admin")).split(".")[1]
    return [f"{header}.{other_payload}.{signature}", f"{header}.{payload}.{_flip_a_bit(signature)}"]


@pytest.mark.parametrize("case", MAKERS)
async def test_their_tokens_verify_through_a_jwk_set(case: str, everyone: list[Minted], clock: Clock) -> None:
    public, sign = MAKERS[case]()
    key_set = JWKSet({"keys": [jwk for jwk, _ in everyone]})  # their exports, as they write them
    assert public["kid"] in key_set
    verifier = TokenVerifier(key_set, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    token = sign(claims_for(clock.now))
    claims = await verifier.verify(token)
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("alice", ISSUER, AUDIENCE)
    for tampered in _tampered(token, sign, clock.now):
        with pytest.raises(InvalidSignature) as caught:
            await verifier.verify(tampered)
        assert caught.value.description == "Invalid token signature"


async def test_their_tokens_verify_through_a_remote_jwk_set(everyone: list[Minted], clock: Clock) -> None:
    idp = FakeIdP({"keys": [jwk for jwk, _ in everyone]})
    keys = resolver(idp, clock)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    for case, make in MAKERS.items():
        _, sign = make()
        token = sign(claims_for(clock.now))
        assert (await verifier.verify(token))["sub"] == "alice", case
        for tampered in _tampered(token, sign, clock.now):
            with pytest.raises(InvalidSignature):
                await verifier.verify(tampered)
    assert idp.fetches == 1
    assert keys.key_set is not None
    assert len(keys.key_set.kids) == len(MAKERS)


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
async def test_their_hmac_tokens_verify_through_a_secret_key(algorithm: str, clock: Clock) -> None:
    secret = SECRET * 2  # long enough for HS512 too
    verifier = TokenVerifier(SecretKey(secret, algorithm=algorithm), issuer=ISSUER, audience=AUDIENCE, clock=clock)
    key = OctKey.import_key(secret)
    tokens = [
        joserfc_jwt.encode({"alg": algorithm}, claims_for(clock.now), key, algorithms=[algorithm]),
        str(jose_jwt.encode(claims_for(clock.now), secret, algorithm=algorithm)),
    ]
    for token in tokens:
        assert (await verifier.verify(token))["sub"] == "alice"
        header, payload, signature = token.split(".")
        with pytest.raises(InvalidSignature):
            await verifier.verify(f"{header}.{payload}.{_flip_a_bit(signature)}")
