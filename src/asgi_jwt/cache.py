"""The verified-token cache: a token seen before skips the signature and the parsing.

Most requests carry a token the service has already verified (a client sends the
same access token until it expires), and verifying it again costs an HMAC or an
RSA/ECDSA operation plus base64url and JSON decoding. The cache maps the exact token
string to its verified claims, so a repeated token costs one dictionary lookup. What
a hit still does, every time:

- ``exp``, ``nbf`` and ``iat`` are checked against the clock again
  (:meth:`ClaimRules.check_times <asgi_jwt.claims.ClaimRules.check_times>`), so a
  token that expires while cached is rejected from that moment on, and dropped;
- the resolver's ``version`` is compared with the one the entries were verified
  under: when the key set changes (a key rotated out, a JWKS refresh) every entry is
  dropped, so a token signed by a removed key is never accepted from the cache. A
  :class:`~asgi_jwt.JWKSResolver` also moves its version when its keys' TTL runs out
  (and every ``cooldown`` while refreshes fail), so no entry outlives the keys it was
  verified with: the next use goes through ``resolve``, which starts the refresh. A
  resolver without ``version`` cannot say when its keys change, so its entries live
  at most :data:`UNVERSIONED_TTL` seconds.

The string is a key for saving work only, never for a security decision: an ECDSA
token has a second valid spelling (``s`` replaced by ``n - s``), which is one more
entry within the same bound and verifies to the same claims.

Only successes are stored: a token that failed is verified again (and fails again)
each time it comes back. The cache is bounded (least recently used entries go
first) and a lookup is synchronous, so the middleware serves a hit without an
``await``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from asgi_jwt.claims import ClaimRules, Claims
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.keys import KeyPair, KeyResolver, PublicKey, RotatingKeys, SecretKey, VersionedKeyResolver

__all__ = ["DEFAULT_CACHE_SIZE", "ENTRY_BYTES", "ENTRY_RESIDENT_BYTES", "UNVERSIONED_TTL", "VerifiedTokenCache"]

DEFAULT_CACHE_SIZE = 10_000
"""Entries kept by default: enough for the active tokens of a busy service."""
UNVERSIONED_TTL = 30.0
"""Seconds an entry lives when the resolver has no ``version`` to say its keys changed."""
ENTRY_BYTES = 3_000
"""Live memory of one entry, measured for a typical access token (about 300 characters,
7 claims) through the middleware: about 2.7 KB, rounded up (30 MB at the default size),
of which about 0.4 KB is the middleware's note of the ``Authorization`` header that
carried it, made from the token's second sight on. Larger tokens and claim sets cost
proportionally more; ``max_token_size`` bounds the token itself."""
ENTRY_RESIDENT_BYTES = 6_000
"""What one entry may add to the process's resident memory once the allocator's
fragmentation is counted: entries replaced one by one leave partly used arenas behind.
Measured: 55.5 MB for the default 10,000 entries after a million distinct tokens, and no
further growth over a second million (``python -m benchmarks.memory``)."""


_EXACT = 2**53  # every integer up to here is exactly a float


def _as_float(value: float) -> float:
    """A claim's time as a float, so a hit compares float with float (an int makes Python take a slower path).

    Exact below 2**53; beyond that, where a float would round, the int stays, so
    hits decide exactly as :meth:`ClaimRules.check_times` for any clock.
    """
    return float(value) if -_EXACT < value < _EXACT else value


# One verified token: (claims, expires, not_before, deadline), the clock window in which a hit may return
# the claims. ``expires`` is the token's ``exp`` (whole seconds, as ``check_times`` compares it), or the end
# of the entry's lifetime shifted by the leeway when that comes first, so one comparison covers both;
# ``not_before`` is the later of ``nbf`` and ``iat``. A tuple: built without a Python call on every miss.
_Entry = tuple[Claims, float, float, float]


class VerifiedTokenCache:
    """A bounded LRU map from token string to verified claims, tied to a key set.

    Args:
        max_size: the most entries kept (at least 1); the least recently used go first.
        keys: the verifier's resolver, whose ``version`` (if any) invalidates entries.
        rules: the verifier's claim rules; their clock and leeway apply to hits.
        ttl: the longest an entry lives, in seconds. ``None`` means "until the token
            expires or the keys change" for a resolver with a ``version``, and
            :data:`UNVERSIONED_TTL` for one without.
    """

    def __init__(self, max_size: int, *, keys: KeyResolver, rules: ClaimRules, ttl: float | None = None) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ConfigurationError("cache_size must be a positive integer (or 0 to disable the cache)")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0):
            raise ConfigurationError("cache_ttl must be a positive number of seconds")
        self.max_size = max_size
        self._keys = keys
        self._rules = rules
        self._clock = rules.clock
        versioned = isinstance(keys, VersionedKeyResolver)
        if ttl is None:
            ttl = math.inf if versioned else UNVERSIONED_TTL
        # Our own static key types are immutable (rotation builds a new one): their version never moves.
        self._versioned = versioned and type(keys) not in (SecretKey, PublicKey, KeyPair, RotatingKeys)
        self.ttl = float(ttl)
        self._leeway = rules.leeway
        self._version: Any = keys.version if self._versioned else None  # type: ignore[attr-defined]
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Claims | None:
        """The claims of a token verified before, ``None`` on a miss.

        Raises the time error (:class:`~asgi_jwt.TokenExpired`, …) when the cached
        token is no longer valid now; the entry is dropped.
        """
        entry = self._entries.get(token)
        if entry is None:
            return None
        now = self._clock()
        # The same comparisons as ClaimRules.check_times, on numbers taken from the claims once.
        if now - self._leeway >= entry[1] or now + self._leeway < entry[2]:
            self._entries.pop(token, None)
            if now < entry[3]:  # not the end of the entry's lifetime: the token itself is out of date
                self._rules.check_times(entry[0])  # raises the precise error (expired, not yet valid)
            return None
        if self._versioned and self._keys.version != self._version:  # type: ignore[attr-defined]
            self._entries.clear()  # the key set changed or came due: nothing verified under the old one stays
            self._version = self._keys.version  # type: ignore[attr-defined]
            return None
        try:  # noqa: SIM105 (contextlib.suppress would cost a context manager on every hit)
            self._entries.move_to_end(token)
        except KeyError:  # dropped meanwhile by another thread sharing this verifier
            pass
        return entry[0]

    def version(self) -> Any:
        """The resolver's key-set version now; pass it to :meth:`put` after verifying."""
        return self._keys.version if self._versioned else None  # type: ignore[attr-defined]

    def put(self, token: str, claims: Claims, version: Any) -> None:
        """Remember a verified token (its claims passed the rules), unless the keys changed meanwhile.

        ``version`` is what :meth:`version` returned *before* the keys were
        resolved: a token verified with a key that has meanwhile gone is not stored.
        """
        if self._versioned:
            current = self._keys.version  # type: ignore[attr-defined]
            if current != self._version:
                self._entries.clear()
                self._version = current
            if version != current:
                return
        # The claims passed ClaimRules.check, so the times are numbers (or absent).
        data = claims._data if type(claims) is Claims else claims  # our own: the dict's get, not a Python call
        exp, nbf, iat = data.get("exp"), data.get("nbf"), data.get("iat")
        deadline = self._clock() + self.ttl
        expires = deadline - self._leeway
        if exp is not None:
            expires = min(_as_float(math.floor(exp)), expires)
        if nbf is None:
            not_before = -math.inf if iat is None else _as_float(iat)
        else:
            not_before = _as_float(nbf) if iat is None else max(_as_float(nbf), _as_float(iat))
        entries = self._entries
        size = len(entries)
        entries[token] = (claims, expires, not_before, deadline)
        if len(entries) == size:  # replaced an entry (two requests verified it at once): now the most recent
            entries.move_to_end(token)
        elif size >= self.max_size:  # a new key goes last by itself; only a full cache has bookkeeping to do
            while len(entries) > self.max_size:
                try:
                    entries.popitem(last=False)
                except KeyError:  # emptied meanwhile by another thread (a key-set change)
                    break

    def clear(self) -> None:
        """Forget every entry (a key was compromised, a user's tokens must stop working now)."""
        self._entries.clear()

    def __repr__(self) -> str:
        return f"VerifiedTokenCache(max_size={self.max_size}, entries={len(self._entries)}, ttl={self.ttl})"
