"""Fetching key documents over HTTP: capped, timed, and only from URLs the application configured.

The JWK Set resolver's plumbing: one GET with a total timeout and a body cap counted
while streaming (compressed bodies are inflated here, under the same cap), the cache
lifetime a ``Cache-Control`` header grants, and the discovery of a ``jwks_uri`` from an
issuer's metadata (OpenID Connect Discovery, else RFC 8414). Failures are
:class:`FetchFailed`, worded to be safe to log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import ssl
import zlib
from urllib.parse import urlsplit, urlunsplit

import httpx

from asgi_jwt._jose import STRICT_JSON
from asgi_jwt.errors import ConfigurationError

__all__ = ["FetchFailed", "Fetcher", "Inflater", "check_url", "content_coding", "discover_jwks_uri", "ttl_for"]

logger = logging.getLogger("asgi_jwt.jwks")

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?=,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?=,|$)", re.IGNORECASE)
_ACCEPT = {"Accept": "application/jwk-set+json, application/json", "Accept-Encoding": "gzip, deflate"}
_WINDOW_BITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
_LOOPBACK_NAMES = frozenset({"localhost"})


class FetchFailed(Exception):
    """Why a fetch or a discovery failed, in words of ours (no response text), safe to log."""


def check_url(url: object, what: str) -> str:
    """``url`` if it is an absolute http(s) URL; plain HTTP off the loopback is logged as a risk."""
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


def ttl_for(cache_control: str | None, *, default: float, minimum: float, maximum: float) -> float:
    """The server's ``max-age`` within [minimum, maximum]; ``no-store``/``no-cache`` mean the minimum."""
    if cache_control:
        if _NO_CACHE.search(cache_control):
            return minimum
        found = _MAX_AGE.search(cache_control)
        if found:
            return min(max(float(found.group(1)), minimum), maximum)
    return default


