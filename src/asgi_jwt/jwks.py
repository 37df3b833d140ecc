"""Remote JWK Sets: the keys an identity provider publishes, fetched, cached and kept through outages.

This is the only module that fetches keys over the network, and it does so only
from URLs the application configured: ``jku``, ``x5u``, ``x5c`` and ``jwk`` token
headers are never looked at (a token must not choose the key that verifies it).

:class:`JWKSResolver` is built to survive what takes services down in practice:

* a key rotation: a token with an unknown ``kid`` triggers one refetch, and the
  request that triggered it is verified with the new keys;
* a ``kid`` flood: at most one fetch per ``cooldown``, shared by every waiting
  request (single-flight), and ``kid`` values still unknown after a refetch are
  remembered until the next refresh;
* an identity-provider outage: the last good keys keep serving for ``stale_for``
  seconds after their TTL, with a warning; after that, requests fail closed with
  :class:`~asgi_jwt.KeysUnavailable` (503 and ``Retry-After``, never 401 or 500);
* a broken or hostile endpoint: a total timeout, a cap on the body size (counted
  while streaming, after decompression), strict JSON, and per-key checks. Keys that
  cannot verify signatures are skipped; a set that publishes *private* key material
  is refused whole, and logged as the incident it is.

Parsing lives in :mod:`asgi_jwt.jwkset`, the HTTP plumbing in ``asgi_jwt._http``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from asgi_jwt._checks import is_int
from asgi_jwt._http import Fetcher, FetchFailed, check_url, discover_jwks_uri, ttl_for
from asgi_jwt.errors import ConfigurationError, JWKSError, KeysUnavailable, MalformedToken
from asgi_jwt.jwkset import JWKSet, UnusableKeySet, parse_jwk_set
from asgi_jwt.keys import VerificationKey

__all__ = ["JWKSError", "JWKSResolver", "JWKSet"]

logger = logging.getLogger("asgi_jwt.jwks")

DEFAULT_TTL = 300.0
"""Seconds a fetched key set is used before it is refreshed (when the server sends no ``max-age``)."""
DEFAULT_MIN_TTL = 60.0
DEFAULT_MAX_TTL = 3600.0
DEFAULT_COOLDOWN = 30.0
"""Least number of seconds between two fetches, whatever the ``kid`` values tokens carry."""
DEFAULT_STALE_FOR = 6 * 3600.0
"""Seconds the last good keys keep serving past their TTL while refreshes fail."""
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 512 * 1024
_NEGATIVE_CACHE_SIZE = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class _KeyState:
    """The keys in use and their lifetimes, replaced whole by each fetch: readers never see half an update."""

    keys: JWKSet | None = None
    body: bytes | None = None  # the raw answer: the same body again is not parsed again
    version: int = 0
    fetched_at: float = 0.0
    expires_at: float = 0.0
    stale_until: float = 0.0
    retry_every: float = 1.0  # the resolver's cooldown: how often a stale set is due again

    def usable(self, now: float) -> JWKSet | None:
        """The keys, unless there are none or they are past their stale period."""
        return self.keys if now < self.stale_until else None

    def version_at(self, now: float) -> int:
        """The version callers see now: it also moves when the keys come due, then every ``retry_every``.

        Keys past their TTL must be confirmed before what was verified under them is
        trusted again: caches of verified tokens see the move on their next hit (a read,
        no I/O) and send the token through ``resolve``, which starts the refresh.
        """
        if now < self.expires_at or self.keys is None:
            return self.version
        if now >= self.stale_until:
            return self.version + 2 + math.ceil((self.stale_until - self.expires_at) / self.retry_every)
        return self.version + 1 + int((now - self.expires_at) // self.retry_every)


def _positive(value: float, what: str, *, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{what} must be a number of seconds")
    if value < 0 or (value == 0 and not zero):
        raise ConfigurationError(f"{what} must be {'zero or more' if zero else 'more than zero'}, not {value}")
    return float(value)


class JWKSResolver:
    """Keys from a remote JWK Set, cached, refreshed, and kept through outages.

    Args:
        url: the JWK Set URL (``jwks_uri``). Or leave it out and pass ``issuer``.
        issuer: discover ``jwks_uri`` from this issuer's OpenID configuration on
            the first fetch (see :meth:`from_issuer` to discover at once).
        client: an ``httpx.AsyncClient`` to fetch with (its proxies, certificates,
            transport); by default a short-lived client per fetch.
        ttl: seconds to use a fetched set when the response has no
            ``Cache-Control: max-age`` (default 300).
        min_ttl: the least a server's ``max-age`` is raised to (default 60).
        max_ttl: the most a server's ``max-age`` is lowered to (default 3600).
        cooldown: least seconds between two fetches (default 30): tokens with
            unknown ``kid`` values cannot make us fetch more often than this.
        stale_for: seconds the last good keys keep serving past their TTL while
            refreshes fail (default 6 hours); then requests get 503.
        timeout: seconds one fetch may take in all (default 5).
        max_bytes: largest response body accepted (default 512 KiB).
        fail_on_startup: make :meth:`startup` raise when the keys cannot be
            fetched, so the app does not start; by default it starts and answers
            503 until the keys arrive.
        clock: monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        issuer: str | None = None,
        client: httpx.AsyncClient | None = None,
        ttl: float = DEFAULT_TTL,
        min_ttl: float = DEFAULT_MIN_TTL,
        max_ttl: float = DEFAULT_MAX_TTL,
        cooldown: float = DEFAULT_COOLDOWN,
        stale_for: float = DEFAULT_STALE_FOR,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fail_on_startup: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (issuer is None):
            raise ConfigurationError("JWKSResolver needs the JWK Set url, or issuer= to discover it (not both)")
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise ConfigurationError("client must be an httpx.AsyncClient (fetching must not block the event loop)")
        if not is_int(max_bytes) or max_bytes < 1024:
            raise ConfigurationError("max_bytes must be an integer of at least 1024")
        self._url = None if url is None else check_url(url, "the JWK Set url")
        self._issuer = None if issuer is None else check_url(issuer, "the issuer")
        self._min_ttl = _positive(min_ttl, "min_ttl")
        self._max_ttl = _positive(max_ttl, "max_ttl")
        self._ttl = _positive(ttl, "ttl")
        if not self._min_ttl <= self._ttl <= self._max_ttl:
            raise ConfigurationError(f"ttl must lie between min_ttl ({min_ttl}) and max_ttl ({max_ttl})")
        self._cooldown = _positive(cooldown, "cooldown")
        self._stale_for = _positive(stale_for, "stale_for", zero=True)
        self._fetcher = Fetcher(client, timeout=_positive(timeout, "timeout"), max_bytes=max_bytes)
        self._fail_on_startup = fail_on_startup
        self._clock = clock
        self._state = _KeyState()
        self._unknown_kids: set[str] = set()  # still unknown after a refetch of the current set
        self._last_attempt: float | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None

    @classmethod
    async def from_issuer(cls, issuer: str, **options: Any) -> JWKSResolver:
        """Discover the JWK Set URL of ``issuer`` now (OpenID Connect Discovery, else RFC 8414).

        The discovery document's ``issuer`` must equal ``issuer`` exactly (a trailing
        slash counts). Raises :class:`~asgi_jwt.JWKSError` when discovery fails.
        ``options`` are those of the constructor.
        """
        resolver = cls(issuer=issuer, **options)
        try:
            resolver._url = await discover_jwks_uri(resolver._fetcher, issuer)
        except FetchFailed as exc:
            raise JWKSError(f"discovery for the issuer {issuer!r} failed: {exc}") from None
        return resolver

    @property
    def url(self) -> str | None:
        """The JWK Set URL (``None`` until discovery has found it)."""
        return self._url

    @property
    def ready(self) -> bool:
        """True while keys are loaded and usable (fresh, or stale within ``stale_for``)."""
        return self._state.usable(self._clock()) is not None

    @property
    def version(self) -> int:
        """Changes whenever the usable key set changes or comes due (TTL over, every ``cooldown`` while stale).

        The verified-token cache drops its entries when this moves: no cached token outlives its keys' TTL.
        """
        return self._state.version_at(self._clock())

    @property
    def key_set(self) -> JWKSet | None:
        """The keys in use now, or ``None``."""
        return self._state.usable(self._clock())

    @property
    def fetching(self) -> bool:
        """True while a fetch is under way (one requests wait for, or a refresh in the background)."""
        return self._inflight is not None

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedToken()
        now = self._clock()
        state = self._state
        keys = state.usable(now)
        if keys is None:
            keys = await self._fetch_missing_keys(now)
        elif now >= state.expires_at and self._inflight is None and self._may_fetch(now):
            self._start_fetch()  # stale-while-revalidate: this request goes on with the keys we have
        if kid is not None and kid not in keys and kid not in self._unknown_kids:
            keys = await self._refetch_for(kid, keys)
        return keys.select(header)

    async def refresh(self) -> None:
        """Fetch the key set now (joining a fetch already under way); raise :class:`~asgi_jwt.JWKSError` on failure.

        For an application's own lifespan: ``await keys.refresh()`` before serving.
        """
        await self._fetch()

    async def startup(self) -> None:
        """Warm up: fetch the keys before the first request. :class:`JWTAuthMiddleware` calls this.

        If the fetch fails, the app starts anyway (a warning is logged, requests get
        503 and the fetch is retried in the background every ``cooldown``), unless
        ``fail_on_startup`` is set, in which case :class:`~asgi_jwt.JWKSError` is raised.
        """
        try:
            await self.refresh()
        except JWKSError:
            if self._fail_on_startup:
                raise
            logger.warning(
                "starting without the keys from %s: requests are answered 503 until they can be fetched "
                "(retrying every %g s)",
                self._source,
                self._cooldown,
            )
            if self._retry is None or self._retry.done():
                self._retry = asyncio.get_running_loop().create_task(self._retry_until_loaded())

    async def shutdown(self) -> None:
        """Stop background work (the start-up retry, a fetch under way)."""
        for task in (self._retry, self._inflight):
            if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, JWKSError):
                    await task
        self._retry = None
        self._inflight = None

    @property
    def _source(self) -> str:
        return self._url or f"the issuer {self._issuer}"

    def _may_fetch(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self._cooldown

    def _unavailable(self) -> KeysUnavailable:
        waited = 0.0 if self._last_attempt is None else self._clock() - self._last_attempt
        return KeysUnavailable(retry_after=max(1, math.ceil(self._cooldown - waited)))

    def _give_up_stale_keys(self, now: float) -> None:
        state = self._state
        if state.keys is None or now < state.stale_until:
            return
        logger.error(
            "the keys from %s could not be refreshed for %.0f s past their expiry; they are no longer used "
            "and requests are answered 503 until a fetch succeeds",
            self._source,
            now - state.expires_at,
        )
        self._state = dataclasses.replace(state, keys=None, body=None, version=state.version_at(now))

    async def _fetch_missing_keys(self, now: float) -> JWKSet:
        """No usable keys: fetch now (once per cooldown), or fail closed with a 503."""
        self._give_up_stale_keys(now)
        if self._inflight is None and not self._may_fetch(now):
            raise self._unavailable()
        try:
            await self._fetch()
        except JWKSError as exc:
            raise self._unavailable() from exc
        keys = self._state.usable(self._clock())
        if keys is None:
            raise self._unavailable()
        return keys

    async def _refetch_for(self, kid: str, keys: JWKSet) -> JWKSet:
        """An unknown ``kid``: maybe a rotation, so refetch (within the cooldown) and look again."""
        if self._inflight is None and not self._may_fetch(self._clock()):
            return keys
        try:
            await self._fetch()
            fetched = True
        except JWKSError:
            fetched = False
        fresh = self._state.usable(self._clock())
        if fresh is None:
            raise self._unavailable()
        if fetched and kid not in fresh:
            if len(self._unknown_kids) >= _NEGATIVE_CACHE_SIZE:
                self._unknown_kids.clear()
            self._unknown_kids.add(kid)
        return fresh

    def _start_fetch(self) -> asyncio.Task[None]:
        task = self._inflight
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._attempt(), name="asgi-jwt JWKS fetch")
            # A background refresh may have nobody awaiting it: its failure is logged, not left unretrieved.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._inflight = task
        return task

    async def _fetch(self) -> None:
        """Single-flight: every caller shares the one fetch under way; a caller's cancellation spares it."""
        await asyncio.shield(self._start_fetch())

    async def _attempt(self) -> None:
        """One fetch: the new state, or a :class:`~asgi_jwt.JWKSError` (logged here) naming the URL and why."""
        self._last_attempt = self._clock()
        try:
            if self._url is None:
                self._url = await discover_jwks_uri(self._fetcher, self._issuer or "")
            body, headers = await self._fetcher.get(self._url)
            self._store(self._url, body, headers.get("cache-control"))
        except (FetchFailed, UnusableKeySet) as exc:
            self._log_failure(exc)
            raise JWKSError(f"could not load the JWK Set from {self._source}: {exc}") from None
        except Exception as exc:
            logger.exception("fetching the JWK Set from %s failed unexpectedly", self._source)
            raise JWKSError(f"could not load the JWK Set from {self._source}: unexpected {type(exc).__name__}") from exc
        finally:
            if self._inflight is asyncio.current_task():
                self._inflight = None

    def _store(self, url: str, body: bytes, cache_control: str | None) -> None:
        now = self._clock()
        previous = self._state
        current = previous.usable(now)
        version = previous.version_at(now)
        if current is not None and body == previous.body:
            keys = current  # the same answer again: nothing to parse
        else:
            keys = parse_jwk_set(body, source="the response", where=f"the JWK Set at {url}")
            if current is None or keys.fingerprint != current.fingerprint:
                version += 1
                logger.info("loaded %d keys from %s (kids: %s)", len(keys.verification_keys), url, sorted(keys.kids))
        ttl = ttl_for(cache_control, default=self._ttl, minimum=self._min_ttl, maximum=self._max_ttl)
        self._state = _KeyState(keys, body, version, now, now + ttl, now + ttl + self._stale_for, self._cooldown)
        self._unknown_kids = set()

    def _log_failure(self, error: Exception) -> None:
        if isinstance(error, UnusableKeySet) and error.incident:
            logger.error(
                "SECURITY: refused the JWK Set from %s: %s. Treat this as a key compromise at the identity provider.",
                self._source,
                error,
            )
            return
        now = self._clock()
        state = self._state
        if state.usable(now) is not None:
            logger.warning(
                "refreshing the JWK Set from %s failed (%s); still using the keys fetched %.0f s ago, "
                "for at most %.0f s more",
                self._source,
                error,
                now - state.fetched_at,
                state.stale_until - now,
            )
        else:
            logger.warning(
                "fetching the JWK Set from %s failed (%s); requests are answered 503 until it succeeds",
                self._source,
                error,
            )

    async def _retry_until_loaded(self) -> None:
        while self._state.usable(self._clock()) is None:
            await asyncio.sleep(self._cooldown)
            if self._inflight is None and self._state.usable(self._clock()) is None:
                with contextlib.suppress(JWKSError):  # logged by the fetch; try again after the cooldown
                    await self._fetch()

    def __repr__(self) -> str:
        ready = self._state.keys is not None
        return f"JWKSResolver({self._source!r}, version={self._state.version}, ready={ready})"
