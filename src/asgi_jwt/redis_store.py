"""Revocation shared by every process through Redis, checked from a local mirror.

Each process keeps the live denylist in memory and answers :meth:`check` from it,
so a request costs a few dictionary lookups and no network round trip. A
background task keeps the mirror current: it subscribes to a channel every write
is published on (inside the same Lua script as the write, so none goes
unannounced), takes a snapshot once subscribed, and sends a ``PING`` down the
subscription every ``health_interval``. Redis answers a subscribed connection in
order, so a ``PONG`` proves every revocation published before the ``PING`` has
arrived: the mirror is confirmed current as of when the ``PING`` was sent. When
no confirmation is younger than ``max_staleness``, the store is not
:attr:`~RedisRevocationStore.ready` and refuses to vouch for any token
(:class:`~asgi_jwt.RevocationUnavailable`, 503), unless built with
``fail_open=True``. After any lost connection it reconnects and resynchronises.

Redis holds one sorted set per kind (``jti``, family, subject) scored by expiry;
each write trims expired members and sets the key to expire with its last entry.
Revocations only ever grow: a later write extends an expiry or a subject's
cut-off, never shortens it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

try:
    import redis.asyncio as redis
    from redis.asyncio.client import PubSub
    from redis.asyncio.connection import parse_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("RedisRevocationStore needs redis-py: pip install 'asgi-jwt[redis]'") from exc

from asgi_jwt.errors import ConfigurationError, RevocationUnavailable
from asgi_jwt.mirror import FAMILY, JTI, KINDS, SUBJECT, Mirror
from asgi_jwt.revocation import EXPIRY_GRACE, _checked_key

__all__ = ["RedisRevocationStore"]

logger = logging.getLogger("asgi_jwt.revocation")

_INDEX = {JTI: "1", FAMILY: "2", SUBJECT: "3"}  # the order of the script's KEYS
_NAMES = {JTI: "jti", FAMILY: "family", SUBJECT: "subject"}
_CONNECTIONS = 32  # per process: the subscription, and writes in flight
_GRACE = 0.05  # seconds of a last read for an overdue PONG
_monotonic = time.monotonic  # bound once: it runs on every request
_FAILURES = (RedisError, OSError, TimeoutError, asyncio.TimeoutError)

# KEYS: the sorted sets (member -> expiry) of jti, families and subjects, then the subjects' cut-off hash.
# ARGV: now, which set (1-3), member, expiry, cut-off ('' for none), channel, message, max entries.
# Returns 0 when the list is full (the member is new and max entries are live), else 1.
_REVOKE = """
local zset, cutoffs, now = KEYS[tonumber(ARGV[2])], KEYS[4], ARGV[1]
local dead = redis.call('ZRANGEBYSCORE', zset, '-inf', '(' .. now, 'LIMIT', 0, 500)
if #dead > 0 then
  redis.call('ZREM', zset, unpack(dead))
  if ARGV[2] == '3' then redis.call('HDEL', cutoffs, unpack(dead)) end
end
local current = redis.call('ZSCORE', zset, ARGV[3])
if not current then
  local live = 0
  for i = 1, 3 do live = live + redis.call('ZCOUNT', KEYS[i], now, '+inf') end
  if live >= tonumber(ARGV[8]) then return 0 end
end
if not current or tonumber(current) < tonumber(ARGV[4]) then redis.call('ZADD', zset, ARGV[4], ARGV[3]) end
if ARGV[5] ~= '' then
  local before = redis.call('HGET', cutoffs, ARGV[3])
  if not before or tonumber(before) < tonumber(ARGV[5]) then redis.call('HSET', cutoffs, ARGV[3], ARGV[5]) end
