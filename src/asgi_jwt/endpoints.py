"""Ready token endpoints to mount: refresh (RFC 6749 §6) and revocation, i.e. logout (RFC 7009).

Login stays the app's own code; these two are the same for every app. Both are
plain ASGI apps that take ``POST`` with a form body (as the RFCs say) or the same
parameters as a JSON object, cap the body, and answer every input with a
well-formed JSON answer and ``Cache-Control: no-store``: never a 500, and nothing
about the token in the answer.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Receive, Scope, Send

from asgi_jwt.errors import AuthError, ConfigurationError, InvalidGrant, ServiceUnavailable
from asgi_jwt.issuing import TokenIssuer
from asgi_jwt.revocation import FAMILY_CLAIM
from asgi_jwt.verify import TokenVerifier

__all__ = ["DEFAULT_MAX_BODY_SIZE", "RefreshEndpoint", "RevocationEndpoint"]

logger = logging.getLogger("asgi_jwt")

DEFAULT_MAX_BODY_SIZE = 16_384
"""Largest request body accepted, in bytes: room for a refresh token of the largest size verified."""
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]  # RFC 6749 §5.1


class _Refused(Exception):
    """An answer other than success: status, OAuth error code (RFC 6749 §5.2) and extra headers."""

    def __init__(self, status: int, error: str, description: str, *headers: tuple[bytes, bytes]) -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers


class _TokenEndpoint(ABC):
    """What both endpoints share: ``POST`` only, the content types, the body cap, the answers."""

    def __init__(self, max_body_size: int) -> None:
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size < 1024:
            raise ConfigurationError("max_body_size must be an integer of at least 1024 bytes")
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await _not_http(scope, receive, send)
            return
        try:
            if scope["method"].upper() != "POST":
                raise _Refused(405, "invalid_request", "Use POST", (b"allow", b"POST"))
            params = await self._parameters(scope, receive)
            if params is None:
                return  # the client went away: nobody to answer
            status, body = await self.handle(params)
        except _Refused as refused:
            status, body = refused.status, {"error": refused.error, "error_description": refused.description}
            await _answer(send, status, body, refused.headers)
            return
        except ServiceUnavailable as error:  # the store or the keys are down: retry, do not log in again
            body = {"error": "temporarily_unavailable", "error_description": error.description}
            await _answer(send, 503, body, ((b"retry-after", str(error.retry_after).encode()),))
            return
        await _answer(send, status, body)

    @abstractmethod
    async def handle(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any] | None]:
        """Status and JSON body (``None`` for none) for the request's parameters; raise ``_Refused`` to refuse."""

    async def _parameters(self, scope: Scope, receive: Receive) -> dict[str, str] | None:
        """The request's parameters from a form or JSON body, each given once; ``None`` if the client left."""
        content_type, length = b"", None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
        media = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
        if media not in (_FORM, _JSON):
            raise _Refused(415, "invalid_request", f"Send {_FORM} or {_JSON}")
        if length is not None and not length.strip().isdigit():
            raise _Refused(400, "invalid_request", "The Content-Length header is not a number")
        if length is not None and int(length) > self.max_body_size:
            raise _Refused(413, "invalid_request", "The request body is too large")
        body = await _read_body(receive, self.max_body_size)
        if body is None:
            return None
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)) if media == _FORM else None
            if pairs is None:
                pairs = json.loads(text, object_pairs_hook=_JSONObject)  # every member, repeated ones included
                if not isinstance(pairs, _JSONObject):
                    raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            raise _Refused(400, "invalid_request", "The request body cannot be parsed") from exc
        params: dict[str, str] = {}
        for name, value in pairs:
            if not isinstance(value, str):
                raise _Refused(400, "invalid_request", f"The parameter {_shown(name)} must be a string")
            if name in params:  # RFC 6749 §3.2: parameters must not be included more than once
                raise _Refused(400, "invalid_request", f"The parameter {_shown(name)} is repeated")
            params[name] = value
        return params


