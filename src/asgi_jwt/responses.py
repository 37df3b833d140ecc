"""The one place that turns an :class:`~asgi_jwt.AuthError` into an HTTP answer.

RFC 6750 §3: every 400/401/403 carries a ``WWW-Authenticate: Bearer realm="…"``
challenge; ``error`` (and ``error_description``) only when a token or request was
actually wrong, so a request with no credentials gets the bare challenge. A 503
(keys unavailable) carries ``Retry-After`` instead. The body is always JSON with
``detail`` and ``error``. Framework integrations register exception handlers that
call :func:`error_response`; nothing else builds these answers. A protected resource
that publishes RFC 9728 metadata names it in every challenge (``resource_metadata``),
and an MCP server answers with a JSON-RPC error object as the body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse

from asgi_jwt.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidApiKey,
    MissingToken,
    ServiceUnavailable,
)

__all__ = ["error_headers", "error_response"]  # the rest serve the middleware and the integrations

# RFC 6750 §3: error_description and scope values are restricted to these characters.
_UNSAFE_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
"""RFC 6750 §3 scope-token: what may appear in the challenge's ``scope="…"`` attribute."""
_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1
_TRY_AGAIN_LATER = 1013  # IANA WebSocket close code registry


def check_realm(realm: str) -> str:
    """Validate a realm once, at start-up: it is written inside a quoted string."""
    if not isinstance(realm, str) or not realm or _UNSAFE_DESCRIPTION.search(realm):
        raise ConfigurationError("realm must be non-empty printable ASCII without quotes or backslashes")
    return realm


def bearer_challenge(error: AuthError, realm: str, *, resource_metadata: str | None = None) -> str:
    """The ``WWW-Authenticate`` value for ``error``.

    ``resource_metadata`` (RFC 9728 §5.1) is the URL of the protected resource
    metadata, checked once at start-up to be a scope-token (no spaces or quotes).
    """
    parts = [f'Bearer realm="{realm}"']
    if resource_metadata is not None:
        parts.append(f'resource_metadata="{resource_metadata}"')
    if error.error is not None:
        parts.append(f'error="{error.error}"')
        parts.append(f'error_description="{_UNSAFE_DESCRIPTION.sub("", error.description)}"')
    if isinstance(error, InsufficientScope):
        needed = [scope for scope in error.scope if SCOPE_TOKEN.fullmatch(scope)]
        if needed:
            parts.append(f'scope="{" ".join(needed)}"')
    return ", ".join(parts)


def error_headers(
    error: AuthError, realm: str = "api", *, resource_metadata: str | None = None, api_key_header: str | None = None
) -> dict[str, str]:
    """The headers of the answer to ``error``: the Bearer challenge (or ``Retry-After``) and ``no-store``.

    With API keys configured, a bad key's error goes on the ``ApiKey`` challenge (see :func:`error_response`),
    so the Bearer one stays bare: a bearer client is never told its token failed.
    """
    headers = {"Cache-Control": "no-store"}
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    else:
        about_key = api_key_header is not None and isinstance(error, InvalidApiKey)
        challenged = MissingToken() if about_key else error
        headers["WWW-Authenticate"] = bearer_challenge(challenged, realm, resource_metadata=resource_metadata)
    return headers


def api_key_challenge(error: AuthError, realm: str, header: str) -> str:
    """The ``ApiKey`` challenge beside the Bearer one: where to send a key, and what was wrong with the one sent.

    ``header`` is a header name (a token, checked by :class:`~asgi_jwt.ApiKeys`), so it needs no escaping.
    """
    challenge = f'ApiKey realm="{realm}", header="{header}"'
    if isinstance(error, InvalidApiKey):
        challenge += f', error="{error.error}", error_description="{_UNSAFE_DESCRIPTION.sub("", error.description)}"'
    return challenge


def error_response(
    error: AuthError,
    *,
    realm: str = "api",
    resource_metadata: str | None = None,
    body: Mapping[str, Any] | Sequence[Any] | None = None,
    api_key_header: str | None = None,
) -> JSONResponse:
    """The response for ``error``: status, challenge or ``Retry-After``, and a JSON body.

    ``body`` replaces the usual ``{"detail", "error"}`` object where the protocol
    wants its own (a JSON-RPC error, or a batch of them); status and headers stay the same.
    ``api_key_header`` (the header of :class:`~asgi_jwt.ApiKeys`) adds a second challenge,
    ``ApiKey``, as a second ``WWW-Authenticate`` field after the Bearer one (RFC 9110 §11.6.1:
    several challenges, the well-supported scheme first). A bad key's ``error`` goes on that
    challenge and leaves the Bearer one bare, so a bearer client is not told its token failed.
    """
    content = {"detail": error.description, "error": error.error} if body is None else body
    headers = error_headers(error, realm, resource_metadata=resource_metadata, api_key_header=api_key_header)
    response = JSONResponse(content, status_code=error.status_code, headers=headers)
    if api_key_header is not None and not isinstance(error, ServiceUnavailable):
        response.headers.append("WWW-Authenticate", api_key_challenge(error, realm, api_key_header))
    return response


def websocket_close_code(error: AuthError) -> int:
    """The close code for a WebSocket refused before ``accept`` without an HTTP denial response.

    1008 (policy violation) for a refusal; 1013 (try again later) when the keys are
    unavailable, so clients retry instead of re-authenticating.
    """
    return _TRY_AGAIN_LATER if isinstance(error, ServiceUnavailable) else _POLICY_VIOLATION
