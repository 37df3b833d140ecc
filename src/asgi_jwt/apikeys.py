"""API keys: long-lived credentials for machines, in the same middleware as bearer tokens.

A key is sent in a header (``X-API-Key`` by default) and stands for a subject with
scopes, roles and optionally an expiry. The middleware turns it into the same
``scope["auth"]``/``scope["user"]`` a JWT gives, so rules, ``@requires``,
``@authorize`` and the FastAPI dependencies work unchanged; ``auth.method`` is
``"api_key"`` instead of ``"bearer"``.

Only SHA-256 digests are kept, never a plain key. SHA-256 without salt or stretching
is right for generated keys, which carry 256 random bits; it is not a password hash.
Every key has an id that finds its record with one dict look-up, and the digests are
then compared with :func:`hmac.compare_digest`:

- a generated key, ``<prefix>_<id>_<secret>``, carries its id: the look-up is by an id
  that is not secret, and only the comparison touches the secret;
- any other key (one your users already hold) is found by its digest itself. That
  look-up is not constant-time, and need not be: a caller chooses the key, not its
  digest, and learning that the digest of a guess shares its first bytes with a stored
  digest says nothing about the key behind it (SHA-256 is preimage-resistant).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from typing import Any, NamedTuple

from starlette.types import Scope

from asgi_jwt.authz.grants import permission_names
from asgi_jwt.authz.rules import Authorization
from asgi_jwt.claims import Claims
from asgi_jwt.credentials import TokenSources, bearer_token
from asgi_jwt.errors import (
    ApiKeyExpired,
    ConfigurationError,
    InvalidApiKey,
    InvalidRequest,
    ServiceUnavailable,
)
from asgi_jwt.identity import JWTAuth, JWTUser

__all__ = ["ApiKey", "ApiKeyAuth", "ApiKeys", "NewApiKey"]

logger = logging.getLogger("asgi_jwt")

DEFAULT_HEADER = "X-API-Key"
DEFAULT_PREFIX = "ajk"
ID_LENGTH = 16  # hex characters: 64 bits, enough to never collide, and not secret
SECRET_LENGTH = 43  # base62 characters of 32 random bytes (256 bits)
MIN_KEY_LENGTH = 16  # keys of other formats: shorter ones are guessable
MAX_KEY_LENGTH = 512  # longer header values are refused before hashing
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PREFIX = re.compile(r"[a-z][a-z0-9]{1,15}")
_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_DIGEST = re.compile(r"[0-9a-f]{64}")

Lookup = Callable[[str], Awaitable["ApiKey | None"]]
"""``async lookup(key_id) -> ApiKey | None``: a key's record from your own store (a database)."""