class RefreshEndpoint(_TokenEndpoint):
    """The refresh grant (RFC 6749 §6): ``grant_type=refresh_token&refresh_token=…`` → a new token pair.

    Answers 200 with the :class:`~asgi_jwt.TokenResponse`, or 400 ``invalid_grant``
    (the token is expired, forged, revoked or spent: log in again),
    ``unsupported_grant_type`` or ``invalid_request``; 503 with ``Retry-After``
    when the revocation store is down. A ``scope`` parameter is ignored: the new
    tokens have the scope of the login, which the answer's ``scope`` states.
    Clients are not authenticated here: the refresh token is the credential, as
    for the public clients (browsers, mobile apps) of a first-party login.

    Args:
        issuer: the :class:`~asgi_jwt.TokenIssuer` that made the tokens (with a
            revocation store, which rotation needs).
        max_body_size: largest request body, in bytes (413 beyond).
    """

    def __init__(self, issuer: TokenIssuer, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        if not isinstance(issuer, TokenIssuer):
            raise ConfigurationError("RefreshEndpoint needs a TokenIssuer")
        if issuer.revocation is None:
            raise ConfigurationError("RefreshEndpoint needs a TokenIssuer with a revocation store (revocation=…)")
        super().__init__(max_body_size)
        self.issuer = issuer

    async def handle(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any] | None]:
        grant_type = params.get("grant_type")
        if not grant_type:
            raise _Refused(400, "invalid_request", "The grant_type parameter is missing")
        if grant_type != "refresh_token":
            raise _Refused(400, "unsupported_grant_type", "Only the refresh_token grant is supported here")
        token = params.get("refresh_token")
        if not token:
            raise _Refused(400, "invalid_request", "The refresh_token parameter is missing")
        try:
            return 200, await self.issuer.refresh(token)
        except InvalidGrant as error:
            raise _Refused(400, "invalid_grant", error.description) from error


class RevocationEndpoint(_TokenEndpoint):
    """Token revocation (RFC 7009), i.e. logout: ``token=…`` (``token_type_hint`` accepted) is revoked.

    Answers 200 for every well-formed request, unknown, expired and garbage tokens
    included (RFC 7009 §2.2: the client's purpose is reached either way); 400
    ``invalid_request`` without a ``token``; 503 with ``Retry-After`` when the
    revocation cannot be recorded.

    Args:
        target: a :class:`~asgi_jwt.TokenIssuer` (its tokens are checked, and a
            refresh token takes its family with it), or a
            :class:`~asgi_jwt.TokenVerifier` with a revocation store, for an API that
            verifies tokens issued elsewhere: the access tokens it accepts are revoked
            by ``jti``. Tokens are always verified first, so nobody can fill the store
            with made-up entries.
        max_body_size: largest request body, in bytes (413 beyond).
    """

    def __init__(self, target: TokenIssuer | TokenVerifier, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        if not isinstance(target, TokenIssuer | TokenVerifier) or target.revocation is None:
            raise ConfigurationError("RevocationEndpoint needs a TokenIssuer or TokenVerifier with a revocation store")
        super().__init__(max_body_size)
        self.target = target

    async def handle(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any] | None]:
        token = params.get("token")
        if not token:
            raise _Refused(400, "invalid_request", "The token parameter is missing")
        # token_type_hint only speeds up a lookup; ours tells the kinds apart by their typ, so it is not needed.
        if isinstance(self.target, TokenIssuer):
            revoked = await self.target.revoke(token)
        else:
            revoked = await _revoke_verified(self.target, token)
        logger.info("revocation request: %s", "token revoked" if revoked else "nothing to revoke")
        return 200, None


async def _revoke_verified(verifier: TokenVerifier, token: str) -> bool:
    """Revoke an access token the verifier accepts (by ``jti``, and its family if it has one)."""
    try:
        claims = await verifier.verify(token)
    except ServiceUnavailable:
        raise
    except AuthError:
        return False  # not a valid token now (forged, expired, revoked already): nothing to take back
    store, expires = verifier.revocation, claims.get("exp")
    jti, family = claims.get("jti"), claims.get(FAMILY_CLAIM)
    if store is None or not isinstance(expires, int | float) or not isinstance(jti, str):
        return False  # without exp or jti a token cannot be revoked alone (a subject cut-off still can)
    await store.revoke(jti, expires_at=expires)
    if isinstance(family, str):
        await store.revoke_family(family, expires_at=expires)
    return True


class _JSONObject(list[tuple[str, Any]]):
    """A JSON object as the list of its members, so a repeated name is seen rather than silently replaced."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "invalid_request", "The request body is too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(
    send: Send, status: int, body: Mapping[str, Any] | None, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    start: Message = {"type": "http.response.start", "status": status, "headers": [*_NO_STORE, *headers]}
    start["headers"].append((b"content-length", str(len(content)).encode()))
    if body is not None:
        start["headers"].append((b"content-type", b"application/json"))
    await send(start)
    await send({"type": "http.response.body", "body": content})


async def _not_http(scope: Scope, receive: Receive, send: Send) -> None:
    """Run standalone, the endpoint still answers a server's lifespan; a WebSocket is turned away."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _shown(name: Any) -> str:
    """A parameter name for an error description: ours are short and plain; anything else is not echoed."""
    return repr(name) if isinstance(name, str) and name.isidentifier() and len(name) <= 32 else "given"
