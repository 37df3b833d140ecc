"""Keys, each pinned to one algorithm, and the resolver interface that hands them out.

RFC 8725 §3.1: the algorithm is a property of the key, never of the token. A token's
``alg`` header only *selects* among the keys a resolver returns; a key configured for
RS256 can never verify an HS256 token, so the "HMAC signed with the public key"
confusion cannot happen, and ``none`` has no key at all.

Every key is parsed and checked once, at construction. A resolver is anything with
``async resolve(header) -> Sequence[VerificationKey]``: the static resolvers here,
a JWK Set, or your own (keys from a vault, say) without inheriting from us. JWK
import and export live in :mod:`asgi_jwt.jwk`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization

from asgi_jwt._algorithms import (
    HMAC_MIN_BYTES,
    SUPPORTED_ALGORITHMS,
    PrivateKeyType,
    PublicKeyType,
    generate_private_key,
    pin_algorithm,
    verifier_for,
)
from asgi_jwt._pem import as_bytes, load_private_pem, load_public_pem, looks_like_key_material, read_file
from asgi_jwt._sign import sign_compact
from asgi_jwt.errors import ConfigurationError, MalformedToken, UnknownKey
from asgi_jwt.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk

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
        self._verify = verifier_for(algorithm, key)

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``signing_input``."""
        return self._verify(signing_input, signature)

    def __repr__(self) -> str:
        return f"VerificationKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


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
    """A resolver whose ``version`` changes whenever its key set changes, or must be confirmed again.

    Caches of verified tokens use it to drop entries when keys go away. A resolver
    whose keys have a lifetime (a fetched JWK Set's TTL) moves ``version`` when it runs
    out as well, so that no cached token outlives the keys it was verified with.
    Reading it must be cheap and do no I/O: a cache reads it on every hit.
    """

    @property
    def version(self) -> int: ...


class StaticKeys:
    """A fixed key set: the resolver behind every key type here and :class:`~asgi_jwt.JWKSet`."""

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


class SecretKey(StaticKeys):
    """A shared HMAC secret (HS256, HS384 or HS512) that both signs and verifies.

    Refuses, at construction, a secret shorter than the hash output (32/48/64
    bytes, RFC 7518 §3.2) and anything that looks like a PEM or JWK key: passing a
    public key as an HMAC secret is how algorithm-confusion attacks start.
    """

    def __init__(self, secret: str | bytes, *, algorithm: str = "HS256", kid: str | None = None) -> None:
        if algorithm not in HMAC_MIN_BYTES:
            raise ConfigurationError(f"SecretKey supports HS256, HS384 and HS512, not {algorithm!r}")
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if looks_like_key_material(raw):
            raise ConfigurationError(
                "the secret looks like a PEM or JWK key; use PublicKey or KeyPair for asymmetric keys"
            )
        minimum = HMAC_MIN_BYTES[algorithm]
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
        return sign_compact(claims, self._secret, self.algorithm, self.kid, headers)

    def __repr__(self) -> str:
        return f"SecretKey(algorithm={self.algorithm!r}, kid={self.kid!r})"  # never the secret


class PublicKey(StaticKeys):
    """An asymmetric public key that only verifies (RSA, EC or Ed25519/Ed448).

    The algorithm follows from the key where the key fixes it (P-256 → ES256,
    P-384 → ES384, P-521 → ES512, Ed25519/Ed448 → EdDSA). RSA keys leave it open:
    the default is RS256; pass ``algorithm="PS256"`` (or RS384, …) to change it.
    An Edwards key may be pinned to RFC 9864's fully specified name instead
    (``algorithm="Ed25519"`` or ``"Ed448"``, the key's own curve): it then verifies
    tokens whose header says that name, and no longer ``EdDSA``. RSA keys under
    2048 bits are refused.
    """

    def __init__(self, pem: str | bytes, *, algorithm: str | None = None, kid: str | None = None) -> None:
        self._init(load_public_pem(as_bytes(pem)), algorithm, kid)

    def _init(self, key: PublicKeyType, algorithm: str | None, kid: str | None) -> None:
        self.algorithm = pin_algorithm(key, algorithm)
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
        return cls(read_file(path), algorithm=algorithm, kid=kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, algorithm: str | None = None, kid: str | None = None) -> PublicKey:
        """Build from a public JWK (RFC 7517). Its ``alg`` and ``kid`` are used unless given here."""
        key = public_key_from_jwk(jwk)
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
        jwk = public_jwk(self.key)
        return {**jwk, "alg": self.algorithm, "use": "sig", "kid": self.kid or jwk_thumbprint(jwk)}

    def __repr__(self) -> str:
        return f"PublicKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


class KeyPair(StaticKeys):
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
        self._init(load_private_pem(as_bytes(private_pem), password), algorithm, kid)

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
        return cls(read_file(path), algorithm=algorithm, kid=kid, password=password)

    @classmethod
    def generate(cls, algorithm: str = "RS256", *, kid: str | None = None) -> KeyPair:
        """A new random key pair for ``algorithm``; ``kid`` defaults to the key's thumbprint."""
        private_key = generate_private_key(algorithm)
        instance = cls.__new__(cls)
        if kid is None:
            kid = jwk_thumbprint(public_jwk(private_key.public_key()))
        instance._init(private_key, algorithm, kid)
        return instance

    def encode(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Sign ``claims`` into a compact JWT with this key's algorithm and ``kid``."""
        return sign_compact(claims, self.private_key, self.algorithm, self.kid, headers)

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


class RotatingKeys(StaticKeys):
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
        require_unique_kids((key.kid for key in keys), "RotatingKeys")
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


def require_unique_kids(kids: Iterable[str | None], owner: str) -> None:
    """Refuse two keys with one ``kid``: a token naming it could not say which key signed it."""
    seen: set[str] = set()
    for kid in kids:
        if kid is None:
            continue
        if kid in seen:
            raise ConfigurationError(f"{owner}: several keys share the kid {kid!r}")
        seen.add(kid)
