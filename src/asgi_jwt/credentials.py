"""Where the token comes from: the ``Authorization`` header, and optionally a cookie or a query parameter.

This is the seam Starlette's ``AuthenticationBackend`` has: the middleware asks for
the one token a request carries and never looks at the places itself, apart from
the ``Authorization`` header's fast path (see :class:`~asgi_jwt.JWTAuthMiddleware`).
A request that carries credentials in more than one place, or twice in one, is an
:class:`~asgi_jwt.InvalidRequest` (400): guessing which one was meant is how
confused-deputy bugs start.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import cookie_parser
from starlette.types import Scope

from asgi_jwt.cache import DEFAULT_CACHE_SIZE, VerifiedTokenCache
from asgi_jwt.csrf import CSRFProtection
from asgi_jwt.errors import ConfigurationError, InvalidRequest

__all__ = ["DEFAULT_QUERY_PARAM", "HeaderTokens", "TokenSources", "bearer_token"]

DEFAULT_QUERY_PARAM = "access_token"
_BEARER = (b"bearer ", b"bearer")  # the header's first 7 bytes, lower-cased: "Bearer <token>" or a bare "Bearer"


def bearer_token(authorization: bytes) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or ``None`` for another scheme.

    The scheme runs up to the first space and is case-insensitive (RFC 9110 §11.1).
    RFC 6750's ``b64token`` has no spaces: ``Bearer a b`` is a malformed request, not a token.
    """
    if not (authorization.startswith(b"Bearer ") or authorization[:7].lower() in _BEARER):
        return None
    credentials = authorization[7:].strip(b" \t")
    if not credentials:
        raise InvalidRequest("The Bearer token is empty")
    if b" " in credentials or b"\t" in credentials:
        raise InvalidRequest("The Authorization header must hold one Bearer token")
    return credentials.decode("latin-1")


class TokenSources:
    """The places other than the ``Authorization`` header: a cookie and a query parameter, if configured.

    Args:
        cookie: the cookie's name, or ``None``.
        query_param: the parameter's name, ``True`` for ``access_token``, or ``None``/``False``;
            read on WebSocket handshakes only, unless ``query_param_http``.
        query_param_http: also read it on HTTP requests (URLs end up in logs and ``Referer``).
        csrf: the check of cookie-borne tokens on unsafe requests (see :mod:`asgi_jwt.csrf`).
    """

    __slots__ = ("_query_http", "_query_marker", "cookie", "csrf", "query_param")

    def __init__(
        self,
        *,
        cookie: str | None = None,
        query_param: str | bool | None = None,
        query_param_http: bool = False,
        csrf: bool | CSRFProtection = True,
    ) -> None:
        if cookie is not None and (not isinstance(cookie, str) or not cookie):
            raise ConfigurationError("cookie must be a cookie name")
        if query_param is True:
            query_param = DEFAULT_QUERY_PARAM
        if query_param is False:
            query_param = None
        if query_param is not None and (not isinstance(query_param, str) or not query_param):
            raise ConfigurationError("query_param must be a parameter name or True")
        if not isinstance(query_param_http, bool):
            raise ConfigurationError("query_param_http must be True or False")
        if query_param_http and query_param is None:
            raise ConfigurationError("query_param_http=True needs query_param as well")
        self._query_http = query_param_http
        self.csrf = CSRFProtection.build(csrf, cookie)
        self.cookie = cookie
        self.query_param: str | None = query_param
        # A query string without "name=" cannot carry the token: no parsing for it.
        self._query_marker = query_param.encode() + b"=" if query_param else b""

    def __bool__(self) -> bool:
        """Whether any place is configured: without one the middleware reads the header only."""
        return self.cookie is not None or self.query_param is not None

    def in_url(self, scope: Scope) -> bool:
        """Whether the request may carry its token in the URL (RFC 6750 §2.3: answers must not be cached).

        Only WebSocket handshakes unless ``query_param_http``: a token in an HTTP URL is not looked for.
        """
        return (
            bool(self._query_marker)
            and (self._query_http or scope["type"] == "websocket")
            and self._query_marker in scope.get("query_string", b"")
        )

    def token(self, scope: Scope, from_header: str | None) -> str | None:
        """The one token of all places, ``from_header`` included, or ``None``; ambiguity is an ``InvalidRequest``."""
        found = [] if from_header is None else [from_header]
        jar: dict[str, str] = {}
        from_cookie = None
        if self.cookie is not None:
            cookies = [value for name, value in scope["headers"] if name == b"cookie"]
            if cookies:
                header = b"; ".join(cookies).decode("latin-1")
                jar = cookie_parser(header)
                if self.cookie in jar and _count_cookie(header, self.cookie) > 1:
                    raise InvalidRequest("Only one access token cookie is allowed")
                from_cookie = jar.get(self.cookie)
                if from_cookie:
                    found.append(from_cookie)
        if self.query_param is not None and self.in_url(scope):
            values = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True).get(self.query_param, [])
            if len(values) > 1:
                raise InvalidRequest("Only one access token query parameter is allowed")
            if values and not values[0]:
                raise InvalidRequest("The access token query parameter is empty")
            found.extend(values)
        if len(found) > 1:
            raise InvalidRequest("The token must be sent in one place only")
        if from_cookie and self.csrf is not None:
            self.csrf.check(scope, jar)
        return found[0] if found else None


def _count_cookie(header: str, name: str) -> int:
    """How many times ``name`` is set in a ``Cookie`` header (the parser keeps only the last)."""
    return sum(1 for pair in header.split(";") if pair.partition("=")[1] and pair.partition("=")[0].strip() == name)


class HeaderTokens(dict[bytes | None, str]):
    """``Authorization`` header values already verified, each mapped to its token ``str``.

    Why: on a cached token the request's cost is mostly its look-ups, and handing the
    cache the same ``str`` object each time reuses its hash and compares by identity
    (see docs/performance.md). A ``dict`` subclass, so the middleware's look-up is the
    built-in ``dict.get``. A header is remembered on its token's second sight (a verified-token
    cache hit), so tokens seen once cost no note. Only verified headers, only in the plain
    ``Bearer <token>`` spelling (padding or re-casing one token cannot fill the map),
    and no more of them than the verifier caches tokens: when full it starts over.
    """

    __slots__ = ("max_size",)

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size

    @classmethod
    def for_verifier(cls, verifier: object, serves_hits: bool) -> HeaderTokens:
        """As many as ``verifier.cache`` keeps; none without a cache; the default for caches of its own kind."""
        cache = getattr(verifier, "cache", None)
        if isinstance(cache, VerifiedTokenCache):
            return cls(cache.max_size)
        if not serves_hits or (cache is None and hasattr(verifier, "cache")):
            return cls(0)  # e.g. TokenVerifier(cache_size=0): every token is verified again, and nothing is kept
        return cls(DEFAULT_CACHE_SIZE)  # hits answered from caches of its own, as MultiIssuerVerifier's are

    def remember(self, authorization: bytes | None, token: str) -> None:
        """Map a verified header to its token, if it is the plain spelling of exactly that token."""
        if not self.max_size or type(authorization) is not bytes or not authorization.startswith(b"Bearer "):
            return
        if len(authorization) != len(token) + 7 or authorization[7:] != token.encode("latin-1"):
            return
        if len(self) >= self.max_size:
            self.clear()
        self[authorization] = token
