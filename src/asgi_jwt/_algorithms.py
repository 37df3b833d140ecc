"""The signature algorithms we accept, and the rules that pin a key to exactly one of them.

RFC 8725 §3.1: the algorithm is a property of the key. Every check here runs once,
when a key is built: the type and size of the key, the curve an ECDSA or a fully
specified EdDSA algorithm (RFC 9864: ``Ed25519``, ``Ed448``) belongs to, and the
ROCA weakness of some RSA keys.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from asgi_jwt.errors import ConfigurationError

__all__ = [
    "FULLY_SPECIFIED_EDDSA",
    "HMAC_MIN_BYTES",
    "MIN_RSA_BITS",
    "SUPPORTED_ALGORITHMS",
    "PrivateKeyType",
    "PublicKeyType",
    "generate_private_key",
    "pin_algorithm",
    "verifier_for",
]

_HMAC_HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
"""RFC 7518 §3.2: an HMAC key must be at least as long as the hash output."""
# The hash of each RSA and ECDSA algorithm (RFC 7518 §3.3-3.5); the padding or signature scheme objects are
# built once per key, not per token.
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
# RFC 7518 §3.4: each ECDSA algorithm belongs to exactly one curve.
_EC_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_EC_ALGORITHMS = frozenset(_EC_CURVES.values())
# RFC 8037 "EdDSA" names either curve; RFC 9864 adds one name per curve. A key is pinned to one of them.
_OKP_CURVES: dict[str, tuple[type, ...]] = {
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
    "Ed25519": (ed25519.Ed25519PublicKey,),
    "Ed448": (ed448.Ed448PublicKey,),
}
FULLY_SPECIFIED_EDDSA = frozenset({"Ed25519", "Ed448"})
"""RFC 9864's names, which PyJWT does not sign with: :mod:`asgi_jwt.keys` signs them itself."""
MIN_RSA_BITS = 2048
SUPPORTED_ALGORITHMS = frozenset({*_HMAC_HASHES, *_RSA_ALGORITHMS, *_EC_ALGORITHMS, *_OKP_CURVES})

PublicKeyType = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
PrivateKeyType = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


def verifier_for(algorithm: str, key: bytes | PublicKeyType) -> Callable[[bytes, bytes], bool]:
    """``verify(signing_input, signature)`` for ``key`` under ``algorithm`` only; checked to fit first."""
    hash_name = _HMAC_HASHES.get(algorithm)
    if hash_name is not None:
        if not isinstance(key, bytes):
            raise ConfigurationError(f"{algorithm} needs a secret (bytes), not a public key")
        inner, outer = _hmac_states(key, hash_name)
        copy_inner, copy_outer, compare = inner.copy, outer.copy, hmac.compare_digest

        def verify_hmac(signing_input: bytes, signature: bytes) -> bool:
            mac = copy_inner()
            mac.update(signing_input)
            digest = copy_outer()
            digest.update(mac.digest())
            return compare(digest.digest(), signature)

        return verify_hmac
    if isinstance(key, bytes):
        raise ConfigurationError(f"{algorithm} needs a public key, not a secret")
    if algorithm not in _RSA_ALGORITHMS and algorithm not in _EC_ALGORITHMS and algorithm not in _OKP_CURVES:
        raise ConfigurationError(f"unsupported algorithm {algorithm!r}")
    _check_key_fits(key, algorithm)
    if isinstance(key, rsa.RSAPublicKey):
        return _rsa_verifier(key, algorithm)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _ecdsa_verifier(key, algorithm)
    return _edwards_verifier(key)


def _rsa_verifier(key: rsa.RSAPublicKey, algorithm: str) -> Callable[[bytes, bytes], bool]:
    """RSASSA-PKCS1-v1_5 (``RS*``) or RSASSA-PSS with a salt as long as the hash (``PS*``, RFC 7518 §3.5)."""
    digest = _HASHES[algorithm[2:]]()
    scheme: padding.AsymmetricPadding = padding.PKCS1v15()
    if algorithm.startswith("PS"):
        scheme = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)

    def verify_rsa(signing_input: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, signing_input, scheme, digest)
        except InvalidSignature:
            return False
        return True

    return verify_rsa


