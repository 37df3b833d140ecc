"""The client side: ``BearerAuth`` attaches a bearer token to every request an httpx client sends.

Three sources of tokens: a fixed token, a token issuer (service to service: mint,
reuse until shortly before ``exp``, mint again), or any callable, sync or async (an
OAuth client, a file a sidecar rewrites). However many requests run at once, in
threads or tasks, a token that needs renewing is fetched once and shared.

A 401 whose challenge says ``error="invalid_token"`` (the key rotated, the token was
revoked) gets one fresh token and one retry; nothing else is retried, and a request
whose body was a one-shot stream is never sent twice. The token is never logged and
never shown by ``repr``.

The MCP SDK's 2.x client runs on ``httpx2``, which refuses an ``httpx.Auth``:
:meth:`BearerAuth.httpx2` gives the same auth, sharing the same tokens, as an
``httpx2.Auth``. ``httpx2`` is imported only there.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from typing import Any, Protocol

import httpx

from asgi_jwt.client_tokens import ClientTokens, TokenSource, check_token
from asgi_jwt.errors import ConfigurationError

__all__ = ["BearerAuth", "TokenSource"]

logger = logging.getLogger("asgi_jwt.client")

DEFAULT_MARGIN = 60.0
"""Seconds before ``exp`` at which a token is renewed (at most half its lifetime)."""

# RFC 7235 §2.1 auth-param: token "=" ( token / quoted-string ); a lone token starts a new challenge.
_CHALLENGE_PART = re.compile(
    r'\s*,?\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&\'*+.^_`|~0-9A-Za-z/-]+=*))?'
)


class _Issuer(Protocol):
    """What ``BearerAuth(issuer=...)`` needs: a :class:`~asgi_jwt.TokenIssuer` or anything alike."""

    def issue(
        self,
        subject: str,
        *,
        scope: str | None = ...,
        roles: Iterable[str] | None = ...,
        permissions: Iterable[str] | None = ...,
        claims: Mapping[str, Any] | None = ...,
        ttl: float | None = ...,
        audience: str | list[str] | None = ...,
    ) -> str:
        """Only the keywords ``BearerAuth`` was given are passed."""


def _invalid_token(headers: Iterable[str]) -> bool:
    """True when a ``Bearer`` challenge among ``WWW-Authenticate`` values says ``error="invalid_token"``."""
    for value in headers:
        scheme = None
        for match in _CHALLENGE_PART.finditer(value):
            name, argument = match.group(1), match.group(2)
            if argument is None:
                scheme = name.lower()
            elif scheme == "bearer" and name.lower() == "error" and argument.strip('"') == "invalid_token":
                return True
    return False


class _Request(Protocol):
    headers: Any

    @property
    def content(self) -> bytes: ...


class _Response(Protocol):
    status_code: int
    headers: Any


class _Flows:
    """The auth flow of httpx and of httpx2, written once: both libraries have the same generator protocol."""

    def __init__(self, tokens: ClientTokens, not_read: type[Exception]) -> None:
        self._tokens = tokens
        self._not_read = not_read

    def sync(self, request: Any) -> Generator[Any, Any, None]:
        token = self._tokens.get()
        response = yield _authorized(request, token)
        if self._refused(response):
            fresh = self._tokens.get(stale=token)
            if fresh != token and self._replayable(request):
                yield _authorized(request, fresh)

    async def asynchronous(self, request: Any) -> AsyncGenerator[Any, Any]:
        token = await self._tokens.aget()
        response = yield _authorized(request, token)
        if self._refused(response):
            fresh = await self._tokens.aget(stale=token)
            if fresh != token and self._replayable(request):
                yield _authorized(request, fresh)

    def _refused(self, response: _Response) -> bool:
        """A 401 saying the token is no good, and we can get another: renew, then retry once if we may."""
        return (
            response.status_code == 401
            and self._tokens.renewable
            and _invalid_token(response.headers.get_list("www-authenticate"))
        )

    def _replayable(self, request: _Request) -> bool:
        try:
            request.content  # noqa: B018  # raises for a streamed body that was never read into memory
        except self._not_read:
            logger.info("the server refused the token; the request body was a one-shot stream, so it is not resent")
            return False
        logger.info("the server refused the token (invalid_token): retrying once with a fresh one")
        return True


def _authorized(request: _Request, token: str) -> Any:
    request.headers["Authorization"] = f"Bearer {token}"
    return request


def _issuer_fetch(issuer: _Issuer, subject: str | None, options: dict[str, Any]) -> Callable[[], str]:
    if not callable(getattr(issuer, "issue", None)):
        raise ConfigurationError("issuer must have an issue(subject, ...) method, like TokenIssuer")
    if not isinstance(subject, str) or not subject:
        raise ConfigurationError("BearerAuth(issuer=...) needs the subject= the tokens are minted for")
    for name in ("roles", "permissions"):
        if name in options:
            options[name] = list(options[name])

    def mint() -> str:
        return issuer.issue(subject, **options)

    return mint


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer …`` on every request of an httpx client, sync or async.

    Give exactly one source:

    * ``BearerAuth(token)``: a fixed token;
    * ``BearerAuth(issuer=TokenIssuer(...), subject="billing", audience=..., scope=...)``:
      mints with ``issuer.issue(subject, ...)``, reuses the token until ``margin``
      seconds before its ``exp`` (at most half its lifetime), then mints again;
    * ``BearerAuth(refresh=callable)``: calls it, sync or async, for a token whenever
      one is due (a JWT's ``exp`` says when; an opaque token is kept until refused).

    With an issuer or ``refresh``, a 401 with ``error="invalid_token"`` gets one new
    token and one retry. Use :meth:`httpx2` for an ``httpx2`` client (MCP SDK 2.x).

    Args:
        token: a fixed token (only this one is ever sent).
        issuer: a :class:`~asgi_jwt.TokenIssuer`, or anything with ``issue(subject, **options)``.
        subject: whom the issuer mints tokens for (required with ``issuer``).
        audience: the ``aud`` to ask the issuer for: the API being called.
        scope: the scopes to ask for, space-separated.
        roles: the roles to ask for.
        permissions: the permissions to ask for.
        claims: more claims to ask for.
        ttl: the lifetime to ask for, in seconds (the issuer's default otherwise).
        refresh: a callable returning a token, or an awaitable of one.
        margin: seconds before ``exp`` to renew (default 60).
        clock: wall-clock seconds, compared with ``exp``; injectable for tests.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        issuer: _Issuer | None = None,
        subject: str | None = None,
        audience: str | list[str] | None = None,
        scope: str | None = None,
        roles: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        refresh: TokenSource | None = None,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if sum(source is not None for source in (token, issuer, refresh)) != 1:
            raise ConfigurationError("BearerAuth needs exactly one of: a token, issuer=, or refresh=")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < math.inf:
            raise ConfigurationError("margin must be a number of seconds, zero or more")
        given: dict[str, Any] = {"audience": audience, "scope": scope, "roles": roles, "permissions": permissions}
        given.update(claims=claims, ttl=ttl)
        options = {name: value for name, value in given.items() if value is not None}
        fetch: TokenSource | None = None
        if issuer is not None:
            fetch = _issuer_fetch(issuer, subject, options)
            self._description = f"issuer={issuer!r}, subject={subject!r}"
        elif subject is not None or options:
            raise ConfigurationError("subject, audience, scope, roles, permissions, claims and ttl go with issuer=")
        elif refresh is not None:
            if not callable(refresh):
                raise ConfigurationError("refresh must be a callable returning a token (or an awaitable of one)")
            fetch = refresh
            self._description = f"refresh={getattr(refresh, '__qualname__', type(refresh).__name__)}"
        else:
            try:
                check_token(token, "the token")
            except TypeError as exc:
                raise ConfigurationError(str(exc)) from None
            self._description = "token=<hidden>"
        self._tokens = ClientTokens(fetch, token, float(margin), clock)
        self._flows = _Flows(self._tokens, httpx.RequestNotRead)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        return self._flows.sync(request)

    def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self._flows.asynchronous(request)

    def httpx2(self) -> Any:
        """This auth as an ``httpx2.Auth`` (for the MCP SDK 2.x client), sharing this one's tokens."""
        try:
            import httpx2
        except ImportError:
            raise ConfigurationError("BearerAuth.httpx2() needs the httpx2 package: pip install httpx2") from None
        return _httpx2_auth_class()(_Flows(self._tokens, httpx2.RequestNotRead), f"BearerAuth({self._description})")

    def __repr__(self) -> str:
        return f"BearerAuth({self._description})"


@functools.cache
def _httpx2_auth_class() -> type[Any]:
    """The ``httpx2.Auth`` subclass, defined on first use: httpx2 is not a dependency of ours."""
    import httpx2

    class BearerAuthHttpx2(httpx2.Auth):
        """:class:`BearerAuth` for an ``httpx2`` client: same flows, same tokens."""

        def __init__(self, flows: _Flows, description: str) -> None:
            self._flows = flows
            self._description = description

        def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
            return self._flows.sync(request)

        def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            return self._flows.asynchronous(request)

        def __repr__(self) -> str:
            return f"{self._description}.httpx2()"

    return BearerAuthHttpx2