def digest_of(key: str) -> str:
    """The SHA-256 hex digest stored for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _expiry(value: float | datetime | None) -> float | None:
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
        object.__setattr__(self, "expires_at", _expiry(self.expires_at))

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
            scopes = claims.scopes if authz is None else authz.grants(claims)
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
        self.key_id = key_id

    @property
    def method(self) -> str:
        return "api_key"


class NewApiKey(NamedTuple):
    """What :meth:`ApiKeys.generate` returns: the key, to hand over once, and the record to store."""

    key: str
    record: ApiKey


def _base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


class ApiKeys:
    """The API keys a :class:`~asgi_jwt.JWTAuthMiddleware` accepts (``api_keys=ApiKeys(...)``).

    Args:
        keys: existing keys of any format, each mapped to ``(subject, scopes)``:
            ``{"<key>": ("reporting", ["read:reports"])}``. They are hashed here;
            the plain keys are not kept.
        records: stored :class:`ApiKey` records, e.g. from :meth:`generate`.
        lookup: ``async lookup(key_id) -> ApiKey | None`` instead of keys in memory,
            e.g. a database query by primary key. An exception in it is a 503.
        header: the header that carries the key.
        prefix: the prefix of generated keys (``ajk_<id>_<secret>``), so that secret
            scanners recognise a leaked one.
        clock: the time source for expiry checks, for tests.
    """

    def __init__(
        self,
        keys: Mapping[str, tuple[str, Iterable[str]]] | None = None,
        *,
        records: Iterable[ApiKey] = (),
        lookup: Lookup | None = None,
        header: str = DEFAULT_HEADER,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(header, str) or not _HEADER.fullmatch(header) or header.lower() == "authorization":
            raise ConfigurationError(f"header must be a header name other than Authorization: {header!r}")
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ConfigurationError(f"prefix must be 2 to 16 lower-case letters and digits: {prefix!r}")
        if lookup is not None and not callable(lookup):
            raise ConfigurationError("lookup must be an async function (key_id) -> ApiKey | None")
        if keys is not None and not isinstance(keys, Mapping):
            raise ConfigurationError("keys must map each key to (subject, scopes)")
        if isinstance(records, ApiKey) or not isinstance(records, Iterable):
            raise ConfigurationError("records must be a list of ApiKey records")
        records = tuple(records)
        if not all(isinstance(record, ApiKey) for record in records):
            raise ConfigurationError("records must be a list of ApiKey records")
        if lookup is not None and (keys or records):
            raise ConfigurationError("give keys and records, or a lookup, not both")
        if not callable(clock):
            raise ConfigurationError("clock must be a function returning the Unix time")
        self.header_name = header
        self.prefix = prefix
        self._header = header.lower().encode("ascii")
        self._start = len(prefix) + 1
        self._id_end = self._start + ID_LENGTH
        self._generated_length = self._id_end + 1 + SECRET_LENGTH
        self._lookup = lookup
        self._clock = clock
        self._records: dict[str, ApiKey] = {}
        for key, grant in (keys or {}).items():
            self._add(self._from_plain(key, grant))
        for record in records:
            self._add(record)

    def record(
        self,
        key: str,
        subject: str,
        scopes: Iterable[str] = (),
        *,
        roles: Iterable[str] = (),
        expires_at: float | datetime | None = None,
    ) -> ApiKey:
        """The record to store for an existing key of any format, e.g. to move keys into a file or a database."""
        if not isinstance(key, str) or not key.isascii() or not key.isprintable() or key != key.strip():
            raise ConfigurationError("API keys must be printable ASCII without surrounding spaces")
        if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
            raise ConfigurationError(f"API keys must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters long")
        if isinstance(scopes, str) or isinstance(roles, str):
            raise ConfigurationError("scopes and roles are lists of names, not one string")
        digest = digest_of(key)
        return ApiKey(self.key_id(key) or digest, digest, subject, tuple(scopes), tuple(roles), _expiry(expires_at))

    def _from_plain(self, key: str, grant: tuple[str, Iterable[str]]) -> ApiKey:
        if not isinstance(grant, tuple) or len(grant) != 2 or isinstance(grant[1], str):
            raise ConfigurationError("each API key maps to (subject, scopes), e.g. ('reporting', ['read:reports'])")
        return self.record(key, grant[0], grant[1])

    def _add(self, record: ApiKey) -> None:
        if record.id in self._records:
            raise ConfigurationError(f"two API keys have the id {record.id!r}")
        self._records[record.id] = record

    @classmethod
    def from_file(cls, path: str | PathLike[str], **options: Any) -> ApiKeys:
        """Keys from a JSON file of stored records, ``{"keys": [record, ...]}``: no plain key is ever in it.

        Write one with the records of :meth:`generate` (``record.to_dict()``). ``options`` are
        those of the constructor (``header``, ``prefix``, ``clock``).
        """
        try:
            with open(path, encoding="utf-8") as file:
                document = json.load(file)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read API keys from {path}: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ConfigurationError(f'{path}: expected a JSON object {{"keys": [...]}}')
        try:
            records = [ApiKey.from_dict(item) for item in document["keys"]]
        except TypeError as exc:
            raise ConfigurationError(f"{path}: an API key record has a field of the wrong type") from exc
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}: {exc}") from exc
        return cls(records=records, **options)

    @staticmethod
    def generate(
        subject: str,
        scopes: Iterable[str] = (),
        *,
        roles: Iterable[str] = (),
        expires_at: float | datetime | None = None,
        prefix: str = DEFAULT_PREFIX,
    ) -> NewApiKey:
        """A new key ``<prefix>_<id>_<secret>`` (256 random bits) and the record to store.

        Hand ``key`` over once and keep only ``record``: the key cannot be recovered from it.
        """
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ConfigurationError(f"prefix must be 2 to 16 lower-case letters and digits: {prefix!r}")
        if isinstance(scopes, str):
            scopes = scopes.split()
        key_id = secrets.token_hex(ID_LENGTH // 2)
        key = f"{prefix}_{key_id}_{_base62(secrets.token_bytes(32), SECRET_LENGTH)}"
        return NewApiKey(key, ApiKey(key_id, digest_of(key), subject, tuple(scopes), tuple(roles), _expiry(expires_at)))

    def key_id(self, key: str) -> str | None:
        """The id of a key of the generated form with this prefix, or ``None`` for a key of another format."""
        if len(key) == self._generated_length and key.startswith(self.prefix) and key[self._start - 1] == "_":
            key_id = key[self._start : self._id_end]
            if key[self._id_end] == "_" and key_id.isascii() and key_id.isalnum():
                return key_id
        return None

    def carried_by(self, scope: Scope) -> bool:
        """Whether a request has the key header: all that a request without one pays for API keys."""
        header = self._header
        for name, _ in scope["headers"]:  # noqa: SIM110 - a plain loop: any() over a generator costs more
            if name == header:
                return True
        return False

    def presented(self, scope: Scope, sources: TokenSources) -> str:
        """The API key of a request that has the header; a key together with a token is an ``InvalidRequest``."""
        found: bytes | None = None
        bearer = False
        for name, value in scope["headers"]:
            if name == self._header:
                if found is not None:
                    raise InvalidRequest(f"Only one {self.header_name} header is allowed")
                found = value
            elif name == b"authorization" and type(value) is bytes and bearer_token(value) is not None:
                bearer = True
        if type(found) is not bytes:
            raise InvalidApiKey()
        found = found.strip(b" \t")
        if not found:
            raise InvalidRequest("The API key is empty")
        if bearer or (sources and sources.token(scope, None) is not None):
            raise InvalidRequest("Send a bearer token or an API key, not both")
        if len(found) > MAX_KEY_LENGTH or not found.isascii():
            raise InvalidApiKey()
        return found.decode("ascii")

    async def authenticate(self, key: str) -> ApiKey:
        """The record of ``key``: one hash, one look-up, one constant-time comparison; else ``InvalidApiKey``."""
        digest = digest_of(key)
        key_id = self.key_id(key) or digest
        record = self._records.get(key_id) if self._lookup is None else await _look_up(self._lookup, key_id)
        if record is None or not hmac.compare_digest(record.hash, digest):
            raise InvalidApiKey()
        if record.expires_at is not None and self._clock() >= record.expires_at:
            raise ApiKeyExpired()
        return record

    async def admit(self, scope: Scope, key: str, authz: Authorization | None, identity_claim: str) -> Claims:
        """Authenticate ``key``, write ``scope["auth"]`` and ``scope["user"]``, enforce the rules; the claims."""
        claims, auth, user = (await self.authenticate(key)).identity(identity_claim, authz)
        scope["auth"] = auth
        scope["user"] = user
        if authz is not None:
            authz.check(scope)
        return claims

    def __repr__(self) -> str:
        source = "lookup" if self._lookup is not None else f"{len(self._records)} keys"
        return f"ApiKeys({source}, header={self.header_name!r})"


async def _look_up(lookup: Lookup, key_id: str) -> ApiKey | None:
    """Ask the custom lookup; an outage or a wrong answer is a 503, never a 500 or a bad key."""
    try:
        record = await lookup(key_id)
    except Exception as exc:  # a database outage is not a bad key: 503, and the reason in the log
        logger.warning("API key lookup failed: %s: %s", type(exc).__name__, exc)
        raise ServiceUnavailable("API keys are temporarily unavailable") from exc
    if record is not None and not isinstance(record, ApiKey):
        logger.error("API key lookup returned %s, not an ApiKey or None", type(record).__name__)
        raise ServiceUnavailable("API keys are temporarily unavailable")
    return record
