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

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["FAMILY_CLAIM", "RevocationStore"]

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
        """Revoke one token by its ``jti`` until ``expires_at`` (its ``exp``: after that it is dead anyway)."""
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
