"""The stored record of an API key, and the ``scope["auth"]`` it gives: see :mod:`asgi_jwt.apikeys`.

A record holds the key's SHA-256 digest, never the key. It is what a file of keys, a
database row or :meth:`~asgi_jwt.ApiKeys.generate` hands over, so it checks its own fields:
a bad one is a ``ConfigurationError`` wherever it is built.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from asgi_jwt.authz.grants import Grants, permission_names
from asgi_jwt.authz.rules import Authorization
from asgi_jwt.claims import Claims
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.identity import JWTAuth, JWTUser

__all__ = ["ApiKey", "ApiKeyAuth", "NewApiKey", "digest_of", "random_key"]

ID_LENGTH = 16  # hex characters: 64 bits, enough to never collide, and not secret
SECRET_LENGTH = 43  # base62 characters of 32 random bytes (256 bits)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def digest_of(key: str) -> str:
    """The SHA-256 hex digest stored for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def expiry_time(value: float | datetime | None) -> float | None:
    """An expiry as a Unix time; a ``datetime`` must be timezone-aware, as a naive one is ambiguous."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigurationError("an API key's expires_at must be a timezone-aware datetime or a Unix time")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"an API key's expires_at must be a Unix time or a datetime: {value!r}")
    return float(value)


@dataclass(frozen=True)
class ApiKey:
    """The stored record of one key: never the key itself, only its SHA-256 ``hash``.

    ``id`` finds the record: the middle part of a generated key, or the key's digest
    for a key of another format. ``expires_at`` is a Unix time (a datetime is converted).
    """

    id: str
    hash: str
    subject: str
    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    expires_at: float | None = None
    _identities: dict[tuple[str, Authorization | None], tuple[Claims, ApiKeyAuth, JWTUser]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.isascii() or not self.id.isalnum():
            raise ConfigurationError(f"an API key's id must be letters and digits: {self.id!r}")
        if not isinstance(self.hash, str) or not _DIGEST.fullmatch(self.hash):
            raise ConfigurationError(f"API key {self.id!r}: hash must be a SHA-256 hex digest")
        if not isinstance(self.subject, str) or not self.subject:
            raise ConfigurationError(f"API key {self.id!r}: subject must be a non-empty string")
        for name in ("scopes", "roles"):
            value = getattr(self, name)
            if not isinstance(value, Iterable) or isinstance(value, str | bytes):
                raise ConfigurationError(f"API key {self.id!r}: {name} must be a list of names")
            object.__setattr__(self, name, permission_names(value, f"the {name} of API key {self.id!r}"))
        object.__setattr__(self, "expires_at", expiry_time(self.expires_at))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiKey:
        """A record as :meth:`to_dict` wrote it (a JSON object)."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"an API key record must be a JSON object: {data!r}")
        unknown = set(data) - {"id", "hash", "subject", "scopes", "roles", "expires_at"}
        if unknown or not {"id", "hash", "subject"} <= set(data):
            raise ConfigurationError(
                f"an API key record has id, hash, subject and optionally scopes, roles, expires_at: {sorted(data)}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON object, for a file read by :meth:`ApiKeys.from_file` or a database row."""
        data: dict[str, Any] = {"id": self.id, "hash": self.hash, "subject": self.subject, "scopes": list(self.scopes)}
        if self.roles:
            data["roles"] = list(self.roles)
        if self.expires_at is not None:
            data["expires_at"] = self.expires_at
        return data

    def identity(self, identity_claim: str, authz: Authorization | None) -> tuple[Claims, ApiKeyAuth, JWTUser]:
        """The claims, ``scope["auth"]`` and ``scope["user"]`` of this key: built once, read-only, shared."""
        memo = self._identities.get((identity_claim, authz))
        if memo is None:
            data: dict[str, Any] = {"sub": self.subject, identity_claim: self.subject, "scope": " ".join(self.scopes)}
            if self.roles:
                data["roles"] = list(self.roles)
            if self.expires_at is not None:
                data["exp"] = self.expires_at
            claims = Claims(data)
            scopes: Collection[str] = claims.scopes
            policy = None if authz is None else authz.policy
            if policy is not None:  # from the key itself: the policy's claim names are those of its tokens
                granted = set(self.scopes).union(*(policy.roles.get(role, ()) for role in self.roles))
                scopes = Grants(granted, self.roles, separator=policy.separator)
            memo = self._identities[identity_claim, authz] = (
                claims,
                ApiKeyAuth(claims, scopes, self.id),
                JWTUser(claims, identity_claim),
            )
        return memo


class ApiKeyAuth(JWTAuth):
    """``scope["auth"]`` of a request authenticated by an API key: ``method`` is ``"api_key"``.

    ``token`` is ``None`` (an API key is not a bearer token to forward); ``key_id`` names the key.
    """

    def __init__(self, claims: Mapping[str, Any], scopes: Any, key_id: str) -> None:
        super().__init__(claims, scopes, None)
        object.__setattr__(self, "key_id", key_id)  # JWTAuth is read-only once built

    @property
    def method(self) -> str:
        return "api_key"


class NewApiKey(NamedTuple):
    """What :meth:`ApiKeys.generate` returns: the key, to hand over once, and the record to store."""

    key: str
    record: ApiKey


def random_key(prefix: str) -> tuple[str, str]:
    """A new ``(id, key)``: ``<prefix>_<16 hex>_<43 base62>``, the secret being 256 random bits."""
    key_id = secrets.token_hex(ID_LENGTH // 2)
    number = int.from_bytes(secrets.token_bytes(32), "big")
    digits = []
    for _ in range(SECRET_LENGTH):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return key_id, f"{prefix}_{key_id}_{''.join(reversed(digits))}"
