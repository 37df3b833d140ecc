"""The pure ASGI middleware: find the bearer token, verify it, write the scope.

No ``BaseHTTPMiddleware`` and no response buffering: a request either gets its
answer here (a 400/401/403/503 from the one response builder) or goes to the app
untouched apart from ``scope["auth"]`` and ``scope["user"]``. Everything that can be
prepared is prepared in ``__init__``; ``__call__`` does only per-request work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_jwt.authz import Authorization, PermissionPolicy, Rule, route_path
from asgi_jwt.cache import DEFAULT_CACHE_SIZE, VerifiedTokenCache
from asgi_jwt.claims import Claims, scopes_of
from asgi_jwt.errors import AuthError, ConfigurationError, InvalidRequest, MissingToken
from asgi_jwt.identity import (
    ANONYMOUS,
    UNAUTHENTICATED_USER,
    JWTAuth,
    JWTUser,
    _current_claims,
    _publish_current_claims,
)
from asgi_jwt.responses import check_realm, error_response, websocket_close_code
from asgi_jwt.verify import Verifier, cache_lookup

__all__ = ["JWTAuthMiddleware"]

logger = logging.getLogger("asgi_jwt")

ErrorHandler = Callable[[HTTPConnection, AuthError], Response]
DEFAULT_QUERY_PARAM = "access_token"
_WEBSOCKET_DENIAL = "websocket.http.response"
_BEARER = (b"bearer ", b"bearer")  # the header's first 7 bytes, lower-cased: "Bearer <token>" or a bare "Bearer"
_NO_MEMO = (None, None, None)
# Bound once: looked up per request, ContextVar.set and .reset would each build a bound method object.
_set_current_claims = _current_claims.set
_reset_current_claims = _current_claims.reset
_RENDERED_ANSWERS = 64  # distinct standard error answers kept ready (they differ only by error and scope)


class JWTAuthMiddleware:
    """Authenticate ``http`` and ``websocket`` requests with a JWT bearer token.

    Args:
        app: the ASGI application to protect.
        verifier: anything with ``async verify(token) -> claims`` (usually a
            :class:`~asgi_jwt.TokenVerifier`).
        exclude_paths: paths served without authentication; ``/health`` covers
            ``/health`` and ``/health/live`` but not ``/healthz``.
        optional: let requests without credentials through as anonymous (a bad
            token is still rejected).
        cookie: also read the token from this cookie.
        query_param: also read the token from this query parameter (``True`` means
            ``access_token``). For WebSocket clients that cannot set headers; URLs
            end up in access logs, so prefer headers where possible.
        identity_claim: the claim that identifies the user (``sub``; some systems
            use ``user_id``).
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
        on_error: ``(conn, error) -> Response`` to replace the standard answer.
        permissions: a :class:`~asgi_jwt.PermissionPolicy` or a role table (role to
            permissions): ``scope["auth"].scopes`` becomes :class:`~asgi_jwt.Grants`,
            with roles, ``permissions`` claims and wildcards. Without it, ``.scopes``
            is the token's ``scope``/``scp``, matched exactly.
        rules: :class:`~asgi_jwt.Rule` objects checked after authentication and
            before the app runs: a 403 ``insufficient_scope`` when one fails, and a
            401 for an anonymous request (optional mode) that one covers.
        current_claims: also set the context variable behind
            :func:`~asgi_jwt.current_claims` around the app, for code that has no
            request at hand. Off by default: it costs every request a few percent.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier,
        exclude_paths: Iterable[str] = (),
        optional: bool = False,
        cookie: str | None = None,
        query_param: str | bool | None = None,
        identity_claim: str = "sub",
        realm: str = "api",
        on_error: ErrorHandler | None = None,
        permissions: PermissionPolicy | Mapping[str, str | Iterable[str]] | None = None,
        rules: Iterable[Rule] = (),
        current_claims: bool = False,
    ) -> None:
        if not callable(getattr(verifier, "verify", None)):
            raise ConfigurationError("verifier must have an async verify(token) method, e.g. a TokenVerifier")
        if not isinstance(identity_claim, str) or not identity_claim:
            raise ConfigurationError("identity_claim must be a non-empty claim name")
        if cookie is not None and (not isinstance(cookie, str) or not cookie):
            raise ConfigurationError("cookie must be a cookie name")
        if query_param is True:
            query_param = DEFAULT_QUERY_PARAM
        if query_param is False:
            query_param = None
        if query_param is not None and (not isinstance(query_param, str) or not query_param):
            raise ConfigurationError("query_param must be a parameter name or True")
        self.app = app
        self.verifier = verifier
        # A TokenVerifier answers tokens it has verified before synchronously: no await on a hit.
        self._cached: Callable[[str], Mapping[str, Any] | None] = cache_lookup(verifier) or _no_cache
        # e.g. a TokenVerifier over a JWKSResolver: fetch the keys before the app starts
        self._has_lifespan_hooks = any(callable(getattr(verifier, hook, None)) for hook in ("startup", "shutdown"))
        self.optional = optional
        self.identity_claim = identity_claim
        self.realm = check_realm(realm)
        self.on_error = on_error
        self._cookie = cookie
        self._query_param = query_param
        self._query_marker = self._query_param.encode() + b"=" if self._query_param else b""
        self._other_places = cookie is not None or self._query_param is not None
        self._exact, self._prefixes = _compile_exclusions(exclude_paths)
        self._rendered: dict[tuple[Any, ...], tuple[int, tuple[tuple[bytes, bytes], ...], bytes]] = {}
        # "Bearer <token>" -> its token, once verified: as many as the verifier's cache keeps, none without one.
        self._header_tokens: dict[bytes | None, str] = {}
        self._header_tokens_max = _header_tokens_max(verifier, self._cached is not _no_cache)
        # The standard answers can be replayed unless a subclass's response_for makes its own.
        self._replay = type(self).response_for is JWTAuthMiddleware.response_for
        self._authz = Authorization.build(permissions, rules)  # None without either: the fast path
        if not isinstance(current_claims, bool):
            raise ConfigurationError("current_claims must be True or False")
        self._publish_claims = current_claims
        if self._publish_claims:
            _publish_current_claims()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            if scope_type == "lifespan" and self._has_lifespan_hooks:
                await _lifespan(self.app, scope, receive, send, self.verifier)
            else:
                await self.app(scope, receive, send)  # lifespan and anything unknown pass through
            return
        if (self._exact and self._is_excluded(scope)) or (
            scope_type == "http" and scope["method"] == "OPTIONS" and _is_cors_preflight(scope)
        ):
            scope["auth"] = ANONYMOUS
            scope["user"] = UNAUTHENTICATED_USER
            await self.app(scope, receive, send)
            return
        # The request path is written out inline: on a cached token each method call would cost
        # about as much as the work it does (see docs/performance.md).
        try:
            authorization: bytes | None = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    if authorization is not None:
                        raise InvalidRequest("Only one Authorization header is allowed")
                    authorization = value
            # A header seen with a token that verified maps straight to that token: the same str object
            # each time, so the cache lookup below reuses its hash and compares by identity.
            try:
                token: str | None = self._header_tokens.get(authorization)
            except TypeError:  # not bytes, against the ASGI spec: parsed below like any other value
                token = None
            parsed: bytes | None = None
            # The scheme runs up to the first space; RFC 9110 §11.1: it is case-insensitive.
            if (
                token is None
                and authorization is not None
                and (authorization.startswith(b"Bearer ") or authorization[:7].lower() in _BEARER)
            ):
                credentials = authorization[7:].strip(b" \t")
                if not credentials:
                    raise InvalidRequest("The Bearer token is empty")
                token = credentials.decode("latin-1")
                # Only the plain spelling is remembered: one entry per token, no longer than the token allows.
                plain = type(authorization) is bytes and authorization.startswith(b"Bearer ")
                if plain and len(authorization) == len(token) + 7:
                    parsed = authorization
            if self._other_places:
                token = self._other_sources(scope, token)
            if token is None:
                if not self.optional or (self._authz is not None and self._authz.covers(scope)):
                    raise MissingToken()  # a rule needs someone to authorize: 401, not 403
            else:
                claims = self._cached(token)
                if claims is None:
                    claims = await self.verifier.verify(token)
                if parsed is not None and self._header_tokens_max:  # verified: remember how this header reads
                    if len(self._header_tokens) >= self._header_tokens_max:
                        self._header_tokens.clear()
                    self._header_tokens[parsed] = token
                if self._authz is None:
                    # scope["auth"] and scope["user"] are built once per cached token and then shared:
                    # read-only views of the same claims, whose times were checked just now.
                    memo = getattr(claims, "_memo", _NO_MEMO)  # only our own Claims remember
                    if memo[0] is not self:
                        memo = self._identity(claims, token)
                    scope["auth"] = memo[1]
                    scope["user"] = memo[2]
                else:
                    self._authz.authorize(scope, claims, token, self.identity_claim)
        except AuthError as error:
            await self._reject(scope, receive, send, error)
            return
        if token is None:  # outside the try: an AuthError raised by the app is the app's own
            scope["auth"] = ANONYMOUS
            scope["user"] = UNAUTHENTICATED_USER
            await self.app(scope, receive, send)
            return
        if self._query_marker and scope_type == "http" and self._query_marker in scope.get("query_string", b""):
            send = _no_store(send)  # RFC 6750 §2.3: a credential in the URL, so nothing may cache the answer
        if not self._publish_claims:
            await self.app(scope, receive, send)
            return
        reset = _set_current_claims(claims)
        try:
            await self.app(scope, receive, send)
        finally:
            _reset_current_claims(reset)

    def _identity(self, claims: Mapping[str, Any], token: str) -> tuple[object, JWTAuth, JWTUser]:
        """Build ``scope["auth"]`` and ``scope["user"]``, remembered on our own ``Claims`` for the next hit."""
        memo = (self, JWTAuth(claims, scopes_of(claims), token), JWTUser(claims, self.identity_claim))
        if type(claims) is Claims:
            claims._memo = memo
        return memo

    def _is_excluded(self, scope: Scope) -> bool:
        path = route_path(scope)
        return path in self._exact or path.startswith(self._prefixes)

    def _other_sources(self, scope: Scope, token: str | None) -> str | None:
        """With a cookie or query parameter configured: the one token of all places, or ``None``.

        ``token`` is what the Authorization header gave; ambiguity is an ``InvalidRequest``.
        """
        found = [] if token is None else [token]
        cookies = [value for name, value in scope["headers"] if name == b"cookie"] if self._cookie is not None else []
        if cookies:
            token_from_cookie = cookie_parser(b"; ".join(cookies).decode("latin-1")).get(self._cookie or "")
            if token_from_cookie:
                found.append(token_from_cookie)
        if self._query_param is not None and self._query_marker in scope.get("query_string", b""):
            values = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True).get(
                self._query_param, []
            )
            if len(values) > 1:
                raise InvalidRequest("Only one access token query parameter is allowed")
            if values and not values[0]:
                raise InvalidRequest("The access token query parameter is empty")
            found.extend(values)
        if len(found) > 1:
            raise InvalidRequest("The token must be sent in one place only")
        return found[0] if found else None

    async def _reject(self, scope: Scope, receive: Receive, send: Send, error: AuthError) -> None:
        if logger.isEnabledFor(logging.INFO):
            client = scope.get("client")
            logger.info(
                "rejected %s %s: %s (status %d, client %s)",
                scope.get("method", "WEBSOCKET"),
                _printable(scope.get("path", "")),
                error.reason,
                error.status_code,
                client[0] if client else "-",
            )
        if self.on_error is None and self._replay and scope["type"] == "http":
            # The standard answers are few and fixed, so each is built once and replayed: a flood of bad
            # tokens costs the verification and two sends. Fresh header lists: outer middleware may edit them.
            key = (
                type(error),
                error.status_code,
                error.error,
                error.description,
                getattr(error, "scope", None),
                getattr(error, "retry_after", None),
            )
            rendered = self._rendered.get(key)
            if rendered is None:
                built = error_response(error, realm=self.realm)
                if len(self._rendered) >= _RENDERED_ANSWERS:
                    self._rendered.clear()
                rendered = self._rendered[key] = (built.status_code, tuple(built.raw_headers), bytes(built.body))
            await send({"type": "http.response.start", "status": rendered[0], "headers": list(rendered[1])})
            await send({"type": "http.response.body", "body": rendered[2]})
            return
        response = self.response_for(scope, error)
        if self._query_param is not None:
            response.headers["Cache-Control"] = "no-store"
        if scope["type"] == "websocket" and _WEBSOCKET_DENIAL not in scope.get("extensions", {}):
            # Without the denial-response extension a close before accept is all
            # we can send; servers turn it into an HTTP 403.
            code = websocket_close_code(error)
            await send({"type": "websocket.close", "code": code, "reason": error.description})
            return
        await response(scope, receive, send)

    def response_for(self, scope: Scope, error: AuthError) -> Response:
        """The answer to ``error``: ``on_error``'s if set, else the standard one."""
        if self.on_error is not None:
            return self.on_error(HTTPConnection(scope), error)
        return error_response(error, realm=self.realm)


