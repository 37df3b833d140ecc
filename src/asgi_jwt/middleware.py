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

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_jwt.apikeys import ApiKeys
from asgi_jwt.authz.grants import PermissionPolicy
from asgi_jwt.authz.rules import Authorization, Rule
from asgi_jwt.claims import Claims
from asgi_jwt.credentials import HeaderTokens, TokenSources, bearer_token
from asgi_jwt.csrf import CSRFProtection
from asgi_jwt.errors import AuthError, ConfigurationError, InvalidRequest, MissingToken
from asgi_jwt.identity import (
    ANONYMOUS,
    UNAUTHENTICATED_USER,
    JWTAuth,
    JWTUser,
    current_claims_var,
    publish_current_claims,
)
from asgi_jwt.lifespan import has_lifespan_hooks, run_with_hooks
from asgi_jwt.paths import PathPrefixes, route_path
from asgi_jwt.responses import check_realm, error_response, websocket_close_code
from asgi_jwt.verify import Verifier, cache_lookup

__all__ = ["ErrorHandler", "JWTAuthMiddleware"]

logger = logging.getLogger("asgi_jwt")

ErrorHandler = Callable[[HTTPConnection, AuthError], Response]
"""``on_error``: ``(conn, error) -> Response``, the one way to answer a refusal differently."""
_WEBSOCKET_DENIAL = "websocket.http.response"
_NO_MEMO = (None, None, None)
# Bound once: looked up per request, ContextVar.set and .reset would each build a bound method object.
_set_current_claims = current_claims_var.set
_reset_current_claims = current_claims_var.reset
_RENDERED_ANSWERS = 64  # distinct standard error answers kept ready (they differ only by error and scope)


