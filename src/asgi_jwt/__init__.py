"""JWT bearer authentication for any ASGI application.

Wrap an app with :class:`JWTAuthMiddleware`, give it a :class:`TokenVerifier` over a
key resolver (:class:`SecretKey`, :class:`PublicKey`, :class:`KeyPair`,
:class:`RotatingKeys` or your own), and read the verified claims from
``scope["auth"]`` and ``scope["user"]``.
"""

from asgi_jwt.authz import (
    AllOf,
    AnyOf,
    ClaimCheck,
    Grants,
    HasPermission,
    HasRole,
    PermissionPolicy,
    Requirement,
    Rule,
    auth_exception_handlers,
    authorize,
)
from asgi_jwt.claims import Claims, Scopes
from asgi_jwt.errors import (
    AuthError,
    ConfigurationError,
    InsufficientScope,
    InvalidAlgorithm,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    KeysUnavailable,
    MalformedToken,
    MissingClaim,
    MissingToken,
    RevocationUnavailable,
    ServiceUnavailable,
    TokenExpired,
    TokenNotYetValid,
    TokenRevoked,
    UnknownKey,
    WrongTokenType,
)
from asgi_jwt.identity import JWTAuth, JWTUser, current_claims
from asgi_jwt.issuers import MultiIssuerVerifier
from asgi_jwt.jwks import JWKSError, JWKSet, JWKSResolver
from asgi_jwt.keys import (
    KeyPair,
    KeyResolver,
    PublicKey,
    RotatingKeys,
    SecretKey,
    VerificationKey,
    VersionedKeyResolver,
    jwk_thumbprint,
)
from asgi_jwt.middleware import JWTAuthMiddleware
from asgi_jwt.publish import JWKSEndpoint
from asgi_jwt.responses import error_response
from asgi_jwt.revocation import RevocationStore
from asgi_jwt.verify import TokenVerifier, Verifier

__version__ = "0.1.0"

__all__ = [
    "AllOf",
    "AnyOf",
    "AuthError",
    "ClaimCheck",
    "Claims",
    "ConfigurationError",
    "Grants",
    "HasPermission",
    "HasRole",
    "InsufficientScope",
    "InvalidAlgorithm",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "JWKSEndpoint",
    "JWKSError",
    "JWKSResolver",
    "JWKSet",
    "JWTAuth",
    "JWTAuthMiddleware",
    "JWTUser",
    "KeyPair",
    "KeyResolver",
    "KeysUnavailable",
    "MalformedToken",
    "MissingClaim",
    "MissingToken",
    "MultiIssuerVerifier",
    "PermissionPolicy",
    "PublicKey",
    "Requirement",
    "RevocationStore",
    "RevocationUnavailable",
    "RotatingKeys",
    "Rule",
    "Scopes",
    "SecretKey",
    "ServiceUnavailable",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenRevoked",
    "TokenVerifier",
    "UnknownKey",
    "VerificationKey",
    "Verifier",
    "VersionedKeyResolver",
    "WrongTokenType",
    "auth_exception_handlers",
    "authorize",
    "current_claims",
    "error_response",
    "jwk_thumbprint",
]
