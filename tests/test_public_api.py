"""The public API is what ``asgi_jwt.__all__`` lists: sorted, importable, and deliberate."""

from __future__ import annotations

import subprocess
import sys

import asgi_jwt

EXPECTED = {
    "AllOf",
    "AnyOf",
    "ApiKey",
    "ApiKeyExpired",
    "ApiKeys",
    "AuthError",
    "BearerAuth",
    "ClaimCheck",
    "Claims",
    "ConfigurationError",
    "CrossSiteRequest",
    "CSRFProtection",
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
    "RevocationEndpoint",
    "RevocationStore",
    "RevocationUnavailable",
    "Requirement",
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
}


def test_all_is_sorted_and_complete() -> None:
    assert asgi_jwt.__all__ == sorted(asgi_jwt.__all__)
    assert set(asgi_jwt.__all__) == EXPECTED


def test_every_exported_name_exists_and_belongs_to_us() -> None:
    for name in asgi_jwt.__all__:
        member = getattr(asgi_jwt, name)
        assert getattr(member, "__module__", "").startswith("asgi_jwt"), name


def test_importing_the_core_imports_no_optional_dependency() -> None:
    code = (
        "import sys, asgi_jwt; "
        "bad = [m for m in ('fastapi', 'django', 'redis', 'mcp', 'uvicorn') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == ""
