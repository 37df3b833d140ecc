"""Key material from outside: oddly shaped members of a JWK Set, a JWK's "alg", a JWKS URL."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_jwt import ConfigurationError, JWKSet, JWKSResolver, KeyPair, PublicKey, TokenVerifier
from conftest import AUDIENCE, ISSUER, Clock

GOOD = KeyPair.generate("RS256", kid="good")


@pytest.mark.parametrize(
    "bad",
    [
        {"kty": ["RSA"], "kid": "bad"},
        {"kty": {"RSA": 1}, "kid": "bad"},
        {**KeyPair.generate("RS256").to_jwk(), "kid": "bad", "alg": ["RS256"]},
        {**KeyPair.generate("RS256").to_jwk(), "kid": "bad", "alg": {}},
        {**KeyPair.generate("ES256").to_jwk(), "kid": "bad", "alg": ""},
    ],
    ids=["kty-list", "kty-object", "alg-list", "alg-object", "alg-empty"],
)
async def test_one_oddly_shaped_key_is_skipped_not_fatal(bad: dict[str, Any], clock: Clock) -> None:
    keys = JWKSet({"keys": [GOOD.to_jwk(), bad]})
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": clock.now + 60}
    assert (await verifier.verify(GOOD.encode(claims)))["sub"] == "alice"
    assert [key.kid for key in keys.verification_keys] == ["good"]


@pytest.mark.parametrize("alg", [{}, [], "", "none", "RSA-OAEP", 5])
def test_from_jwk_refuses_an_alg_that_is_not_a_signature_algorithm(alg: Any) -> None:
    with pytest.raises(ConfigurationError, match="is not a supported signature algorithm"):
        PublicKey.from_jwk({**GOOD.to_jwk(), "alg": alg})


@pytest.mark.parametrize("url", ["https://[::1", "https://[::1/jwks.json", "https://example.com:notaport/"])
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        JWKSResolver(url)