def _ecdsa_verifier(key: ec.EllipticCurvePublicKey, algorithm: str) -> Callable[[bytes, bytes], bool]:
    """ECDSA over JWS's fixed-width ``r || s`` (RFC 7518 §3.4), turned into the DER the library checks."""
    size = (key.curve.key_size + 7) // 8
    scheme = ec.ECDSA(_HASHES[algorithm[2:]]())
    from_bytes = int.from_bytes

    def verify_ecdsa(signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(from_bytes(signature[:size], "big"), from_bytes(signature[size:], "big"))
        try:
            key.verify(der, signing_input, scheme)
        except InvalidSignature:
            return False
        return True

    return verify_ecdsa


_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


def _hmac_states(secret: bytes, hash_name: str) -> tuple[Any, Any]:
    """HMAC's two hash states with the key absorbed (RFC 2104), computed once per key.

    ``hmac.digest`` hashes the padded key twice on every call; copying these states
    instead makes a check two short hashes, about half the time on a token.
    """
    new = getattr(hashlib, hash_name)
    block = new().block_size
    if len(secret) > block:  # RFC 2104 §2: a key longer than the block is hashed first
        secret = new(secret).digest()
    padded = secret.ljust(block, b"\0")
    return new(padded.translate(_IPAD)), new(padded.translate(_OPAD))


def _edwards_verifier(key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Callable[[bytes, bytes], bool]:
    """EdDSA under any of its names: the curve is the key's, so the signature check is the same."""

    def verify_edwards(signing_input: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True

    return verify_edwards


def pin_algorithm(key: PublicKeyType, algorithm: str | None) -> str:
    """The one algorithm this key will verify, checked against its type and size."""
    if isinstance(key, rsa.RSAPublicKey):
        implied = "RS256"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        implied_ec = _EC_CURVES.get(key.curve.name)
        if implied_ec is None:
            raise ConfigurationError(f"unsupported elliptic curve {key.curve.name!r}")
        implied = implied_ec
    else:
        implied = "EdDSA"
    if algorithm is not None and (not isinstance(algorithm, str) or algorithm not in SUPPORTED_ALGORITHMS):
        raise ConfigurationError(f"unsupported algorithm {algorithm!r}")
    chosen = implied if algorithm is None else algorithm
    _check_key_fits(key, chosen)
    return chosen


def generate_private_key(algorithm: str) -> PrivateKeyType:
    """A fresh private key for ``algorithm``: RSA 2048, the curve the algorithm names, Ed25519 for EdDSA."""
    if algorithm in _RSA_ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    if algorithm in _EC_ALGORITHMS:
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[algorithm]
        return ec.generate_private_key(curve)
    if algorithm in ("EdDSA", "Ed25519"):
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "Ed448":
        return ed448.Ed448PrivateKey.generate()
    raise ConfigurationError(f"KeyPair cannot generate keys for {algorithm!r}")


def _check_key_fits(key: PublicKeyType, algorithm: str) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if algorithm not in _RSA_ALGORITHMS:
            raise ConfigurationError(f"an RSA key cannot be used with {algorithm!r}")
        if key.key_size < MIN_RSA_BITS:
            raise ConfigurationError(f"RSA keys need at least {MIN_RSA_BITS} bits, this one has {key.key_size}")
        if _is_roca_modulus(key.public_numbers().n):
            raise ConfigurationError(
                "this RSA key has the ROCA weakness (CVE-2017-15361) and can be factored; replace it"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if _EC_CURVES.get(key.curve.name) != algorithm:
            raise ConfigurationError(f"an EC key on {key.curve.name} cannot be used with {algorithm!r}")
    elif not isinstance(key, _OKP_CURVES.get(algorithm, ())):
        curve = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
        where = f" on {curve}" if algorithm in _OKP_CURVES else ""  # Ed448 named for an Ed25519 key, say
        raise ConfigurationError(f"an EdDSA key{where} cannot be used with {algorithm!r}")


def _is_roca_modulus(modulus: int) -> bool:
    """True for a modulus from the flawed Infineon generator (ROCA, CVE-2017-15361).

    Its primes are ``k * M + (65537**a mod M)`` with ``M`` the product of the first
    126 primes (225 from 3968 bits), so the modulus is a power of 65537 modulo each of
    them; a random modulus passes that test with negligible probability.
    """
    count = 125 if modulus.bit_length() < 3968 else 224
    return all(modulus % prime in powers for prime, powers in _powers_of_65537(count))


@functools.cache
def _powers_of_65537(count: int) -> tuple[tuple[int, frozenset[int]], ...]:
    """For each of the first ``count`` odd primes, the residues of the powers of 65537."""
    primes: list[int] = []
    candidate = 3
    while len(primes) < count:
        if all(candidate % prime for prime in primes if prime * prime <= candidate):
            primes.append(candidate)
        candidate += 2
    table = []
    for prime in primes:
        powers, residue = set(), 1
        while residue not in powers:
            powers.add(residue)
            residue = residue * 65537 % prime
        table.append((prime, frozenset(powers)))
    return tuple(table)
