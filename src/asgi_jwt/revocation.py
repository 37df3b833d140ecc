"""Revocation: taking tokens back (logout, a stolen token, a reused refresh token).

A store answers one question on every request, cache hits included: has this
token been revoked? It answers from memory, synchronously, with no I/O, so the
question costs a few dictionary lookups. Stores shared between processes (Redis)
keep a local mirror current in the background and say when they cannot vouch
for it: :attr:`RevocationStore.ready` turns false, and the verifier then awaits
:meth:`RevocationStore.load`, which either brings the mirror up to date or raises
:class:`~asgi_jwt.RevocationUnavailable` (503, fail closed).

Revocation is keyed on claims, never on the token string (one token has several
spellings): ``jti`` for one token, the refresh family (:data:`FAMILY_CLAIM`) for a
token and everything refreshed from it, ``sub`` with a cut-off time for "log out
everywhere".
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from asgi_jwt.errors import ConfigurationError, RevocationUnavailable, TokenRevoked

__all__ = ["DEFAULT_MAX_ENTRIES", "EXPIRY_GRACE", "FAMILY_CLAIM", "MemoryRevocationStore", "RevocationStore"]

logger = logging.getLogger("asgi_jwt")

EXPIRY_GRACE = 60.0
"""Seconds an entry outlives its ``expires_at``: verifiers accept a token up to their leeway (30 s by
default) past its ``exp``, so a revocation must last at least that long. Stores keep entries this much longer."""
DEFAULT_MAX_ENTRIES = 100_000
"""Live entries a :class:`MemoryRevocationStore` keeps by default (about 20 MB at most)."""

FAMILY_CLAIM = "fam"
"""The claim naming a refresh family: every token issued from one login shares it."""


@runtime_checkable
class RevocationStore(Protocol):
    """Where revocations are kept; :class:`~asgi_jwt.TokenVerifier` checks it on every request."""

    @property
    def ready(self) -> bool:
        """Whether :meth:`check` can answer now (the mirror is loaded and confirmed current)."""
        ...

    async def load(self) -> None:
        """Make :meth:`check` answer: the first load, or a resync; raise ``RevocationUnavailable`` if impossible."""
        ...

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise :class:`~asgi_jwt.TokenRevoked` for a revoked token; synchronous and local, no I/O."""
        ...

    async def revoke(self, jti: str, *, expires_at: float) -> None:
        """Revoke one token by its ``jti`` until ``expires_at`` (its ``exp``: after that it is dead anyway).

        Stores keep every entry :data:`EXPIRY_GRACE` seconds past its ``expires_at``, since
        verifiers accept a token up to their leeway past its ``exp``.
        """
        ...

    async def revoke_family(self, family: str, *, expires_at: float) -> None:
        """Revoke every token carrying this :data:`FAMILY_CLAIM` (a refresh token was reused, or logout)."""
        ...

    async def revoke_subject(self, subject: str, *, before: float, expires_at: float) -> None:
        """Refuse every token of ``subject`` issued (``iat``) before ``before``: "log out everywhere"."""
        ...

    async def spend(self, jti: str, *, expires_at: float) -> bool:
        """Mark a refresh token used; ``True`` only for the first caller (atomic across processes)."""
        ...

    async def startup(self) -> None:
        """Start background work (a subscription, a health check); optional to call: :meth:`load` suffices."""
        ...

    async def shutdown(self) -> None:
        """Stop background work and close connections."""
        ...


