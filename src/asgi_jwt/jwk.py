"""JSON Web Keys (RFC 7517): public keys to and from JWKs, their RFC 7638 thumbprints, and
the one rule for which JWKs may verify signatures, shared by :class:`~asgi_jwt.PublicKey`
and :class:`~asgi_jwt.JWKSet`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from asgi_jwt._algorithms import PublicKeyType
from asgi_jwt.errors import ConfigurationError

__all__ = ["jwk_thumbprint"]

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
"""RFC 7518 §6.2.2, §6.3.2, §6.4.1 and RFC 8037 §2: members only a private or symmetric key has."""
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
_LOADERS: dict[str, Any] = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding."""
    try:
        members = _THUMBPRINT_MEMBERS[jwk["kty"]]
        canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    except (KeyError, TypeError) as exc:
        raise ConfigurationError("cannot compute a thumbprint: not a public RSA, EC or OKP JWK") from exc
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def private_member(jwk: Mapping[str, Any]) -> str | None:
    """The first private or symmetric member the JWK carries, or ``None`` for a public key."""
    return next((name for name in PRIVATE_MEMBERS if name in jwk), None)


def check_signature_use(jwk: Mapping[str, Any]) -> None:
    """Refuse a JWK published for something else than verifying signatures (RFC 7517 §4.2, §4.3).

    Identity providers publish encryption keys next to their signing keys; such a key
    must never verify a token.
    """
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ConfigurationError(f"the JWK is for use {use!r}, not signatures ('sig')")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ConfigurationError("the JWK's key_ops do not include 'verify'")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKeyType:
    """The public key of a JWK that may verify signatures; anything else is a :class:`~asgi_jwt.ConfigurationError`."""
    if not isinstance(jwk, Mapping):
        raise ConfigurationError("a JWK must be a JSON object")
    if private_member(jwk) is not None:
        raise ConfigurationError("PublicKey.from_jwk got private or symmetric key material")
    check_signature_use(jwk)
    kty = jwk.get("kty")
    loader = _LOADERS.get(kty) if isinstance(kty, str) else None
    if loader is None:
        raise ConfigurationError(f"unsupported JWK key type {jwk.get('kty')!r}")
    try:
        key = loader.from_jwk(dict(jwk))
    except Exception as exc:  # PyJWT raises several types for a broken JWK
        raise ConfigurationError("the JWK is not a valid public key") from exc
    if not isinstance(key, PublicKeyType):
        raise ConfigurationError("the JWK is not a public key")
    return key


def public_jwk(key: PublicKeyType) -> dict[str, Any]:
    """The public members of ``key`` (``kty`` and its numbers), without ``alg``, ``use`` or ``kid``."""
    if isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    return {name: value for name, value in jwk.items() if name not in ("key_ops", "alg", "use", "kid")}
