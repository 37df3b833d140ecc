"""Binding each MCP session to the caller that opened it (``protect_mcp(bind_sessions=True)``).

Every request is authenticated and authorized on its own token, so a session is
never a credential. But a stateful session also carries the server's messages to
its client (the GET event stream), and the MCP security guidance asks servers to
bind session IDs to the user: with this on, a request that names a session opened
by another principal (issuer and identity) is answered as if the session did not
exist, a 404, as the SDK answers with its own auth.
"""

from __future__ import annotations

from collections.abc import Hashable

from starlette.types import Message, Scope, Send

__all__ = ["MAX_SESSIONS", "SessionOwners"]

MAX_SESSIONS = 100_000
"""Sessions remembered; beyond it the oldest are forgotten (and so unbound, not refused)."""
_HEADER = b"mcp-session-id"


class SessionOwners:
    """Session ID to its opener's principal, learnt from the answers that hand out a session ID."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._owners: dict[bytes, Hashable] = {}
        self._limit = limit

    def refuses(self, scope: Scope, principal: Hashable) -> bool:
        """Whether the request names a session that someone else opened."""
        session = _session_of(scope)
        return session is not None and self._owners.get(session, principal) != principal

    def watch(self, scope: Scope, send: Send, principal: Hashable) -> Send:
        """A ``send`` that records the session an answer opens, and forgets one a DELETE ends."""
        session = _session_of(scope)
        if session is not None:
            if scope["method"] != "DELETE":
                return send
            owners = self._owners

            async def forget(message: Message) -> None:
                if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                    owners.pop(session, None)
                await send(message)

            return forget

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start":
                opened = next((value for name, value in message.get("headers", ()) if name.lower() == _HEADER), None)
                if opened is not None:
                    if len(self._owners) >= self._limit:
                        del self._owners[next(iter(self._owners))]
                    self._owners[opened] = principal
            await send(message)

        return remember


def _session_of(scope: Scope) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == _HEADER), None)
