"""JWK Sets (RFC 7517 §5): a document of keys, parsed once into keys pinned to their algorithms.

Used for a set given in full (:class:`JWKSet`) and for every set
:class:`~asgi_jwt.JWKSResolver` fetches. Keys that cannot verify signatures are
skipped with a log line; a set that publishes *private* key material is refused
whole, since it means a key compromise at whoever published it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asgi_jwt._jose import STRICT_JSON
from asgi_jwt._pem import read_file
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.jwk import check_signature_use, jwk_thumbprint, private_member
from asgi_jwt.keys import PublicKey, StaticKeys, VerificationKey

__all__ = ["JWKSet"]

logger = logging.getLogger("asgi_jwt.jwks")

Fingerprint = frozenset[tuple[str | None, str, str]]


class UnusableKeySet(ConfigurationError):
    """A JWK Set document that cannot be used; ``incident`` when it publishes private key material."""

    def __init__(self, message: str, *, incident: bool = False) -> None:
        super().__init__(message)
        self.incident = incident


class JWKSet(StaticKeys):
    """A fixed JWK Set (RFC 7517 §5), from a dict, a JSON string or a file.

    Only public signature keys are used, each pinned to one algorithm (its ``alg``,
    else the one its type implies: RS256 for RSA, the curve's for EC, EdDSA for
    Ed25519/Ed448). Keys that cannot verify signatures (``use: "enc"``, ``key_ops``
    without ``verify``, an unknown ``kty``, RSA under 2048 bits, an ``alg`` that does
    not fit the key) are skipped with a log line. Private or symmetric key material
    anywhere in the set, or no usable key at all, is a :class:`ConfigurationError`.
    """

    def __init__(self, jwks: Mapping[str, Any] | str | bytes) -> None:
        document = load_json(jwks, "the JWK Set") if isinstance(jwks, (str, bytes)) else jwks
        self._use_document(document, "the JWK Set", "the JWK Set")

    @classmethod
    def from_file(cls, path: str | Path) -> JWKSet:
        """Read a JWK Set from a JSON file."""
        source = f"the JWK Set in {str(path)!r}"
        return parse_jwk_set(read_file(path), source=source, where=source)

    def _use_document(self, document: Any, source: str, where: str) -> None:
        """Parse ``document``; errors name ``source``, log lines about single keys name ``where``."""
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            raise UnusableKeySet(f"{source} is not a JSON object with a 'keys' list")
        entries: list[Any] = document["keys"]
        for index, jwk in enumerate(entries):  # refuse the whole set before using any of it
            leaked = private_member(jwk) if isinstance(jwk, Mapping) else None
            if leaked is not None:
                raise UnusableKeySet(
                    f"{source} publishes private or symmetric key material (member {leaked!r} of key "
                    f"{_label(jwk, index)}); the whole set is refused",
                    incident=True,
                )
        keys: list[VerificationKey] = []
        jwks: list[dict[str, Any]] = []
        fingerprint: set[tuple[str | None, str, str]] = set()
        for index, jwk in enumerate(entries):
            public = _usable_key(jwk, index, where)
            if public is None:
                continue
            published = public.to_jwk()
            keys.extend(public.verification_keys)
            jwks.append(published)
            fingerprint.add((public.kid, public.algorithm, jwk_thumbprint(published)))
        if not keys:
            raise UnusableKeySet(f"{source} has no usable signature verification key")
        super().__init__(keys)
        self._jwks = tuple(jwks)
        self.fingerprint: Fingerprint = frozenset(fingerprint)
        """What identifies the usable keys, whatever their order: equal for the same set served again."""

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    @property
    def kids(self) -> frozenset[str]:
        """The ``kid`` values of the usable keys."""
        return frozenset(self._by_kid)

    def to_dict(self) -> dict[str, Any]:
        """The usable keys as a public JWK Set, each with ``alg``, ``use`` and ``kid``."""
        return {"keys": [dict(jwk) for jwk in self._jwks]}

    def __repr__(self) -> str:
        return f"JWKSet(kids={sorted(self._by_kid)!r}, keys={len(self.verification_keys)})"


def parse_jwk_set(raw: str | bytes, *, source: str, where: str) -> JWKSet:
    """A :class:`JWKSet` from JSON text; :class:`UnusableKeySet` names ``source``, log lines name ``where``."""
    key_set = JWKSet.__new__(JWKSet)
    key_set._use_document(load_json(raw, source), source, where)
    return key_set


def load_json(raw: str | bytes, source: str) -> Any:
    """Strict JSON (no ``NaN``, no absurd nesting, UTF-8 only); anything else is :class:`UnusableKeySet`."""
    try:
        return STRICT_JSON.decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnusableKeySet(f"{source} is not valid JSON") from exc


def _label(jwk: Any, index: int) -> str:
    kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
    return repr(kid) if isinstance(kid, str) else f"#{index}"


def _usable_key(jwk: Any, index: int, where: str) -> PublicKey | None:
    """The key pinned to its algorithm, or ``None`` (logged) when it cannot verify signatures."""
    label = _label(jwk, index)
    if not isinstance(jwk, Mapping):
        logger.warning("%s: skipping key %s: not a JSON object", where, label)
        return None
    try:
        check_signature_use(jwk)
    except ConfigurationError as exc:  # identity providers publish encryption keys too: normal
        logger.debug("%s: skipping key %s: %s", where, label, exc)
        return None
    try:
        return PublicKey.from_jwk(jwk)
    except ConfigurationError as exc:  # our own message: unknown kty, too short, wrong alg, broken numbers, …
        logger.warning("%s: skipping key %s: %s", where, label, exc)
        return None
