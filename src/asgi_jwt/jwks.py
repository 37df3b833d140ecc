"""JWK Sets: static ones, and remote ones fetched from an identity provider.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from asgi_jwt.errors import ConfigurationError, KeysUnavailable, MalformedToken
from asgi_jwt.keys import PublicKey, VerificationKey, _read_file, _StaticKeys, jwk_thumbprint

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

# RFC 7518 §6.2.2, §6.3.2, §6.4.1 and RFC 8037 §2: members only a private or symmetric key has.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?=,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?=,|$)", re.IGNORECASE)
_ACCEPT = {"Accept": "application/jwk-set+json, application/json"}
_NEGATIVE_CACHE_SIZE = 10_000
_LOOPBACK_NAMES = frozenset({"localhost"})


class JWKSError(Exception):
    """A JWK Set (or the discovery document pointing to it) could not be fetched or used.

    Raised by :meth:`JWKSResolver.refresh`, :meth:`JWKSResolver.startup` (with
    ``fail_on_startup=True``) and :meth:`JWKSResolver.from_issuer`; the message names
    the URL and the reason. Not an :class:`~asgi_jwt.AuthError`: on the request path
    the resolver raises :class:`~asgi_jwt.KeysUnavailable` (503) instead.
    """


class _KeySetError(Exception):
    """Why a fetch or a document failed, in words of ours that are safe to log."""

    def __init__(self, reason: str, *, incident: bool = False) -> None:
        super().__init__(reason)
        self.incident = incident


class JWKSet(_StaticKeys):
    """A fixed JWK Set (RFC 7517 §5), from a dict, a JSON string or a file.

    Only public signature keys are used, each pinned to one algorithm (its ``alg``,
    else the one its type implies: RS256 for RSA, the curve's for EC, EdDSA for
    Ed25519/Ed448). Keys that cannot verify signatures (``use: "enc"``, ``key_ops``
    without ``verify``, an unknown ``kty``, RSA under 2048 bits, an ``alg`` that does
    not fit the key) are skipped with a log line. Private or symmetric key material
    anywhere in the set, or no usable key at all, is a :class:`ConfigurationError`.
    """

    def __init__(self, jwks: Mapping[str, Any] | str | bytes) -> None:
        try:
            document = _load_json(jwks, "the JWK Set") if isinstance(jwks, (str, bytes)) else jwks
            self._load(document, "the JWK Set")
        except _KeySetError as exc:
            raise ConfigurationError(str(exc)) from None

    @classmethod
    def from_file(cls, path: str | Path) -> JWKSet:
        """Read a JWK Set from a JSON file."""
        source = f"the JWK Set in {str(path)!r}"
        try:
            return cls._parse(_load_json(_read_file(path), source), source)
        except _KeySetError as exc:
            raise ConfigurationError(str(exc)) from None

    @classmethod
    def _parse(cls, document: Any, source: str, where: str | None = None) -> JWKSet:
        instance = cls.__new__(cls)
        instance._load(document, source, where or source)
        return instance

    def _load(self, document: Any, source: str, where: str | None = None) -> None:
        """Use ``document``; errors name ``source``, log lines about single keys name ``where``."""
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            raise _KeySetError(f"{source} is not a JSON object with a 'keys' list")
        entries: list[Any] = document["keys"]
        for index, jwk in enumerate(entries):  # refuse the whole set before using any of it
            leaked = [name for name in _PRIVATE_MEMBERS if isinstance(jwk, Mapping) and name in jwk]
            if leaked:
                raise _KeySetError(
                    f"{source} publishes private or symmetric key material (member {leaked[0]!r} of key "
                    f"{_label(jwk, index)}); the whole set is refused",
                    incident=True,
                )
        keys: list[VerificationKey] = []
        jwks: list[dict[str, Any]] = []
        fingerprint: set[tuple[str | None, str, str]] = set()
        for index, jwk in enumerate(entries):
            public = _usable_key(jwk, index, where or source)
            if public is None:
                continue
            published = public.to_jwk()
            keys.extend(public.verification_keys)
            jwks.append(published)
            fingerprint.add((public.kid, public.algorithm, jwk_thumbprint(published)))
        if not keys:
            raise _KeySetError(f"{source} has no usable signature verification key")
        super().__init__(keys)
        self._jwks = tuple(jwks)
        self.fingerprint = frozenset(fingerprint)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    @property
    def kids(self) -> frozenset[str]:
        """The ``kid`` values of the usable keys."""
        return frozenset(self._by_kid)

    def to_dict(self) -> dict[str, Any]:
        """The usable keys as a public JWK Set, each with ``alg``, ``use`` and ``kid``."""
        return {"keys": [dict(jwk) for jwk in self._jwks]}

    def __repr__(self) -> str:
        return f"JWKSet(kids={sorted(self._by_kid)!r}, keys={len(self.verification_keys)})"


def _label(jwk: Any, index: int) -> str:
    kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
    return repr(kid) if isinstance(kid, str) else f"#{index}"


def _usable_key(jwk: Any, index: int, source: str) -> PublicKey | None:
    """The key pinned to its algorithm, or ``None`` (logged) when it cannot verify signatures."""
    label = _label(jwk, index)
    if not isinstance(jwk, Mapping):
        logger.warning("%s: skipping key %s: not a JSON object", source, label)
        return None
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in _KEY_TYPES:
        logger.warning("%s: skipping key %s: unsupported key type %r", source, label, jwk.get("kty"))
        return None
    use = jwk.get("use")
    if use is not None and use != "sig":  # identity providers publish encryption keys too: normal
        logger.debug("%s: skipping key %s: it is for use %r, not signatures", source, label, use)
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        logger.debug("%s: skipping key %s: its key_ops do not include 'verify'", source, label)
        return None
    try:
        return PublicKey.from_jwk(jwk)
    except ConfigurationError as exc:  # our own message: too short, wrong alg, broken numbers, …
        logger.warning("%s: skipping key %s: %s", source, label, exc)
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(raw: str | bytes, source: str) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _KeySetError(f"{source} is not valid JSON") from exc


def _check_url(url: Any, what: str) -> str:
    if not isinstance(url, str):
        raise ConfigurationError(f"{what} must be a URL string")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise ConfigurationError(f"{what} is not a valid URL: {url!r}") from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise ConfigurationError(f"{what} must be an https:// URL, not {url!r}")
    if parts.scheme == "http" and not _is_loopback(hostname):
        logger.warning("%s %s uses plain HTTP: anyone on the network path can replace the keys", what, url)
    return url


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1024:
            raise ConfigurationError("max_bytes must be an integer of at least 1024")
        self._url = None if url is None else _check_url(url, "the JWK Set url")
        self._issuer = None if issuer is None else _check_url(issuer, "the issuer")
        self._client = client
        self._min_ttl = _positive(min_ttl, "min_ttl")
        self._max_ttl = _positive(max_ttl, "max_ttl")
        self._ttl = _positive(ttl, "ttl")
        if not self._min_ttl <= self._ttl <= self._max_ttl:
            raise ConfigurationError(f"ttl must lie between min_ttl ({min_ttl}) and max_ttl ({max_ttl})")
        self._cooldown = _positive(cooldown, "cooldown")
        self._stale_for = _positive(stale_for, "stale_for", zero=True)
        self._timeout = _positive(timeout, "timeout")
        self._max_bytes = max_bytes
        self._fail_on_startup = fail_on_startup
        self._clock = clock
        self._keys: JWKSet | None = None
        self._body: bytes | None = None
        self._fingerprint: frozenset[tuple[str | None, str, str]] | None = None
        self._version = 0
        self._fetched_at = 0.0
        self._expires_at = 0.0
        self._stale_until = 0.0
        self._last_attempt: float | None = None
        self._missing: set[str] = set()
        self._inflight: asyncio.Task[str | None] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._ssl: ssl.SSLContext | None = None

    @classmethod
    async def from_issuer(cls, issuer: str, **options: Any) -> JWKSResolver:
        """Discover the JWK Set URL of ``issuer`` now (OpenID Connect Discovery, else RFC 8414).

        The discovery document's ``issuer`` must equal ``issuer`` exactly (a trailing
        slash counts). Raises :class:`JWKSError` when discovery fails. ``options``
        are those of the constructor.
        """
        resolver = cls(issuer=issuer, **options)
        try:
            await resolver._discover()
        except _KeySetError as exc:
            raise JWKSError(f"discovery for the issuer {issuer!r} failed: {exc}") from None
        return resolver

    @property
    def url(self) -> str | None:
        """The JWK Set URL (``None`` until discovery has found it)."""
        return self._url

    @property
    def ready(self) -> bool:
        """True while keys are loaded and usable (fresh, or stale within ``stale_for``)."""
        return self._servable(self._clock()) is not None

    @property
    def version(self) -> int:
        """Changes whenever the usable key set changes, including when stale keys are given up."""
        self._servable(self._clock())
        return self._version

    @property
    def key_set(self) -> JWKSet | None:
        """The keys in use now, or ``None``."""
        return self._servable(self._clock())

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedToken()
        now = self._clock()
        keys = self._servable(now)
        if keys is None:
            keys = await self._load(now)
        elif now >= self._expires_at and self._inflight is None and self._may_fetch(now):
            self._start_fetch()  # stale-while-revalidate: this request goes on with the keys we have
        if kid is not None and kid not in keys and kid not in self._missing:
            keys = await self._refetch_for(kid, keys)
        return keys.select(header)

    async def refresh(self) -> None:
        """Fetch the key set now (joining a fetch already under way); raise :class:`JWKSError` on failure.

        For an application's own lifespan: ``await keys.refresh()`` before serving.
        """
        reason = await self._fetch()
        if reason is not None:
            raise JWKSError(f"could not load the JWK Set from {self._source}: {reason}")

    async def startup(self) -> None:
        """Warm up: fetch the keys before the first request. :class:`JWTAuthMiddleware` calls this.

        If the fetch fails, the app starts anyway (a warning is logged, requests get
        503 and the fetch is retried in the background every ``cooldown``), unless
        ``fail_on_startup`` is set, in which case :class:`JWKSError` is raised.
        """
        try:
            await self.refresh()
        except JWKSError:
            if self._fail_on_startup:
                raise
            retry_every = self._cooldown
            logger.warning(
                "starting without the keys from %s: requests are answered 503 until they can be fetched "
                "(retrying every %g s)",
                self._source,
                retry_every,
            )
            if self._retry is None or self._retry.done():
                self._retry = asyncio.get_running_loop().create_task(self._retry_until_loaded(retry_every))

    async def shutdown(self) -> None:
        """Stop background work (the start-up retry, a fetch under way)."""
        for task in (self._retry, self._inflight):
            if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._retry = None
        self._inflight = None

    @property
    def _source(self) -> str:
        return self._url or f"the issuer {self._issuer}"

    def _servable(self, now: float) -> JWKSet | None:
        keys = self._keys
        if keys is not None and now >= self._stale_until:
            logger.error(
                "the keys from %s could not be refreshed for %.0f s past their expiry; they are no longer used "
                "and requests are answered 503 until a fetch succeeds",
                self._source,
                now - self._expires_at,
            )
            self._keys = self._body = self._fingerprint = None
            self._version += 1
            return None
        return keys

    def _may_fetch(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self._cooldown

    def _retry_after(self, now: float) -> int:
        waited = 0.0 if self._last_attempt is None else now - self._last_attempt
        return max(1, math.ceil(self._cooldown - waited))

    async def _load(self, now: float) -> JWKSet:
        """No usable keys: fetch now (once per cooldown), or fail closed with a 503."""
        if self._inflight is None and not self._may_fetch(now):
            raise KeysUnavailable(retry_after=self._retry_after(now))
        await self._fetch()
        now = self._clock()
        keys = self._servable(now)
        if keys is None:
            raise KeysUnavailable(retry_after=self._retry_after(now))
        return keys

    async def _refetch_for(self, kid: str, keys: JWKSet) -> JWKSet:
        """An unknown ``kid``: maybe a rotation, so refetch (within the cooldown) and look again."""
        if self._inflight is None and not self._may_fetch(self._clock()):
            return keys
        reason = await self._fetch()
        fresh = self._servable(self._clock())
        if fresh is None:
            raise KeysUnavailable(retry_after=self._retry_after(self._clock()))
        if reason is None and kid not in fresh:
            if len(self._missing) >= _NEGATIVE_CACHE_SIZE:
                self._missing.clear()
            self._missing.add(kid)
        return fresh

    def _start_fetch(self) -> asyncio.Task[str | None]:
        task = self._inflight
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._attempt(), name="asgi-jwt JWKS fetch")
            self._inflight = task
        return task

    async def _fetch(self) -> str | None:
        """Single-flight: every caller shares the one fetch under way; a caller's cancellation spares it."""
        return await asyncio.shield(self._start_fetch())

    async def _attempt(self) -> str | None:
        """One fetch; ``None`` on success, else the reason (logged here)."""
        self._last_attempt = self._clock()
        try:
            url = self._url or await self._discover()
            body, headers = await self._get(url)
            self._store(url, body, headers.get("cache-control"))
            return None
        except _KeySetError as exc:
            self._log_failure(exc)
            return str(exc)
        except Exception as exc:  # never leave a background task with an unretrieved exception
            logger.exception("fetching the JWK Set from %s failed unexpectedly", self._source)
            return f"unexpected {type(exc).__name__}"
        finally:
            if self._inflight is asyncio.current_task():
                self._inflight = None

    def _store(self, url: str, body: bytes, cache_control: str | None) -> None:
        now = self._clock()
        if self._keys is None or body != self._body:
            keys = JWKSet._parse(_load_json(body, "the response"), "the response", f"the JWK Set at {url}")
            if keys.fingerprint != self._fingerprint:
                self._version += 1
                logger.info("loaded %d keys from %s (kids: %s)", len(keys.verification_keys), url, sorted(keys.kids))
            self._keys, self._body, self._fingerprint = keys, body, keys.fingerprint
        self._fetched_at = now
        self._expires_at = now + self._ttl_for(cache_control)
        self._stale_until = self._expires_at + self._stale_for
        self._missing.clear()

    def _ttl_for(self, cache_control: str | None) -> float:
        """The server's ``max-age`` within [min_ttl, max_ttl]; ``no-store``/``no-cache`` mean the minimum."""
        if cache_control:
            if _NO_CACHE.search(cache_control):
                return self._min_ttl
            found = _MAX_AGE.search(cache_control)
            if found:
                return min(max(float(found.group(1)), self._min_ttl), self._max_ttl)
        return self._ttl

    def _log_failure(self, error: _KeySetError) -> None:
        if error.incident:
            logger.error(
                "SECURITY: refused the JWK Set from %s: %s. Treat this as a key compromise at the identity provider.",
                self._source,
                error,
            )
            return
        now = self._clock()
        if self._keys is not None and now < self._stale_until:
            logger.warning(
                "refreshing the JWK Set from %s failed (%s); still using the keys fetched %.0f s ago, "
                "for at most %.0f s more",
                self._source,
                error,
                now - self._fetched_at,
                self._stale_until - now,
            )
        else:
            logger.warning(
                "fetching the JWK Set from %s failed (%s); requests are answered 503 until it succeeds",
                self._source,
                error,
            )

    async def _retry_until_loaded(self, every: float) -> None:
        while self._servable(self._clock()) is None:
            await asyncio.sleep(every)
            if self._inflight is None and self._servable(self._clock()) is None:
                await self._fetch()

    async def _discover(self) -> str:
        """Find ``jwks_uri`` in the issuer's metadata; only ever for the configured issuer."""
        issuer = self._issuer or ""
        parts = urlsplit(issuer)
        candidates = (
            issuer.rstrip("/") + "/.well-known/openid-configuration",  # OpenID Connect Discovery §4
            urlunsplit(  # RFC 8414 §3: the well-known part goes between host and path
                (parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + parts.path.rstrip("/"), "", "")
            ),
        )
        failures = []
        for url in candidates:
            try:
                body, _ = await self._get(url)
            except _KeySetError as exc:
                failures.append(f"{url}: {exc}")
                continue
            metadata = _load_json(body, f"the discovery document at {url}")
            if not isinstance(metadata, dict):
                raise _KeySetError(f"the discovery document at {url} is not a JSON object")
            if metadata.get("issuer") != issuer:
                raise _KeySetError(
                    f"the discovery document at {url} names the issuer {metadata.get('issuer')!r}, not {issuer!r} "
                    "(they must match exactly, trailing slash included)"
                )
            try:
                jwks_uri = _check_url(metadata.get("jwks_uri"), "the discovered jwks_uri")
            except ConfigurationError as exc:
                raise _KeySetError(f"the discovery document at {url} has no usable jwks_uri: {exc}") from None
            if parts.scheme == "https" and urlsplit(jwks_uri).scheme != "https":
                raise _KeySetError(f"the discovery document at {url} points to a plain-HTTP jwks_uri")
            self._url = jwks_uri
            logger.info("discovered the JWK Set of %s at %s", issuer, jwks_uri)
            return jwks_uri
        raise _KeySetError("; ".join(failures))

    async def _get(self, url: str) -> tuple[bytes, httpx.Headers]:
        try:
            return await asyncio.wait_for(self._download(url), self._timeout)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise _KeySetError(f"no complete answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise _KeySetError(f"request failed ({type(exc).__name__})") from None

    async def _download(self, url: str) -> tuple[bytes, httpx.Headers]:
        if self._client is not None:
            return await self._read(self._client, url)
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        # A client per fetch: fetches are minutes apart, and no pooled connection outlives its event loop.
        async with httpx.AsyncClient(verify=self._ssl) as client:
            return await self._read(client, url)

    async def _read(self, client: httpx.AsyncClient, url: str) -> tuple[bytes, httpx.Headers]:
        async with client.stream("GET", url, headers=_ACCEPT, timeout=self._timeout, follow_redirects=False) as reply:
            if reply.status_code != 200:
                raise _KeySetError(f"HTTP status {reply.status_code}")
            declared = reply.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise _KeySetError(f"the response is larger than {self._max_bytes} bytes")
            body = bytearray()
            async for chunk in reply.aiter_bytes():  # decoded: a compressed bomb is counted as it inflates
                body += chunk
                if len(body) > self._max_bytes:
                    raise _KeySetError(f"the response is larger than {self._max_bytes} bytes")
            return bytes(body), reply.headers

    def __repr__(self) -> str:
        return f"JWKSResolver({self._source!r}, version={self._version}, ready={self._keys is not None})"
