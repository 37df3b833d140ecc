"""JWT bearer authentication for any ASGI application.

Wrap an app with :class:`JWTAuthMiddleware`, give it a :class:`TokenVerifier` over a
key resolver (:class:`SecretKey`, :class:`PublicKey`, :class:`KeyPair`,
:class:`RotatingKeys` or your own), and read the verified claims from
``scope["auth"]`` and ``scope["user"]``.
"""

from asgi_jwt.apikey_records import ApiKey
from asgi_jwt.apikeys import ApiKeys
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
)
from asgi_jwt.claims import Claims, Scopes
from asgi_jwt.client import BearerAuth
from asgi_jwt.csrf import CSRFProtection
from asgi_jwt.endpoints import RefreshEndpoint, RevocationEndpoint
from asgi_jwt.errors import (
    ApiKeyExpired,
    AuthError,
    ConfigurationError,
    CrossSiteRequest,
    InsufficientScope,
    InvalidAlgorithm,
    InvalidApiKey,
    InvalidAudience,
    InvalidClaim,
    InvalidGrant,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    JWKSError,
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
from asgi_jwt.integrations.starlette import auth_exception_handlers, authorize
from asgi_jwt.issuers import MultiIssuerVerifier
from asgi_jwt.issuing import TokenIssuer, TokenResponse
from asgi_jwt.jwk import jwk_thumbprint
from asgi_jwt.jwks import JWKSResolver
from asgi_jwt.jwkset import JWKSet
from asgi_jwt.keys import (
    KeyPair,
    KeyResolver,
    PublicKey,
    RotatingKeys,
    SecretKey,
    VerificationKey,
    VersionedKeyResolver,
)
from asgi_jwt.middleware import JWTAuthMiddleware
from asgi_jwt.publish import JWKSEndpoint
from asgi_jwt.responses import error_response
from asgi_jwt.revocation import MemoryRevocationStore, RevocationStore
from asgi_jwt.verify import TokenVerifier, Verifier

__version__ = "0.1.0"

__all__ = [
    "AllOf",
    "AnyOf",
    "ApiKey",
    "ApiKeyExpired",
    "ApiKeys",
    "AuthError",
    "BearerAuth",
    "CSRFProtection",
    "ClaimCheck",
    "Claims",
    "ConfigurationError",
    "CrossSiteRequest",
    "Grants",
    "HasPermission",
    "HasRole",
    "InsufficientScope",
    "InvalidAlgorithm",
    "InvalidApiKey",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidGrant",
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
    "MemoryRevocationStore",
    "MissingClaim",
    "MissingToken",
    "MultiIssuerVerifier",
    "PermissionPolicy",
    "PublicKey",
    "RefreshEndpoint",
    "Requirement",
    "RevocationEndpoint",
    "RevocationStore",
    "RevocationUnavailable",
    "RotatingKeys",
    "Rule",
    "Scopes",
    "SecretKey",
    "ServiceUnavailable",
    "TokenExpired",
    "TokenIssuer",
    "TokenNotYetValid",
    "TokenResponse",
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