class Fetcher:
    """GETs one document at a time: a total ``timeout``, at most ``max_bytes``, no redirects.

    With ``client`` (the application's ``httpx.AsyncClient``: its proxies, certificates,
    transport) every fetch goes through it; otherwise each fetch opens a short-lived
    client: fetches are minutes apart, and no pooled connection outlives its event loop.
    """

    def __init__(self, client: httpx.AsyncClient | None, *, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = client
        self._ssl: ssl.SSLContext | None = None

    async def get(self, url: str) -> tuple[bytes, httpx.Headers]:
        """The body and headers of a 200 answer; anything else raises :class:`FetchFailed`."""
        try:
            return await asyncio.wait_for(self._download(url), self.timeout)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise FetchFailed(f"no complete answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"request failed ({type(exc).__name__})") from None

    async def _download(self, url: str) -> tuple[bytes, httpx.Headers]:
        if self._client is not None:
            return await self._read(self._client, url)
        if self._ssl is None:  # loading the CA bundle is the slow part of a client: once
            self._ssl = httpx.create_ssl_context()
        async with httpx.AsyncClient(verify=self._ssl) as client:
            return await self._read(client, url)

    async def _read(self, client: httpx.AsyncClient, url: str) -> tuple[bytes, httpx.Headers]:
        async with client.stream("GET", url, headers=_ACCEPT, timeout=self.timeout, follow_redirects=False) as reply:
            if reply.status_code != 200:
                raise FetchFailed(f"HTTP status {reply.status_code}")
            declared = reply.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchFailed(f"the response is larger than {self.max_bytes} bytes")
            coding = content_coding(reply.headers)
            if reply.is_stream_consumed:  # an in-process transport (httpx.MockTransport) read and decoded it already
                return self._capped(reply.content), reply.headers
            inflater = None if coding is None else Inflater(coding, self.max_bytes)
            body = bytearray()
            received = 0
            # Raw bytes, inflated here under the cap: httpx would inflate each chunk whole before we could count it.
            async for chunk in reply.aiter_raw():
                received += len(chunk)
                body += chunk if inflater is None else inflater.feed(chunk)
                if received > self.max_bytes or len(body) > self.max_bytes:
                    raise FetchFailed(f"the response is larger than {self.max_bytes} bytes")
            if inflater is not None:
                inflater.finish()
            return bytes(body), reply.headers

    def _capped(self, body: bytes) -> bytes:
        if len(body) > self.max_bytes:
            raise FetchFailed(f"the response is larger than {self.max_bytes} bytes")
        return body


def content_coding(headers: httpx.Headers) -> str | None:
    """The body's one content coding (``None`` for identity); stacked or unknown codings are refused.

    A JWK Set is a few kilobytes: nobody compresses it twice, while a body gzipped
    twice is the classic way to turn kilobytes on the wire into gigabytes in memory.
    """
    codings = [coding.strip().lower() for value in headers.get_list("content-encoding") for coding in value.split(",")]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return None
    if len(codings) > 1:
        raise FetchFailed("the response is compressed more than once (stacked Content-Encoding)")
    if codings[0] not in _WINDOW_BITS:
        raise FetchFailed("the response uses a Content-Encoding other than gzip or deflate")
    return codings[0]


class Inflater:
    """Inflates one gzip or deflate body, never producing more than ``limit`` bytes in all.

    ``zlib``'s ``max_length`` stops each step at what is left of the cap, so a bomb
    costs at most ``limit`` bytes of memory and the time to inflate them (a couple
    of milliseconds for the default 512 KiB), never the gigabytes it would expand to.
    """

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._engine = zlib.decompressobj(_WINDOW_BITS[coding])
        self._limit = limit
        self._produced = 0
        self._first = True

    def feed(self, data: bytes) -> bytes:
        """The bytes ``data`` inflates to; :class:`FetchFailed` past the cap or for a corrupt stream."""
        room = self._limit - self._produced
        try:
            piece = self._engine.decompress(data, room + 1)
        except zlib.error:
            if not (self._first and self._coding == "deflate"):
                raise FetchFailed("the compressed response is corrupt") from None
            # RFC 9110 §8.4.1.2 says zlib format; some servers send a bare deflate stream instead.
            self._engine = zlib.decompressobj(-zlib.MAX_WBITS)
            self._first = False
            return self.feed(data)
        self._first = False
        self._produced += len(piece)
        if len(piece) > room:  # the output filled what we allowed: there is more than the cap
            raise FetchFailed(f"the response is larger than {self._limit} bytes")
        return piece

    def finish(self) -> None:
        """Refuse a stream cut short, or followed by more data (a second member is not a JWK Set)."""
        if not self._engine.eof:
            raise FetchFailed("the compressed response is truncated")
        if self._engine.unused_data:
            raise FetchFailed("the compressed response has data after its end")


async def discover_jwks_uri(fetcher: Fetcher, issuer: str) -> str:
    """The ``jwks_uri`` in ``issuer``'s metadata, whose ``issuer`` must equal ours exactly."""
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
            body, _ = await fetcher.get(url)
        except FetchFailed as exc:
            failures.append(f"{url}: {exc}")
            continue
        try:
            metadata = STRICT_JSON.decode(body.decode("utf-8"))
        except (ValueError, RecursionError):
            raise FetchFailed(f"the discovery document at {url} is not valid JSON") from None
        if not isinstance(metadata, dict):
            raise FetchFailed(f"the discovery document at {url} is not a JSON object")
        if metadata.get("issuer") != issuer:
            raise FetchFailed(
                f"the discovery document at {url} names the issuer {metadata.get('issuer')!r}, not {issuer!r} "
                "(they must match exactly, trailing slash included)"
            )
        try:
            jwks_uri = check_url(metadata.get("jwks_uri"), "the discovered jwks_uri")
        except ConfigurationError as exc:
            raise FetchFailed(f"the discovery document at {url} has no usable jwks_uri: {exc}") from None
        if parts.scheme == "https" and urlsplit(jwks_uri).scheme != "https":
            raise FetchFailed(f"the discovery document at {url} points to a plain-HTTP jwks_uri")
        logger.info("discovered the JWK Set of %s at %s", issuer, jwks_uri)
        return jwks_uri
    raise FetchFailed("; ".join(failures))
