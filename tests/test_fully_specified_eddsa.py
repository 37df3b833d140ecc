"""RFC 9864's fully specified EdDSA names, ``Ed25519`` and ``Ed448``, beside the polymorphic ``EdDSA``.

A key is pinned to exactly one name (RFC 8725 §3.1): one pinned to ``Ed25519``
verifies tokens whose header says ``Ed25519`` and nothing else, one pinned to
``EdDSA`` (the default for Edwards keys, what most issuers still send) refuses a
header saying ``Ed25519``, though the signature bytes would be the same.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from asgi_jwt import (
    ConfigurationError,
    InvalidAlgorithm,
    JWKSet,
    KeyPair,
    PublicKey,
    TokenVerifier,
    jwk_thumbprint,
)
from conftest import AUDIENCE, ISSUER, Clock

CURVES = {"Ed25519": ed25519.Ed25519PublicKey, "Ed448": ed448.Ed448PublicKey}


def _claims(clock: Clock) -> dict[str, Any]:
    return {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(clock.now) + 300}


def _verifier(keys: Any, clock: Clock) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


@pytest.mark.parametrize("name", CURVES)
async def test_a_key_pinned_to_a_fully_specified_name_signs_and_verifies_under_it(name: str, clock: Clock) -> None:
    pair = KeyPair.generate(name)
    assert isinstance(pair.public_key.key, CURVES[name])
    token = pair.encode(_claims(clock))
    assert jwt.get_unverified_header(token) == {"alg": name, "typ": "JWT", "kid": pair.kid}
    # The signature is plain EdDSA over the signing input: what any RFC 8037 implementation checks.
    signing_input, signature = token.rsplit(".", 1)
    pair.public_key.key.verify(_b64(signature.encode()), signing_input.encode())
    for keys in (pair, PublicKey(pair.public_pem(), algorithm=name), PublicKey.from_jwk(pair.to_jwk())):
        claims = await _verifier(keys, clock).verify(token)
        assert (claims["sub"], claims["aud"]) == ("alice", AUDIENCE)


@pytest.mark.parametrize("name", CURVES)
async def test_eddsa_and_the_fully_specified_name_are_not_interchangeable(name: str, clock: Clock) -> None:
    pinned = KeyPair.generate(name, kid="k")
    polymorphic = KeyPair(pinned.private_pem(), algorithm="EdDSA", kid="k")  # the same key, the old name
    fully_specified_token = pinned.encode(_claims(clock))
    eddsa_token = polymorphic.encode(_claims(clock))
    assert (await _verifier(polymorphic, clock).verify(eddsa_token))["sub"] == "alice"
    with pytest.raises(InvalidAlgorithm):
        await _verifier(pinned, clock).verify(eddsa_token)
    with pytest.raises(InvalidAlgorithm):
        await _verifier(polymorphic, clock).verify(fully_specified_token)
    # A key read without a name stays EdDSA, as before RFC 9864.
    assert PublicKey(pinned.public_pem()).algorithm == "EdDSA"


@pytest.mark.parametrize(("name", "other"), [("Ed25519", "Ed448"), ("Ed448", "Ed25519")])
def test_a_fully_specified_name_must_be_the_keys_own_curve(name: str, other: str) -> None:
    pair = KeyPair.generate(name)
    with pytest.raises(ConfigurationError) as caught:
        PublicKey(pair.public_pem(), algorithm=other)
    assert str(caught.value) == f"an EdDSA key on {name} cannot be used with {other!r}"
    with pytest.raises(ConfigurationError) as caught:
        PublicKey.from_jwk({**pair.to_jwk(), "alg": other})
    assert str(caught.value) == f"an EdDSA key on {name} cannot be used with {other!r}"
    es256 = KeyPair.generate("ES256")
    with pytest.raises(ConfigurationError, match="an EC key on secp256r1 cannot be used with 'Ed25519'"):
        PublicKey(es256.public_pem(), algorithm="Ed25519")


async def test_a_jwk_set_pins_each_key_to_its_alg_and_skips_a_wrong_curve(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    ed25519_pair, ed448_pair = KeyPair.generate("Ed25519", kid="a"), KeyPair.generate("Ed448", kid="b")
    wrong = {**KeyPair.generate("Ed25519", kid="c").to_jwk(), "alg": "Ed448"}
    with caplog.at_level(logging.WARNING, logger="asgi_jwt.jwks"):
        key_set = JWKSet({"keys": [ed25519_pair.to_jwk(), ed448_pair.to_jwk(), wrong]})
    assert [(key.kid, key.algorithm) for key in key_set.verification_keys] == [("a", "Ed25519"), ("b", "Ed448")]
    assert "skipping key 'c': an EdDSA key on Ed25519 cannot be used with 'Ed448'" in caplog.text
    assert [jwk["alg"] for jwk in key_set.to_dict()["keys"]] == ["Ed25519", "Ed448"]
    verifier = _verifier(key_set, clock)
    for pair in (ed25519_pair, ed448_pair):
        assert (await verifier.verify(pair.encode(_claims(clock))))["sub"] == "alice"


def test_the_thumbprint_ignores_the_algorithm_name() -> None:
    # RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key; RFC 7638 leaves "alg" out of it.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    expected = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    for alg in ("Ed25519", "EdDSA", None):
        published = PublicKey.from_jwk(jwk if alg is None else {**jwk, "alg": alg})
        assert published.to_jwk()["kid"] == jwk_thumbprint(published.to_jwk()) == expected
        assert published.algorithm == (alg or "EdDSA")
