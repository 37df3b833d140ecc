"""A process-local copy of a shared denylist: what a shared revocation store checks tokens against.

Entries are keyed by kind (``jti``, refresh family, subject) and carry the time they may be
forgotten. They only ever grow (a later expiry or cut-off wins), so copies merged in any
order, or twice, agree. Expired entries leave through a heap, a few at a time, never in a
pass over everything.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

from asgi_jwt.errors import TokenRevoked
from asgi_jwt.revocation import FAMILY_CLAIM

__all__ = ["FAMILY", "JTI", "KINDS", "SUBJECT", "Mirror"]

JTI, FAMILY, SUBJECT = "jti", "fam", "sub"
KINDS = (JTI, FAMILY, SUBJECT)


class Mirror:
    """Revoked ``jti`` values, families and subject cut-offs, each with the time it may be forgotten."""

    def __init__(self) -> None:
        self.jtis: dict[str, float] = {}
        self.families: dict[str, float] = {}
        self.subjects: dict[str, float] = {}  # subject -> when its cut-off may be forgotten
        self.cutoffs: dict[str, float] = {}  # subject -> tokens issued before this are refused
        self._tables = {JTI: self.jtis, FAMILY: self.families, SUBJECT: self.subjects}
        self._expiries: list[tuple[float, str, str]] = []  # (expiry, kind, member); stale rows are skipped

    def __len__(self) -> int:
        return len(self.jtis) + len(self.families) + len(self.subjects)

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise :class:`~asgi_jwt.TokenRevoked` if the token's ``jti``, family or subject was revoked."""
        # Each table is consulted only when it holds something; only string claims are looked up,
        # so an odd claim (a list) is simply not found, never a TypeError.
        if self.jtis:
            jti = claims.get("jti")
            if type(jti) is str and jti in self.jtis:
                raise TokenRevoked()
        if self.families:
            family = claims.get(FAMILY_CLAIM)
            if type(family) is str and family in self.families:
                raise TokenRevoked()
        if self.cutoffs:
            subject = claims.get("sub")
            cutoff = self.cutoffs.get(subject) if type(subject) is str else None
            if cutoff is not None:
                issued = claims.get("iat")
                # Without iat the issue time is unknown: refused, as a token issued before the cut-off would be.
                if not isinstance(issued, (int, float)) or isinstance(issued, bool) or issued < cutoff:
                    raise TokenRevoked()

    def add(self, kind: str, member: str, expiry: float, before: float | None = None) -> None:
        """Merge one entry: the later expiry and the later cut-off win."""
        entries = self._tables[kind]
        known = entries.get(member)
        if known is None or known < expiry:
            entries[member] = expiry
            heapq.heappush(self._expiries, (expiry, kind, member))
        if before is not None and self.cutoffs.get(member, float("-inf")) < before:
            self.cutoffs[member] = before

    def sweep(self, now: float) -> None:
        """Forget the entries that may be forgotten by ``now``."""
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expiry, kind, member = heapq.heappop(heap)
            entries = self._tables[kind]
            if entries.get(member) == expiry:  # not extended since
                del entries[member]
                if kind == SUBJECT:
                    self.cutoffs.pop(member, None)
