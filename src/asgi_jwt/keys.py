"""Keys, each pinned to one algorithm, and the resolver interface that hands them out.

RFC 8725 §3.1: the algorithm is a property of the key, never of the token. A token's
``alg`` header only *selects* among the keys a resolver returns; a key configured for
RS256 can never verify an HS256 token, so the "HMAC signed with the public key"
confusion cannot happen, and ``none`` has no key at all.

Every key is parsed and checked once, at construction. A resolver is anything with
``async resolve(header) -> Sequence[VerificationKey]``: the static resolvers here,
a JWK Set, or your own (keys from a vault, say) without inheriting from us.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

from asgi_jwt.errors import ConfigurationError, MalformedToken, UnknownKey

__all__ = [
    "KeyPair",
    "KeyResolver",
    "PublicKey",
    "RotatingKeys",
    "SecretKey",
    "VerificationKey",
    "VersionedKeyResolver",
    "jwk_thumbprint",
]

_HMAC_HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_RSA_ALGORITHMS = {
    "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
    "RS384": RSAAlgorithm(RSAAlgorithm.SHA384),
    "RS512": RSAAlgorithm(RSAAlgorithm.SHA512),
    "PS256": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256),
    "PS384": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA384),
    "PS512": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA512),
}
# RFC 7518 §3.4: each ECDSA algorithm belongs to exactly one curve.
_EC_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_EC_ALGORITHMS = {
    "ES256": ECAlgorithm(ECAlgorithm.SHA256),
    "ES384": ECAlgorithm(ECAlgorithm.SHA384),
    "ES512": ECAlgorithm(ECAlgorithm.SHA512),
}
_EDDSA = OKPAlgorithm()
MIN_RSA_BITS = 2048
SUPPORTED_ALGORITHMS = frozenset({*_HMAC_HASHES, *_RSA_ALGORITHMS, *_EC_ALGORITHMS, "EdDSA"})

PublicKeyType = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
PrivateKeyType = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


class VerificationKey:
    """One verification key, pinned to exactly one algorithm.

    ``key`` is the parsed key (``bytes`` for HMAC, a ``cryptography`` public key
    otherwise); ``verify`` checks a signature with the pinned algorithm only.
    """

    __slots__ = ("_verify", "algorithm", "key", "kid")

    def __init__(self, algorithm: str, key: bytes | PublicKeyType, kid: str | None = None) -> None:
        self.algorithm = algorithm
        self.key = key
        self.kid = kid
        self._verify = _verifier_for(algorithm, key)

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``signing_input``."""
        return self._verify(signing_input, signature)

    def __repr__(self) -> str:
        return f"VerificationKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


def _verifier_for(algorithm: str, key: bytes | PublicKeyType) -> Callable[[bytes, bytes], bool]:
    hash_name = _HMAC_HASHES.get(algorithm)
    if hash_name is not None:
        if not isinstance(key, bytes):
            raise ConfigurationError(f"{algorithm} needs a secret (bytes), not a public key")
        secret = key

        def verify_hmac(signing_input: bytes, signature: bytes) -> bool:
            return hmac.compare_digest(hmac.digest(secret, signing_input, hash_name), signature)

        return verify_hmac
    if isinstance(key, bytes):
        raise ConfigurationError(f"{algorithm} needs a public key, not a secret")
    implementation: Any = _RSA_ALGORITHMS.get(algorithm) or _EC_ALGORITHMS.get(algorithm)
    if implementation is None and algorithm == "EdDSA":
        implementation = _EDDSA
    if implementation is None:
        raise ConfigurationError(f"unsupported algorithm {algorithm!r}")
    _check_key_fits(key, algorithm)

    def verify_signature(signing_input: bytes, signature: bytes) -> bool:
        return bool(implementation.verify(signing_input, key, signature))

    return verify_signature


@runtime_checkable
class KeyResolver(Protocol):
    """Gives the candidate keys for a token, from its *unverified* header.

    Return the keys that may have signed the token, each pinned to its algorithm;
    the verifier then uses only those whose algorithm equals the header's ``alg``.
    Raise :class:`~asgi_jwt.UnknownKey` when the ``kid`` names no key, and
    :class:`~asgi_jwt.KeysUnavailable` when keys cannot be obtained right now.
    Never build a URL or a key from the header (``jku``, ``x5u``, ``jwk``).
    """

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]: ...