class JWTAuthMiddleware:
    """Authenticate ``http`` and ``websocket`` requests with a JWT bearer token.

    Args:
        app: the ASGI application to protect.
        verifier: anything with ``async verify(token) -> claims`` (usually a
            :class:`~asgi_jwt.TokenVerifier`).
        exclude_paths: paths served without authentication; ``/health`` covers
            ``/health`` and ``/health/live`` but not ``/healthz``, and ``/`` the
            root page only (see :mod:`asgi_jwt.paths`).
        optional: let requests without credentials through as anonymous (a bad
            token is still rejected).
        cookie: also read the token from this cookie.
        csrf: for a token read from the cookie, refuse unsafe requests (``POST``…)
            without a same-origin signal with a 403 (see :mod:`asgi_jwt.csrf`). On by
            default; a :class:`~asgi_jwt.CSRFProtection` adds trusted origins or a
            double-submit header, ``False`` turns it off.
        query_param: also read the token from this query parameter (``True`` means
            ``access_token``) on WebSocket handshakes, for clients that cannot set
            headers. URLs end up in access logs, so prefer headers where possible.
        query_param_http: read ``query_param`` on HTTP requests too.
        identity_claim: the claim that identifies the user (``sub``; some systems
            use ``user_id``).
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
        on_error: ``(conn, error) -> Response`` to replace the standard answer; it is
            asked for every refusal (the standard answers are built once and replayed
            only without it). With ``query_param`` set its answers get
            ``Cache-Control: no-store`` too.
        policy: a :class:`~asgi_jwt.PermissionPolicy` or a role table (role to
            permissions): ``scope["auth"].scopes`` becomes :class:`~asgi_jwt.Grants`,
            with roles, ``permissions`` claims and wildcards. Without it, ``.scopes``
            is the token's ``scope``/``scp``, matched exactly.
        rules: :class:`~asgi_jwt.Rule` objects checked after authentication and
            before the app runs: a 403 ``insufficient_scope`` when one fails, and a
            401 for an anonymous request (optional mode) that one covers.
        current_claims: also set the context variable behind
            :func:`~asgi_jwt.current_claims` around the app, for code that has no
            request at hand. Off by default: it costs every request a few percent.
        api_keys: :class:`~asgi_jwt.ApiKeys` also accepted, from their header
            (``X-API-Key``): the same scope, with ``scope["auth"].method == "api_key"``.
            A request with both a bearer token and a key is a 400.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier,
        exclude_paths: Iterable[str] = (),
        optional: bool = False,
        cookie: str | None = None,
        csrf: bool | CSRFProtection = True,
        query_param: str | bool | None = None,
        query_param_http: bool = False,
        identity_claim: str = "sub",
        realm: str = "api",
        on_error: ErrorHandler | None = None,
        policy: PermissionPolicy | Mapping[str, str | Iterable[str]] | None = None,
        rules: Iterable[Rule] = (),
        current_claims: bool = False,
        api_keys: ApiKeys | None = None,
    ) -> None:
        if not callable(getattr(verifier, "verify", None)):
            raise ConfigurationError("verifier must have an async verify(token) method, e.g. a TokenVerifier")
        if not isinstance(identity_claim, str) or not identity_claim:
            raise ConfigurationError("identity_claim must be a non-empty claim name")
        if on_error is not None and not callable(on_error):
            raise ConfigurationError("on_error must be a function (conn, error) -> Response")
        if not isinstance(current_claims, bool):
            raise ConfigurationError("current_claims must be True or False")
        if api_keys is not None and not isinstance(api_keys, ApiKeys):
            raise ConfigurationError("api_keys must be an ApiKeys object, e.g. ApiKeys.from_file('api-keys.json')")
        self._api_keys = api_keys
        self._api_key_header = None if api_keys is None else api_keys.header_name
        self.app = app
        self.verifier = verifier
        # A TokenVerifier answers tokens it has verified before synchronously: no await on a hit.
        self._cached: Callable[[str], Mapping[str, Any] | None] = cache_lookup(verifier) or _no_cache
        # e.g. a TokenVerifier over a JWKSResolver: fetch the keys before the app starts
        self._has_lifespan_hooks = has_lifespan_hooks(verifier)
        self.optional = optional
        self.identity_claim = identity_claim
        self.realm = check_realm(realm)
        self.on_error = on_error
        self._sources = TokenSources(
            cookie=cookie, query_param=query_param, query_param_http=query_param_http, csrf=csrf
        )
        self._other_places = bool(self._sources)
        self._url_tokens = self._sources.query_param is not None
        excluded = PathPrefixes(exclude_paths, what="exclude_paths", root_covers_all=False)
        self._excluded = excluded if excluded else None  # None: one identity check per request
        self._authz = Authorization.build(policy, rules)  # None without either: the fast path
        self._publish_claims = current_claims
        if current_claims:
            publish_current_claims()
        # Memos, each where its reason is said: the header -> token map (HeaderTokens), scope["auth"] and
        # scope["user"] kept on our own Claims (_identity), and the standard answers rendered once (_replay).
        self._header_tokens = HeaderTokens.for_verifier(verifier, self._cached is not _no_cache)
        self._rendered: dict[tuple[Any, ...], tuple[int, tuple[tuple[bytes, bytes], ...], bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            await self._pass_through(scope, receive, send)
            return
        # No CORS preflight skip: request headers must never let an endpoint run anonymously on a
        # protected path. A CORS middleware outside this one answers preflights (docs/middleware.md).
        if self._excluded is not None and route_path(scope) in self._excluded:
            await self._anonymous(scope, receive, send)
            return
        if self._api_keys is not None and self._api_keys.carried_by(scope):
            await self._api_key_request(self._api_keys, scope, receive, send)
            return
        # Written out inline: on a cached token each method call would cost about as much as its work.
        try:
            authorization: bytes | None = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    if authorization is not None:
                        raise InvalidRequest("Only one Authorization header is allowed")
                    authorization = value
            try:
                token: str | None = self._header_tokens.get(authorization)
            except TypeError:  # not bytes, against the ASGI spec: parsed below like any other value
                token = None
            unseen = token is None
            if unseen and authorization is not None:
                token = bearer_token(authorization)
            if self._other_places:
                token = self._sources.token(scope, token)
            if token is None:
                if not self.optional or (self._authz is not None and self._authz.covers(scope)):
                    raise MissingToken()  # a rule needs someone to authorize: 401, not 403
            else:
                claims = self._cached(token)
                if claims is None:
                    claims = await self.verifier.verify(token)
                    # With a cache, notes wait for the token's second sight: most tokens seen once stay so.
                    keep = self._cached is _no_cache
                else:
                    keep = True
                    if unseen:
                        self._header_tokens.remember(authorization, token)
                if self._authz is not None:
                    self._authz.admit(scope, claims, token, self.identity_claim)
                else:
                    memo = getattr(claims, "_memo", _NO_MEMO)  # only our own Claims remember
                    if memo[0] is not self:
                        memo = self._identity(claims, token, keep)
                    scope["auth"] = memo[1]
                    scope["user"] = memo[2]
        except AuthError as error:
            await self._reject(scope, receive, send, error)
            return
        if token is None:  # outside the try: an AuthError raised by the app is the app's own
            await self._anonymous(scope, receive, send)
            return
        if self._url_tokens and scope_type == "http" and self._sources.in_url(scope):
            send = _no_store(send)  # RFC 6750 §2.3: a credential in the URL, so nothing may cache the answer
        if not self._publish_claims:
            await self.app(scope, receive, send)
            return
        reset = _set_current_claims(claims)
        try:
            await self.app(scope, receive, send)
        finally:
            _reset_current_claims(reset)

    async def _api_key_request(self, api_keys: ApiKeys, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request that carries an API key (see :mod:`asgi_jwt.apikeys`)."""
        try:
            key = api_keys.presented(scope, self._sources)
            claims = await api_keys.admit(scope, key, self._authz, self.identity_claim)
        except AuthError as error:
            await self._reject(scope, receive, send, error)
            return
        if not self._publish_claims:
            await self.app(scope, receive, send)
            return
        reset = _set_current_claims(claims)
        try:
            await self.app(scope, receive, send)
        finally:
            _reset_current_claims(reset)

    async def _pass_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan (with the verifier's start-up and shutdown, if it has them) and unknown scope types."""
        if scope["type"] == "lifespan" and self._has_lifespan_hooks:
            startup, shutdown = getattr(self.verifier, "startup", None), getattr(self.verifier, "shutdown", None)
            await run_with_hooks(self.app, scope, receive, send, startup=startup, shutdown=shutdown)
            return
        await self.app(scope, receive, send)

    async def _anonymous(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request without a token: excluded paths, optional mode."""
        scope["auth"] = ANONYMOUS
        scope["user"] = UNAUTHENTICATED_USER
        await self.app(scope, receive, send)

    def _identity(self, claims: Mapping[str, Any], token: str, keep: bool) -> tuple[object, JWTAuth, JWTUser]:
        """Build ``scope["auth"]`` and ``scope["user"]``: read-only views of claims whose times were just checked,
        so when ``keep`` they are kept on our own ``Claims`` and shared by every later request with that token."""
        memo = (self, JWTAuth(claims, None, token), JWTUser(claims, self.identity_claim))
        if keep and type(claims) is Claims:
            claims._memo = memo
        return memo

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
        if self.on_error is None and scope["type"] == "http":
            await self._replay(send, error)
            return
        if self.on_error is not None:
            response = self.on_error(HTTPConnection(scope), error)
        else:
            response = error_response(error, realm=self.realm, api_key_header=self._api_key_header)
        if self._url_tokens:  # the URL may hold a credential: RFC 6750 §2.3, whoever built the answer
            response.headers["Cache-Control"] = "no-store"
        if scope["type"] == "websocket" and _WEBSOCKET_DENIAL not in scope.get("extensions", {}):
            # Without the denial-response extension a close before accept is all
            # we can send; servers turn it into an HTTP 403.
            code = websocket_close_code(error)
            await send({"type": "websocket.close", "code": code, "reason": error.description})
            return
        await response(scope, receive, send)

    async def _replay(self, send: Send, error: AuthError) -> None:
        """Send a standard answer, built once per kind: a flood of bad tokens costs the verification and two sends."""
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
            built = error_response(error, realm=self.realm, api_key_header=self._api_key_header)
            if len(self._rendered) >= _RENDERED_ANSWERS:
                self._rendered.clear()
            rendered = self._rendered[key] = (built.status_code, tuple(built.raw_headers), bytes(built.body))
        # Fresh header lists: outer middleware may edit them.
        await send({"type": "http.response.start", "status": rendered[0], "headers": list(rendered[1])})
        await send({"type": "http.response.body", "body": rendered[2]})


def _no_cache(token: str) -> None:
    """The synchronous lookup of a verifier that has none: always a miss."""
    return None


def _printable(path: str) -> str:
    """The path for a log line: control characters escaped, so a request cannot forge log lines."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _no_store(send: Send) -> Send:
    async def send_no_store(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
        await send(message)

    return send_no_store