class MemoryRevocationStore:
    """Revocations kept in this process's memory: one worker, or tests.

    Every entry lives until the token it concerns would have expired anyway
    (``expires_at``, plus :data:`EXPIRY_GRACE` for the verifiers' leeway), then it is
    dropped, so the store holds only live revocations.
    It is bounded by ``max_entries``; when that many live entries exist, a new
    revocation is refused with :class:`~asgi_jwt.RevocationUnavailable` (a 503 at the
    endpoints, a warning in the log) rather than forgetting an older one: a revoked
    token never silently comes back. Size it for the revocations (logouts, spent
    refresh tokens) that can be alive at once: ``refresh_ttl`` times the refreshes
    per second, at most.

    Several worker processes each hold their own memory: a revocation made in one is
    not seen by the others. Use a shared store (``RedisRevocationStore``) for them.

    Args:
        max_entries: the most live entries (revoked ids, families, subjects and spent
            refresh tokens together).
        clock: returns the current time in seconds; injectable for tests.
    """

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.time) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError("max_entries must be a positive integer")
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning seconds")
        self.max_entries = max_entries
        self._clock = clock
        self._tokens: dict[str, float] = {}  # jti -> when the entry may go
        self._families: dict[str, float] = {}
        self._subjects: dict[str, tuple[float, float]] = {}  # sub -> (cut-off, when the entry may go)
        self._spent: dict[str, float] = {}
        self._tables: tuple[dict[str, Any], ...] = (self._tokens, self._families, self._subjects, self._spent)
        # (expires_at, table, key): the next entries to drop; stale rows (an entry extended since) are skipped.
        self._expiry: list[tuple[float, int, str]] = []

    @property
    def ready(self) -> bool:
        """Always: the list is this process's own memory."""
        return True

    async def load(self) -> None:
        """Nothing to load: the list lives here."""

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise :class:`~asgi_jwt.TokenRevoked` if the token's ``jti``, family or subject was revoked."""
        # Each table is consulted only when it holds something: an empty store costs three truth tests.
        # Only string claims are looked up, so an odd one (a list) is simply not found, never a TypeError.
        get = claims.get
        if self._tokens:
            jti = get("jti")
            if type(jti) is str and jti in self._tokens:
                raise TokenRevoked()
        if self._families:
            family = get(FAMILY_CLAIM)
            if type(family) is str and family in self._families:
                raise TokenRevoked()
        if self._subjects:
            subject = get("sub")
            cutoff = self._subjects.get(subject) if type(subject) is str else None
            if cutoff is not None:
                issued = get("iat")
                # Without iat the issue time is unknown: refused, as a token issued before the cut-off would be.
                if not isinstance(issued, _NUMBERS) or issued < cutoff[0]:
                    raise TokenRevoked()

    async def revoke(self, jti: str, *, expires_at: float) -> None:
        """Refuse the token with this ``jti`` until ``expires_at``."""
        self._put(_TOKENS, _checked_key(jti, "jti"), expires_at)

    async def revoke_family(self, family: str, *, expires_at: float) -> None:
        """Refuse every token of this refresh family until ``expires_at`` (the family's last expiry)."""
        self._put(_FAMILIES, _checked_key(family, "family"), expires_at)

    async def revoke_subject(self, subject: str, *, before: float, expires_at: float) -> None:
        """Refuse ``subject``'s tokens issued before ``before``; a later cut-off replaces an earlier one."""
        subject = _checked_key(subject, "subject")
        earlier = self._subjects.get(subject)
        if earlier is not None:
            before, expires_at = max(before, earlier[0]), max(expires_at, earlier[1])
        self._put(_SUBJECTS, subject, expires_at, before)

    async def spend(self, jti: str, *, expires_at: float) -> bool:
        """Mark a refresh token used: ``True`` for the first caller only.

        There is no ``await`` between the test and the mark, so two refreshes racing in
        one event loop cannot both win.
        """
        jti = _checked_key(jti, "jti")
        if jti in self._spent:
            return False
        self._put(_SPENT, jti, expires_at)
        return True

    async def startup(self) -> None:
        """Nothing runs in the background."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def __len__(self) -> int:
        return len(self._tokens) + len(self._families) + len(self._subjects) + len(self._spent)

    def __repr__(self) -> str:
        return f"MemoryRevocationStore(max_entries={self.max_entries}, entries={len(self)})"

    def _put(self, table: int, key: str, expires_at: float, before: float | None = None) -> None:
        if isinstance(expires_at, bool) or not isinstance(expires_at, int | float) or math.isnan(expires_at):
            raise TypeError("expires_at must be a time in seconds")
        self._expire(self._clock())
        entries = self._tables[table]
        if key not in entries and len(self) >= self.max_entries:
            logger.warning("revocation store full (%d live entries): revocation refused", self.max_entries)
            raise RevocationUnavailable("The revocation list is full")
        entries[key] = expires_at if before is None else (before, expires_at)
        heapq.heappush(self._expiry, (expires_at, table, key))
        if len(self._expiry) > 2 * self.max_entries:  # many updates of the same keys: rebuild from the live set
            live = enumerate(self._tables)
            self._expiry = [(_expiry_of(value), index, k) for index, t in live for k, value in t.items()]
            heapq.heapify(self._expiry)

    def _expire(self, now: float) -> None:
        """Drop the entries whose tokens have expired: they would be refused anyway."""
        expiry, tables = self._expiry, self._tables
        while expiry and expiry[0][0] + EXPIRY_GRACE < now:
            expires_at, table, key = heapq.heappop(expiry)
            value = tables[table].get(key)
            if value is not None and _expiry_of(value) == expires_at:  # not extended since
                del tables[table][key]


_TOKENS, _FAMILIES, _SUBJECTS, _SPENT = range(4)
_NUMBERS = (int, float)  # a tuple: isinstance with int | float builds a union object on every call


def _expiry_of(value: float | tuple[float, float]) -> float:
    return value[1] if isinstance(value, tuple) else value


def _checked_key(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string")
    return value