@runtime_checkable
class VersionedKeyResolver(KeyResolver, Protocol):
    """A resolver whose ``version`` changes whenever its key set changes.

    Caches of verified tokens use it to drop entries when keys go away.
    """

    @property
    def version(self) -> int: ...


class _StaticKeys:
    """A fixed key set: the resolver behind every key type in this module."""

    version = 0  # a static set never changes

    def __init__(self, keys: Sequence[VerificationKey]) -> None:
        self._keys = tuple(keys)
        by_kid: dict[str, list[VerificationKey]] = {}
        for key in self._keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(key)
        self._by_kid = {kid: tuple(found) for kid, found in by_kid.items()}
        self._unnamed = tuple(key for key in self._keys if key.kid is None)

    @property
    def verification_keys(self) -> tuple[VerificationKey, ...]:
        """Every key of the set, current first."""
        return self._keys

    def select(self, header: Mapping[str, Any]) -> tuple[VerificationKey, ...]:
        """The keys a token with this header may be checked with.

        A ``kid`` that names a key selects that key only; one that names nothing
        falls back to the keys without a ``kid``, or fails; no ``kid`` tries all.
        """
        kid = header.get("kid")
        if kid is None:
            return self._keys
        if not isinstance(kid, str):
            raise MalformedToken()
        found = self._by_kid.get(kid)
        if found is not None:
            return found
        if self._unnamed:
            return self._unnamed
        raise UnknownKey()

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        return self.select(header)


