"""One exception tree for everything that can go wrong with a token.

Each error knows the HTTP answer it deserves (``status_code``), its RFC 6750 error
code (``error``, ``None`` for a bare challenge), a ``description`` that is safe to
show to the client, and a short ``reason`` for logs. Descriptions are fixed strings
written here: nothing from the token or from a library's exception text ends up in
them, so nothing leaks into responses.

    AuthError
    ├── MissingToken           401, bare challenge: no credentials at all
    ├── InvalidRequest         400 invalid_request: empty, repeated or ambiguous credentials
    ├── InvalidToken           401 invalid_token
    │   ├── MalformedToken     not a compact JWS, bad base64url/JSON, oversized, not ASCII
    │   ├── InvalidAlgorithm   alg not allowed for any candidate key (``none`` included)
    │   ├── UnknownKey         kid names no configured key
    │   ├── InvalidSignature
    │   ├── TokenExpired
    │   ├── TokenNotYetValid   nbf (or iat) in the future
    │   ├── InvalidIssuer
    │   ├── InvalidAudience
    │   ├── MissingClaim
    │   ├── InvalidClaim       a claim of the wrong JSON type or value
    │   ├── WrongTokenType     a refresh token, or a typ that is not an access token
    │   └── TokenRevoked       revoked (logout, a stolen token, a reused refresh token)
    ├── InsufficientScope      403 insufficient_scope: authenticated, not permitted
    ├── InvalidGrant           400 invalid_grant (RFC 6749 §5.2): a refresh token refused at the token endpoint
    └── ServiceUnavailable     503 with Retry-After: infrastructure, not the token
        ├── KeysUnavailable        the keys could not be obtained
        │   └── JWKSError          a JWK Set fetch or discovery failed; the message names the URL and why
        └── RevocationUnavailable  the revocation list cannot be confirmed current

Configuration mistakes are not request errors: they raise ``ConfigurationError``
(a ``ValueError``) at construction, so a misconfigured app never starts. A JWK Set
given in full (``JWKSet``) that cannot be used is such a mistake; one that cannot be
*fetched* is an outage, so ``JWKSResolver.refresh()``, ``startup()`` and
``from_issuer()`` raise ``JWKSError``: catching ``KeysUnavailable`` (or ``AuthError``)
covers the request path and those calls alike, and an app that lets it reach the
response builder answers 503, not 500.

Every ``AuthError`` is also a Starlette ``HTTPException`` with the right
``status_code``, ``detail`` and ``headers`` (the challenge with the default realm
``"api"``, or ``Retry-After``): one raised in a route or a dependency of an app that
registered no handler of ours still gets its 401/403/503 from Starlette's or
FastAPI's default handler, never a 500. The handlers of
:func:`~asgi_jwt.auth_exception_handlers` add the JSON ``error`` field and the
middleware's realm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from starlette.exceptions import HTTPException

__all__ = [
    "AuthError",
    "ConfigurationError",
    "InsufficientScope",
    "InvalidAlgorithm",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidGrant",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "JWKSError",
    "KeysUnavailable",
    "MalformedToken",
    "MissingClaim",
    "MissingToken",
    "RevocationUnavailable",
    "ServiceUnavailable",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenRevoked",
    "UnknownKey",
    "WrongTokenType",
]


class ConfigurationError(ValueError):
    """The library was set up wrongly (a short secret, a bad key, a missing setting).

    Raised at construction time, never while serving a request.
    """


class AuthError(HTTPException):
    """Base class of every request-time authentication or authorization failure."""

    status_code: int = 401  # a class constant; typed as HTTPException's attribute, which it stands for
    error: ClassVar[str | None] = None
    default_description: ClassVar[str] = "Not authenticated"
    reason: ClassVar[str] = "auth_error"

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        # Not HTTPException.__init__: the status stays the class's, and the headers are built on demand.
        Exception.__init__(self, self.description)
        self._headers: Mapping[str, str] | None = None

    def __str__(self) -> str:  # the message (a description, or what a subclass put in args), not HTTPException's
        return Exception.__str__(self)

    @property
    def detail(self) -> str:  # type: ignore[override]  # HTTPException's detail is this error's description
        """The description, under the name framework handlers read."""
        return self.description

    @property
    def headers(self) -> Mapping[str, str]:  # type: ignore[override]
        """The answer's headers with the default realm, for a framework's own ``HTTPException`` handler."""
        if self._headers is None:
            from asgi_jwt.responses import error_headers  # responses imports this module: resolved at first use

            self._headers = error_headers(self)
        return self._headers


class MissingToken(AuthError):
    """No credentials at all (or another scheme, such as ``Basic``)."""

    reason = "missing_token"


class InvalidRequest(AuthError):
    """The credentials are present but unusable: empty, repeated or in several places."""

    status_code = 400
    error = "invalid_request"
    default_description = "Invalid authentication request"
    reason = "invalid_request"


class InvalidToken(AuthError):
    """The token was presented but cannot be accepted."""

    error = "invalid_token"
    default_description = "Invalid token"
    reason = "invalid_token"


class MalformedToken(InvalidToken):
    default_description = "Malformed token"
    reason = "malformed_token"


class InvalidAlgorithm(InvalidToken):
    default_description = "Token algorithm is not accepted"
    reason = "invalid_algorithm"


class UnknownKey(InvalidToken):
    default_description = "Token signing key is not recognised"
    reason = "unknown_key"


class InvalidSignature(InvalidToken):
    default_description = "Invalid token signature"
    reason = "invalid_signature"


class TokenExpired(InvalidToken):
    default_description = "Token has expired"
    reason = "token_expired"


class TokenNotYetValid(InvalidToken):
    default_description = "Token is not yet valid"
    reason = "token_not_yet_valid"


class InvalidIssuer(InvalidToken):
    default_description = "Token issuer is not accepted"
    reason = "invalid_issuer"


class InvalidAudience(InvalidToken):
    default_description = "Token audience is not accepted"
    reason = "invalid_audience"


class MissingClaim(InvalidToken):
    """A required claim is absent. ``claim`` names it (a configured name, safe to show)."""

    reason = "missing_claim"

    def __init__(self, claim: str) -> None:
        self.claim = claim
        super().__init__(f"Token is missing the '{claim}' claim")


class InvalidClaim(InvalidToken):
    """A claim has the wrong JSON type or an unusable value."""

    reason = "invalid_claim"

    def __init__(self, claim: str) -> None:
        self.claim = claim
        super().__init__(f"Token has an invalid '{claim}' claim")


class WrongTokenType(InvalidToken):
    default_description = "Token type is not accepted here"
    reason = "wrong_token_type"


class TokenRevoked(InvalidToken):
    default_description = "Token has been revoked"
    reason = "revoked"


class InsufficientScope(AuthError):
    """Authenticated, but lacking a permission. ``scope`` lists what was needed."""

    status_code = 403
    error = "insufficient_scope"
    default_description = "Insufficient permissions"
    reason = "insufficient_scope"

    def __init__(self, scope: str | tuple[str, ...] = (), description: str | None = None) -> None:
        self.scope: tuple[str, ...] = (scope,) if isinstance(scope, str) else tuple(scope)
        super().__init__(description)


class InvalidGrant(AuthError):
    """A refresh token refused by :meth:`TokenIssuer.refresh <asgi_jwt.TokenIssuer.refresh>` (RFC 6749 §5.2).

    Expired, forged, not a refresh token, revoked, or already spent (reuse, which also
    revokes its whole family). An OAuth token-endpoint error, answered with a JSON
    ``{"error": "invalid_grant"}`` body and no ``WWW-Authenticate`` challenge. The
    description says no more than RFC 6749 needs; a reuse is logged as a warning.
    """

    status_code = 400
    error = "invalid_grant"
    default_description = "The refresh token is invalid, expired or revoked"
    reason = "invalid_grant"


class ServiceUnavailable(AuthError):
    """Something the verification depends on is down: an outage, not a bad token.

    Answered with 503 and ``Retry-After`` so clients retry instead of re-authenticating.
    """

    status_code = 503
    default_description = "Authentication is temporarily unavailable"
    reason = "unavailable"

    def __init__(self, description: str | None = None, *, retry_after: int = 30) -> None:
        self.retry_after = retry_after
        super().__init__(description)


class KeysUnavailable(ServiceUnavailable):
    """The verification keys could not be obtained (a JWKS endpoint down, a resolver failing)."""

    default_description = "Authentication keys are temporarily unavailable"
    reason = "keys_unavailable"


class JWKSError(KeysUnavailable):
    """A JWK Set (or the discovery document pointing to it) could not be fetched or used.

    ``str(error)`` names the URL and the reason, for logs and start-up failures; the
    ``description`` a client may see stays the fixed one of :class:`KeysUnavailable`.
    """

    reason = "jwks_fetch_failed"

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__(retry_after=retry_after)
        self.args = (message,)


class RevocationUnavailable(ServiceUnavailable):
    """The revocation store cannot confirm its list is current: refusing is safer than admitting a revoked token."""

    default_description = "Token revocation status is temporarily unavailable"
    reason = "revocation_unavailable"
