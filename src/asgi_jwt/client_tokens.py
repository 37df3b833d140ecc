"""The token a client sends: when to renew it, and one renewal shared by every thread and task.

A renewal under way is a :class:`_Flight`: the first caller to find the token due
fetches, every other caller (a thread blocking, a task on any event loop) waits for
that one result, error included. No asyncio lock is involved, so one ``BearerAuth``
serves sync clients in threads and async clients on several loops at once.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import inspect
import json
import logging
import math
import re
import threading
from base64 import urlsafe_b64decode
from collections.abc import Awaitable, Callable

__all__ = ["ClientTokens", "TokenSource", "check_token"]

logger = logging.getLogger("asgi_jwt.client")

TokenSource = Callable[[], "str | Awaitable[str]"]
"""A callable returning a token, or an awaitable of one: ``BearerAuth(refresh=...)``."""

# RFC 6750 §2.1 b64token: what may follow "Bearer " in a header.
_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


class _Flight:
    """One renewal under way, which every thread and task that needs a token waits for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: str | None = None
        self.error: BaseException | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()

    def finish(self, token: str | None, error: BaseException | None) -> None:
        with self._lock:
            self.token, self.error = token, error
            self.done.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:  # each waiter is woken on its own event loop, whichever thread it runs in
            # A waiter whose loop has ended since (it was cancelled, its asyncio.run is over) needs nothing.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.done.is_set():
                return
            self._waiters.append((loop, future))
        await future

    def outcome(self) -> str:
        if self.error is not None:
            raise self.error
        assert self.token is not None  # noqa: S101  # finish() sets one or the other
        return self.token


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ClientTokens:
    """The current token and when it is due; ``fetch`` gives a new one (``None``: a fixed token)."""

    def __init__(self, fetch: TokenSource | None, token: str | None, margin: float, clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._flight: _Flight | None = None
        self._token = token
        self._renew_at = math.inf

    @property
    def renewable(self) -> bool:
        return self._fetch is not None

    def get(self, stale: str | None = None) -> str:
        """The token to send; a new one when the current one is due or is ``stale`` (refused by the server)."""
        while True:
            joined = self._join(stale)
            if isinstance(joined, str):
                return joined
            flight, leader = joined
            if leader:
                try:
                    token = self._fetch_here()
                except BaseException as exc:
                    self._finish(flight, None, exc)
                    raise
                self._finish(flight, token, None)
            else:
                flight.done.wait()
            if not isinstance(flight.error, asyncio.CancelledError):  # a cancelled leader: try again ourselves
                return flight.outcome()

    async def aget(self, stale: str | None = None) -> str:
        """:meth:`get` for a task: waits without blocking its event loop, and may await the source."""
        while True:
            joined = self._join(stale)
            if isinstance(joined, str):
                return joined
            flight, leader = joined
            if leader:
                try:
                    value = self._fetch()  # type: ignore[misc]  # _join leads only with a source
                    token = await value if inspect.isawaitable(value) else value
                except BaseException as exc:
                    self._finish(flight, None, exc)
                    raise
                self._finish(flight, token, None)
            else:
                await flight.wait()
            if not isinstance(flight.error, asyncio.CancelledError):
                return flight.outcome()

    def _join(self, stale: str | None) -> str | tuple[_Flight, bool]:
        """The token if it is good, else the renewal to wait for, and whether we lead it."""
        with self._lock:
            if stale is not None and self._token == stale and self._fetch is not None:
                self._token = None
            if self._token is not None and (self._fetch is None or self._clock() < self._renew_at):
                return self._token
            if self._flight is None:
                self._flight = _Flight()
                return self._flight, True
            return self._flight, False

    def _fetch_here(self) -> object:
        value = self._fetch()  # type: ignore[misc]
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()  # no "never awaited" warning for a coroutine we cannot run here
            raise TypeError("BearerAuth: an async token source needs an async client (httpx.AsyncClient)")
        return value

    def _finish(self, flight: _Flight, token: object, error: BaseException | None) -> None:
        checked = None
        if error is None:
            try:
                checked = check_token(token, "the token source")
            except TypeError as exc:
                error = exc
        with self._lock:
            self._flight = None
            if checked is not None:
                self._token = checked
                self._renew_at = renew_at(checked, self._clock(), self._margin)
                logger.debug("obtained a new bearer token (renewed in %.0f s)", self._renew_at - self._clock())
        flight.finish(checked, error)


def check_token(token: object, source: str) -> str:
    if not isinstance(token, str) or not _B64TOKEN.fullmatch(token):
        raise TypeError(f"BearerAuth: {source} must give a non-empty token of printable ASCII without spaces")
    return token


def renew_at(token: str, now: float, margin: float) -> float:
    """When to renew: ``margin`` before ``exp``, or halfway for short-lived tokens; never without ``exp``."""
    expires = _unverified_exp(token)
    if expires is None:
        return math.inf  # an opaque token or one without exp: used until the server refuses it
    return expires - min(margin, max(expires - now, 0.0) / 2)


def _unverified_exp(token: str) -> float | None:
    """The ``exp`` of a JWT we were given to send. Not verified: we only decide when to ask again."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