class SecretKey(_StaticKeys):
    """A shared HMAC secret (HS256, HS384 or HS512) that both signs and verifies.

    Refuses, at construction, a secret shorter than the hash output (32/48/64
    bytes, RFC 7518 §3.2) and anything that looks like a PEM or JWK key: passing a
    public key as an HMAC secret is how algorithm-confusion attacks start.
    """

    def __init__(self, secret: str | bytes, *, algorithm: str = "HS256", kid: str | None = None) -> None:
        if algorithm not in _HMAC_MIN_BYTES:
            raise ConfigurationError(f"SecretKey supports HS256, HS384 and HS512, not {algorithm!r}")
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if _looks_like_key_material(raw):
            raise ConfigurationError(
                "the secret looks like a PEM or JWK key; use PublicKey or KeyPair for asymmetric keys"
            )
        minimum = _HMAC_MIN_BYTES[algorithm]
        if len(raw) < minimum:
            raise ConfigurationError(
                f"an {algorithm} secret needs at least {minimum} bytes (RFC 7518 §3.2), this one has {len(raw)}"
            )
        self.algorithm = algorithm
        self.kid = kid
        self._secret = raw
        super().__init__((VerificationKey(algorithm, raw, kid),))

    def encode(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Sign ``claims`` into a compact JWT with this key's algorithm and ``kid``."""
        return _encode(claims, self._secret, self.algorithm, self.kid, headers)

    def __repr__(self) -> str:
        return f"SecretKey(algorithm={self.algorithm!r}, kid={self.kid!r})"  # never the secret


class PublicKey(_StaticKeys):
    """An asymmetric public key that only verifies (RSA, EC or Ed25519/Ed448).

    The algorithm follows from the key where the key fixes it (P-256 → ES256,
    P-384 → ES384, P-521 → ES512, Ed25519/Ed448 → EdDSA). RSA keys leave it open:
    the default is RS256; pass ``algorithm="PS256"`` (or RS384, …) to change it.
    RSA keys under 2048 bits are refused.
    """

    def __init__(self, pem: str | bytes, *, algorithm: str | None = None, kid: str | None = None) -> None:
        self._init(_load_public_pem(_as_bytes(pem)), algorithm, kid)

    def _init(self, key: PublicKeyType, algorithm: str | None, kid: str | None) -> None:
        self.algorithm = _pin_algorithm(key, algorithm)
        self.kid = kid
        self.key = key
        super().__init__((VerificationKey(self.algorithm, key, kid),))

    @classmethod
    def from_key(cls, key: PublicKeyType, *, algorithm: str | None = None, kid: str | None = None) -> PublicKey:
        """Wrap an already parsed ``cryptography`` public key."""
        instance = cls.__new__(cls)
        instance._init(key, algorithm, kid)
        return instance

    @classmethod
    def from_file(cls, path: str | Path, *, algorithm: str | None = None, kid: str | None = None) -> PublicKey:
        """Read a PEM public key or certificate from ``path``."""
        return cls(_read_file(path), algorithm=algorithm, kid=kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, algorithm: str | None = None, kid: str | None = None) -> PublicKey:
        """Build from a public JWK (RFC 7517). Its ``alg`` and ``kid`` are used unless given here."""
        key = _public_key_from_jwk(jwk)
        jwk_alg = jwk.get("alg")
        if jwk_alg is not None and (not isinstance(jwk_alg, str) or jwk_alg not in SUPPORTED_ALGORITHMS):
            raise ConfigurationError(f"the JWK 'alg' {jwk_alg!r} is not a supported signature algorithm")
        if algorithm is not None and jwk_alg is not None and jwk_alg != algorithm:
            raise ConfigurationError(f"the JWK says alg {jwk_alg!r} but {algorithm!r} was requested")
        jwk_kid = jwk.get("kid")
        if jwk_kid is not None and not isinstance(jwk_kid, str):
            raise ConfigurationError("the JWK 'kid' must be a string")
        return cls.from_key(key, algorithm=jwk_alg if algorithm is None else algorithm, kid=kid or jwk_kid)

    def to_jwk(self) -> dict[str, Any]:
        """This key as a public JWK with ``alg``, ``use`` and ``kid`` (an RFC 7638 thumbprint if unset)."""
        jwk = _public_jwk(self.key)
        return {**jwk, "alg": self.algorithm, "use": "sig", "kid": self.kid or jwk_thumbprint(jwk)}

    def __repr__(self) -> str:
        return f"PublicKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


class KeyPair(_StaticKeys):
    """A private key that signs, with its public half that verifies.

    Algorithm rules are those of :class:`PublicKey`. ``generate`` makes a fresh
    key (RSA 2048, the curve the algorithm names, or Ed25519) whose ``kid`` is its
    RFC 7638 thumbprint.
    """

    def __init__(
        self,
        private_pem: str | bytes,
        *,
        algorithm: str | None = None,
        kid: str | None = None,
        password: bytes | None = None,
    ) -> None:
        self._init(_load_private_pem(_as_bytes(private_pem), password), algorithm, kid)

    def _init(self, private_key: PrivateKeyType, algorithm: str | None, kid: str | None) -> None:
        self.private_key = private_key
        self.public_key = PublicKey.from_key(private_key.public_key(), algorithm=algorithm, kid=kid)
        self.algorithm = self.public_key.algorithm
        self.kid = kid
        super().__init__(self.public_key.verification_keys)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        algorithm: str | None = None,
        kid: str | None = None,
        password: bytes | None = None,
    ) -> KeyPair:
        """Read a PEM private key from ``path``."""
        return cls(_read_file(path), algorithm=algorithm, kid=kid, password=password)

    @classmethod
    def generate(cls, algorithm: str = "RS256", *, kid: str | None = None) -> KeyPair:
        """A new random key pair for ``algorithm``; ``kid`` defaults to the key's thumbprint."""
        private_key: PrivateKeyType
        if algorithm in _RSA_ALGORITHMS:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
        elif algorithm in _EC_ALGORITHMS:
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[algorithm]
            private_key = ec.generate_private_key(curve)
        elif algorithm == "EdDSA":
            private_key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ConfigurationError(f"KeyPair cannot generate keys for {algorithm!r}")
        instance = cls.__new__(cls)
        if kid is None:
            kid = jwk_thumbprint(_public_jwk(private_key.public_key()))
        instance._init(private_key, algorithm, kid)
        return instance

    def encode(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Sign ``claims`` into a compact JWT with this key's algorithm and ``kid``."""
        return _encode(claims, self.private_key, self.algorithm, self.kid, headers)

    def private_pem(self, password: bytes | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted when ``password`` is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM, for services that only verify."""
        return self.public_key.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def to_jwk(self) -> dict[str, Any]:
        """The *public* JWK of this pair (never the private members)."""
        return self.public_key.to_jwk()

    def __repr__(self) -> str:
        return f"KeyPair(algorithm={self.algorithm!r}, kid={self.kid!r})"


StaticKey = SecretKey | PublicKey | KeyPair


class RotatingKeys(_StaticKeys):
    """The current key and the previous ones, for rotation without logging anyone out.

    Immutable: rotate by building a new instance (e.g. from ``JWT_SECRET_KEY`` and
    ``JWT_PREVIOUS_SECRET_KEY``). A token whose ``kid`` names a key is checked with
    that key only; one without ``kid`` is tried against current, then previous.
    Signing (``encode``) always uses the current key.
    """

    def __init__(self, current: StaticKey, *previous: StaticKey) -> None:
        self.current = current
        self.previous = previous
        keys = [key for member in (current, *previous) for key in member.verification_keys]
        kids = [key.kid for key in keys if key.kid is not None]
        duplicated = sorted({kid for kid in kids if kids.count(kid) > 1})
        if duplicated:
            raise ConfigurationError(f"RotatingKeys: several keys share the kid {duplicated[0]!r}")
        super().__init__(keys)

    @property
    def algorithm(self) -> str:
        return self.current.algorithm

    def encode(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Sign with the current key."""
        if isinstance(self.current, PublicKey):
            raise ConfigurationError("the current key is a PublicKey, which cannot sign")
        return self.current.encode(claims, headers=headers)

    def __repr__(self) -> str:
        return f"RotatingKeys({self.current!r}, {', '.join(map(repr, self.previous))})"


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    try:
        members = required[jwk["kty"]]
        canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    except (KeyError, TypeError) as exc:
        raise ConfigurationError("cannot compute a thumbprint: not a public RSA, EC or OKP JWK") from exc
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _encode(
    claims: Mapping[str, Any],
    key: bytes | PrivateKeyType,
    algorithm: str,
    kid: str | None,
    headers: Mapping[str, Any] | None,
) -> str:
    header = {"typ": "JWT", **(headers or {})}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers=header)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _read_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read key file {str(path)!r}: {exc.strerror}") from exc


def _looks_like_key_material(raw: bytes) -> bool:
    text = raw.strip()
    if text.startswith(b"-----BEGIN") or text.startswith((b"ssh-rsa ", b"ssh-ed25519 ", b"ecdsa-sha2-")):
        return True
    if text.startswith(b"{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return False
        return isinstance(parsed, dict) and "kty" in parsed
    return False


def _load_public_pem(pem: bytes) -> PublicKeyType:
    if b"PRIVATE KEY-----" in pem:
        raise ConfigurationError("PublicKey got a private key; use KeyPair to sign, or pass the public half")
    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            from cryptography import x509

            loaded: Any = x509.load_pem_x509_certificate(pem).public_key()
        else:
            loaded = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("not a PEM public key or certificate") from exc
    if not isinstance(loaded, PublicKeyType):
        raise ConfigurationError(f"unsupported public key type {type(loaded).__name__}")
    return loaded


def _load_private_pem(pem: bytes, password: bytes | None) -> PrivateKeyType:
    if b"PRIVATE KEY-----" not in pem:
        raise ConfigurationError("KeyPair needs a PEM private key; use PublicKey for a public key")
    try:
        loaded: Any = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("not a usable PEM private key (or a wrong password)") from exc
    if not isinstance(loaded, PrivateKeyType):
        raise ConfigurationError(f"unsupported private key type {type(loaded).__name__}")
    return loaded


def _pin_algorithm(key: PublicKeyType, algorithm: str | None) -> str:
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
    elif algorithm != "EdDSA":
        raise ConfigurationError(f"an EdDSA key cannot be used with {algorithm!r}")


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


def _public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKeyType:
    if not isinstance(jwk, Mapping):
        raise ConfigurationError("a JWK must be a JSON object")
    if "d" in jwk or "p" in jwk or "k" in jwk:
        raise ConfigurationError("PublicKey.from_jwk got private or symmetric key material")
    # RFC 7517 §4.2/§4.3: a key published for encryption must not verify signatures.
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ConfigurationError(f"the JWK is for use {use!r}, not signatures ('sig')")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ConfigurationError("the JWK's key_ops do not include 'verify'")
    loaders: dict[str, Any] = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}
    kty = jwk.get("kty")
    loader = loaders.get(kty) if isinstance(kty, str) else None
    if loader is None:
        raise ConfigurationError(f"unsupported JWK key type {jwk.get('kty')!r}")
    try:
        key = loader.from_jwk(dict(jwk))
    except Exception as exc:  # PyJWT raises several types for a broken JWK
        raise ConfigurationError("the JWK is not a valid public key") from exc
    if not isinstance(key, PublicKeyType):
        raise ConfigurationError("the JWK is not a public key")
    return key


def _public_jwk(key: PublicKeyType) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    return {name: value for name, value in jwk.items() if name not in ("key_ops", "alg", "use", "kid")}