def _header_tokens_max(verifier: object, serves_hits: bool) -> int:
    """How many headers to remember: as many as the verifier caches tokens, none if it keeps no cache."""
    cache = getattr(verifier, "cache", None)
    if isinstance(cache, VerifiedTokenCache):
        return cache.max_size
    if not serves_hits or (cache is None and hasattr(verifier, "cache")):
        return 0  # e.g. TokenVerifier(cache_size=0): every token is verified again, and nothing is kept
    return DEFAULT_CACHE_SIZE  # hits answered from caches of its own, as MultiIssuerVerifier's are


def _no_cache(token: str) -> None:
    """The synchronous lookup of a verifier that has none: always a miss."""
    return None


def _printable(path: str) -> str:
    """The path for a log line: control characters escaped, so a request cannot forge log lines."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _compile_exclusions(paths: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    if isinstance(paths, str):
        raise ConfigurationError("exclude_paths must be a list of paths, not one string")
    exact: set[str] = set()
    prefixes: list[str] = []
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError(f"exclude_paths entries must start with '/': {path!r}")
        trimmed = path.rstrip("/") or "/"
        exact.add(trimmed)
        if trimmed != "/":  # "/" excludes the root page only, not every path
            exact.add(trimmed + "/")
            prefixes.append(trimmed + "/")
    return frozenset(exact), tuple(prefixes)


def _no_store(send: Send) -> Send:
    async def send_no_store(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
        await send(message)

    return send_no_store


async def _lifespan(app: ASGIApp, scope: Scope, receive: Receive, send: Send, verifier: Verifier) -> None:
    """Run the verifier's ``startup()`` before the app sees ``lifespan.startup``, and ``shutdown()``.

    Every message still reaches the app unchanged. If ``startup()`` raises, the server
    gets ``lifespan.startup.failed`` and the app is never started. If the app does not
    speak lifespan at all (it returns or raises without reading the start-up message),
    we answer the server ourselves, so the warm-up happens anyway.
    """
    startup = getattr(verifier, "startup", None)
    shutdown = getattr(verifier, "shutdown", None)
    pending: Message | None = await receive()
    if pending is not None and pending["type"] == "lifespan.startup" and startup is not None:
        try:
            await startup()
        except Exception as exc:
            logger.error("start-up failed: %s", exc)
            await send({"type": "lifespan.startup.failed", "message": f"asgi-jwt start-up failed: {exc}"})
            return

    async def receive_in_turn() -> Message:
        nonlocal pending
        if pending is not None:
            message, pending = pending, None
            return message
        message = await receive()
        if message["type"] == "lifespan.shutdown" and shutdown is not None:
            await shutdown()
        return message

    try:
        await app(scope, receive_in_turn, send)
    except Exception:
        if pending is None:
            raise  # the app took part in lifespan: its failure is its own
        logger.debug("the app does not implement lifespan; answering the server for it")
    if pending is None:
        return
    await send({"type": "lifespan.startup.complete"})
    await receive()  # lifespan.shutdown
    if shutdown is not None:
        await shutdown()
    await send({"type": "lifespan.shutdown.complete"})


def _is_cors_preflight(scope: Scope) -> bool:
    if scope["method"] != "OPTIONS":
        return False
    names = {name for name, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names