end
local last = redis.call('ZRANGE', zset, -1, -1, 'WITHSCORES')
local at = string.format('%.0f', math.ceil(tonumber(last[2]) * 1000))
redis.call('PEXPIREAT', zset, at)
if ARGV[2] == '3' then redis.call('PEXPIREAT', cutoffs, at) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"""


class RedisRevocationStore:
    """A :class:`~asgi_jwt.RevocationStore` shared through Redis (or Valkey), mirrored in every process.

    Args:
        url: a ``redis://`` or ``rediss://`` URL, credentials and database included.
        prefix: starts every key and the channel; give each application its own.
        max_staleness: seconds without a confirmed mirror after which requests get 503.
        health_interval: seconds between two ``PING`` commands down the subscription.
        timeout: bound on every Redis call, connecting included.
        load_timeout: the longest a request waits for the mirror before its 503.
        retry_after: the ``Retry-After`` of that 503.
        fail_open: admit tokens on an unconfirmed list (every transition logged as a warning).
        max_entries: live revocations the shared list may hold; a new one beyond it is refused.
        clock: returns the current time in seconds; injectable for tests.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "asgi-jwt:",
        max_staleness: float = 2.0,
        health_interval: float = 0.5,
        timeout: float = 0.5,
        load_timeout: float = 1.0,
        retry_after: int = 2,
        fail_open: bool = False,
        max_entries: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            parse_url(url)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"RedisRevocationStore: invalid Redis URL ({exc})") from None
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError("RedisRevocationStore: prefix must be a non-empty string")
        if not 0 < health_interval < max_staleness:
            raise ConfigurationError("RedisRevocationStore: need 0 < health_interval < max_staleness")
        if not (timeout > 0 and load_timeout > 0):
            raise ConfigurationError("RedisRevocationStore: timeout and load_timeout must be positive")
        if not isinstance(retry_after, int) or retry_after < 1 or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError("RedisRevocationStore: retry_after and max_entries must be positive integers")
        self._url, self._prefix, self._clock = url, prefix, clock
        self._max_staleness, self._interval, self._timeout = max_staleness, health_interval, timeout
        self._load_timeout, self._retry_after = load_timeout, retry_after
        self._fail_open, self._max_entries = fail_open, max_entries
        self._keys = {kind: f"{prefix}revoked:{kind}" for kind in KINDS}
        self._cutoffs_key, self._channel = f"{prefix}revoked:sub:before", f"{prefix}revocations"
        self._mirror = Mirror()
        # Raised by every entry merged into the mirror (a revocation here, a message, a resync): the verifier
        # then checks its cached tokens again, and until it moves skips the mirror for those it found unrevoked.
        self.generation = 0
        self._fresh_until = 0.0  # monotonic time until which the mirror counts as confirmed
        self._open = False  # fail_open and a first load has been attempted: always ready
        self._outage = False
        self._overflow = False
        self._changed = asyncio.Event()  # set and replaced on every confirmation or outage
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._script: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()  # one per background task: set by shutdown()

    @property
    def ready(self) -> bool:
        """Whether the mirror was confirmed current less than ``max_staleness`` ago (always, once fail-open)."""
        return _monotonic() < self._fresh_until or self._open

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise ``TokenRevoked`` from the mirror; ``RevocationUnavailable`` while it cannot be vouched for."""
        if _monotonic() >= self._fresh_until and not self._open:
            raise RevocationUnavailable(retry_after=self._retry_after)
        self._mirror.check(claims)

    async def load(self) -> None:
        """Start the mirror if needed and wait (at most ``load_timeout``) until it is confirmed current.

        During a known outage it gives up at once: the background task is already retrying,
        and a request is better answered 503 now than after a wait.
        """
        self._start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._load_timeout
        while not self.ready:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._outage:
                if self._fail_open:
                    self._open = True
                    logger.warning("revocation: Redis unreachable; fail-open, checking tokens against what is known")
                    return
                raise RevocationUnavailable(retry_after=self._retry_after)
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                continue
        if self._fail_open:
            self._open = True

    async def revoke(self, jti: str, *, expires_at: float) -> None:
        """Refuse the token with this ``jti`` everywhere until ``expires_at`` (and the grace)."""
        await self._write(JTI, jti, expires_at)

    async def revoke_family(self, family: str, *, expires_at: float) -> None:
        """Refuse every token of this refresh family everywhere until ``expires_at``."""
        await self._write(FAMILY, family, expires_at)

    async def revoke_subject(self, subject: str, *, before: float, expires_at: float) -> None:
        """Refuse ``subject``'s tokens issued before ``before``; a later cut-off wins."""
        await self._write(SUBJECT, subject, expires_at, before)

    async def spend(self, jti: str, *, expires_at: float) -> bool:
        """``SET NX`` with the token's expiry: Redis decides the single winner."""
        key = f"{self._prefix}spent:{_checked_key(jti, 'jti')}"
        expiry_ms = int((max(_checked_time(expires_at), self._clock()) + EXPIRY_GRACE) * 1000)
        self._start()
        try:
            won = await self._client.set(key, "1", nx=True, pxat=expiry_ms)
        except _FAILURES as exc:
            raise RevocationUnavailable(retry_after=self._retry_after) from exc
        return bool(won)

    async def _write(self, kind: str, member: str, expires_at: float, before: float | None = None) -> None:
        """Stored and published in one script, and in this process's mirror before this returns."""
        member = _checked_key(member, _NAMES[kind])
        expires_at = _checked_time(expires_at) + EXPIRY_GRACE
        now = self._clock()
        if expires_at <= now:
            return  # the token is dead anyway
        self._start()
        cutoff = "" if before is None else repr(float(_checked_time(before)))
        message = json.dumps([kind, member, expires_at, before])
        keys = [*self._keys.values(), self._cutoffs_key]
        args = [repr(now), _INDEX[kind], member, repr(expires_at), cutoff, self._channel, message, self._max_entries]
        try:
            stored = await self._script(keys=keys, args=args)
        except _FAILURES as exc:
            self._add(kind, member, expires_at, before)  # perhaps stored, perhaps not: refused here at least
            raise RevocationUnavailable(retry_after=self._retry_after) from exc
        if not stored:
            logger.warning("revocation list full (%d live entries): revocation refused", self._max_entries)
            raise RevocationUnavailable("The revocation list is full", retry_after=self._retry_after)
        self._add(kind, member, expires_at, before)

    async def startup(self) -> None:
        """Start the mirror (on ``lifespan.startup``); the first request would start it otherwise."""
        self._start()

    async def shutdown(self) -> None:
        """Stop the background task and close the connections (bounded even while Redis hangs)."""
        task, client = self._task, self._client
        self._task = self._client = self._loop = None
        self._fresh_until = 0.0
        if task is not None:
            # The flag ends the task even if a library swallows the cancellation (a timeout racing it).
            self._stop.set()
            task.cancel()
            await asyncio.wait({task})
        if client is not None:
            await client.aclose(close_connection_pool=True)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new event loop: the old connections belong to the old one
            self._loop, self._task = loop, None
            self._fresh_until, self._outage = 0.0, False
            self._changed = asyncio.Event()
            pool = redis.BlockingConnectionPool.from_url(
                self._url,
                decode_responses=True,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 0),  # a silent reconnect could lose messages: we resync instead
                max_connections=_CONNECTIONS,
                timeout=self._timeout,  # a burst of revocations waits for a connection, briefly
            )
            self._client = redis.Redis(connection_pool=pool)
            self._script = self._client.register_script(_REVOKE)
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = loop.create_task(self._run(self._stop), name="asgi-jwt revocation mirror")

    async def _run(self, stop: asyncio.Event) -> None:
        """Connect, snapshot, follow; on any failure log the outage once, back off and start over."""
        backoff = self._interval
        while not stop.is_set():
            pubsub = self._client.pubsub()
            try:
                await self._subscribe(pubsub)
                if self._outage:
                    self._outage = False
                    log = logger.warning if self._fail_open else logger.info
                    log("revocation: Redis reachable again, the revocation list is current")
                backoff = self._interval
                await self._follow(pubsub, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not isinstance(exc, _FAILURES):
                    logger.exception("revocation: unexpected error in the mirror")
                if not self._outage:
                    self._outage = True
                    then = "tokens are checked against what is known" if self._fail_open else "requests get 503"
                    logger.warning("revocation: lost Redis (%s); %s until it is back", type(exc).__name__, then)
                    self._wake()
            finally:
                await _close(pubsub, self._timeout)
            try:
                await asyncio.wait_for(stop.wait(), backoff)
            except asyncio.TimeoutError:
                backoff = min(backoff * 2, self._max_staleness)

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribe, wait until Redis confirms it, then merge a snapshot: nothing written after it is missed."""
        await asyncio.wait_for(pubsub.subscribe(self._channel), self._timeout)
        deadline = time.monotonic() + self._timeout
        while True:
            message = await pubsub.get_message(timeout=max(deadline - time.monotonic(), 0.0))
            if message is not None and message["type"] == "subscribe":
                break
            if time.monotonic() >= deadline:
                raise TimeoutError("no confirmation of SUBSCRIBE")
        sent = time.monotonic()
        now = self._clock()
        async with self._client.pipeline(transaction=True) as pipe:
            for kind in KINDS:
                pipe.zrangebyscore(self._keys[kind], now, "+inf", withscores=True)
            pipe.hgetall(self._cutoffs_key)
            jtis, families, subjects, cutoffs = await asyncio.wait_for(pipe.execute(), self._timeout)
        for member, expiry in jtis:
            self._add(JTI, member, expiry)
        for member, expiry in families:
            self._add(FAMILY, member, expiry)
        for member, expiry in subjects:
            if member in cutoffs:
                self._add(SUBJECT, member, expiry, float(cutoffs[member]))
        self._confirm(sent)

    async def _follow(self, pubsub: PubSub, stop: asyncio.Event) -> None:
        """Apply published revocations; PING every ``health_interval``; fail if a PONG is late."""
        pinged: float | None = None  # when the unanswered PING was sent
        next_ping = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if pinged is None and now >= next_ping:
                pinged, next_ping = now, now + self._interval
                await pubsub.ping()
                self._sweep()
            # Past the deadline, one last short read: a busy event loop may have kept a PONG waiting.
            overdue = pinged is not None and now - pinged > self._timeout
            wait = _GRACE if overdue else (pinged + self._timeout if pinged is not None else next_ping) - now
            message = await pubsub.get_message(timeout=max(wait, 0.001))
            if message is None:
                if overdue:
                    raise TimeoutError("no answer to PING")
                continue
            if message["type"] == "pong" and pinged is not None:
                self._confirm(pinged)
                pinged = None
            elif message["type"] == "message":
                self._receive(message["data"])

    def _receive(self, data: str) -> None:
        try:
            kind, member, expiry, before = json.loads(data)
            if kind not in self._keys or not isinstance(member, str):
                raise ValueError(kind)
            self._add(kind, member, float(expiry), None if before is None else float(before))
        except (ValueError, TypeError):
            logger.warning("revocation: ignored a malformed message on %s", self._channel)

    def _add(self, kind: str, member: str, expiry: float, before: float | None = None) -> None:
        mirror = self._mirror
        mirror.add(kind, member, expiry, before)
        self.generation += 1
        if len(mirror) > self._max_entries:
            mirror.sweep(self._clock())
            if not self._overflow and len(mirror) > self._max_entries:
                self._overflow, self._fresh_until = True, 0.0
                logger.error("revocation: more than max_entries=%d live revocations; refusing", self._max_entries)

    def _sweep(self) -> None:
        self._mirror.sweep(self._clock())
        if self._overflow and len(self._mirror) <= self._max_entries:
            self._overflow = False
            logger.warning("revocation: back under max_entries=%d live revocations", self._max_entries)

    def _confirm(self, as_of: float) -> None:
        if not self._overflow:
            self._fresh_until = max(self._fresh_until, as_of + self._max_staleness)
        self._wake()

    def _wake(self) -> None:
        """Let every waiting :meth:`load` look again (each waits on the event current when it started)."""
        self._changed.set()
        self._changed = asyncio.Event()


def _checked_time(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError("expires_at and before must be times in seconds")
    return float(value)


async def _close(pubsub: PubSub, timeout: float) -> None:
    """Drop a subscription without waiting on a server that may not answer."""
    try:
        await asyncio.wait_for(pubsub.aclose(), timeout)
    except (*_FAILURES, RuntimeError):
        logger.debug("revocation: subscription closed uncleanly", exc_info=True)
