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

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from os import PathLike
from typing import Any

from starlette.types import Scope

from asgi_jwt.apikey_records import (
    ID_LENGTH,
    SECRET_LENGTH,
    ApiKey,
    NewApiKey,
    digest_of,
    expiry_time,
    random_key,
)
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

__all__ = ["ApiKeys", "Lookup"]

logger = logging.getLogger("asgi_jwt")

DEFAULT_HEADER = "X-API-Key"
DEFAULT_PREFIX = "ajk"
MIN_KEY_LENGTH = 16  # keys of other formats: shorter ones are guessable
MAX_KEY_LENGTH = 512  # longer header values are refused before hashing
_PREFIX = re.compile(r"[a-z][a-z0-9]{1,15}")
_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")

Lookup = Callable[[str], Awaitable[ApiKey | None]]
"""``async lookup(key_id) -> ApiKey | None``: a key's record from your own store (a database)."""


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
        given = tuple(records) if isinstance(records, Iterable) and not isinstance(records, ApiKey) else (None,)
        stored = [record for record in given if isinstance(record, ApiKey)]
        if len(stored) != len(given):
            raise ConfigurationError("records must be a list of ApiKey records")
        if lookup is not None and (keys or stored):
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
            if not isinstance(grant, tuple) or len(grant) != 2 or isinstance(grant[1], str):
                raise ConfigurationError("each API key maps to (subject, scopes), e.g. ('reporting', ['read:reports'])")
            self._add(self.record(key, grant[0], grant[1]))
        for record in stored:
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
        return ApiKey(self.key_id(key) or digest, digest, subject, tuple(scopes), tuple(roles), expiry_time(expires_at))

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
        key_id, key = random_key(prefix)
        return NewApiKey(
            key, ApiKey(key_id, digest_of(key), subject, tuple(scopes), tuple(roles), expiry_time(expires_at))
        )

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
