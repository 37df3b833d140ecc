"""Our verifier in the shape of the MCP SDK's ``TokenVerifier`` protocol.

For apps that configure authentication through the SDK itself
(``MCPServer(token_verifier=SDKTokenVerifier(...), auth=AuthSettings(...))``): the
SDK's ``get_access_token()`` then returns an ``AccessToken`` built from our
verified claims, and the SDK binds each stateful session to the token's
``(client_id, iss, sub)``. This is the only module that imports the SDK.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

try:
    from mcp.server.auth.provider import AccessToken
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('asgi_jwt.integrations.mcp.sdk needs the MCP SDK: pip install "asgi-jwt[mcp]"') from exc

from asgi_jwt.authz import PermissionPolicy
from asgi_jwt.claims import scopes_of
from asgi_jwt.errors import AuthError, ConfigurationError, ServiceUnavailable
from asgi_jwt.integrations.mcp.resource import AudienceBound, canonical_resource_uri
from asgi_jwt.verify import Verifier

__all__ = ["SDKTokenVerifier"]

logger = logging.getLogger("asgi_jwt")


class SDKTokenVerifier:
    """``async verify_token(token) -> AccessToken | None`` over any asgi-jwt verifier.

    Args:
        verifier: a :class:`~asgi_jwt.TokenVerifier` (or any ``Verifier``).
        resource: this server's URI; the token's ``aud`` must name it (RFC 8707),
            and it becomes ``AccessToken.resource``, so
            ``AuthSettings(validate_token_resource=True)`` agrees.
        policy: a :class:`~asgi_jwt.PermissionPolicy` whose grants become
            ``AccessToken.scopes`` (roles expanded); without it, the token's
            ``scope``/``scp``.

    The SDK's protocol has one answer for every failure (``None``, a 401
    ``invalid_token``), so an outage of the keys cannot be told apart there: it is
    logged here as a warning. :func:`~asgi_jwt.integrations.mcp.protect_mcp` in
    front keeps the full set of answers (401, 403, 503).
    """

    def __init__(self, verifier: Verifier, *, resource: str, policy: PermissionPolicy | None = None) -> None:
        if not callable(getattr(verifier, "verify", None)):
            raise ConfigurationError("verifier must have an async verify(token) method, e.g. a TokenVerifier")
        try:
            self.resource = canonical_resource_uri(resource)
        except ValueError as exc:
            raise ConfigurationError(f"resource must be an absolute http(s) URI: {resource!r}") from exc
        if policy is not None and not isinstance(policy, PermissionPolicy):
            raise ConfigurationError("policy must be a PermissionPolicy")
        self._verifier = AudienceBound(verifier, self.resource)
        self._policy = policy

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await self._verifier.verify(token)
        except ServiceUnavailable as error:
            logger.warning("MCP token refused during an outage: %s", error.reason)
            return None
        except AuthError:
            return None
        return self.access_token(token, claims)

    def access_token(self, token: str, claims: Mapping[str, Any]) -> AccessToken:
        """The SDK's view of verified claims: client, scopes, expiry, resource, subject and every claim."""
        scopes = self._policy.grants(claims) if self._policy is not None else scopes_of(claims)
        client = next((claims[name] for name in ("client_id", "azp", "sub") if isinstance(claims.get(name), str)), "")
        exp = claims.get("exp")
        expires_at = math.floor(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
        subject = claims.get("sub")
        return AccessToken(
            token=token,
            client_id=client,
            scopes=sorted(scopes),
            expires_at=expires_at,
            resource=self.resource,  # AudienceBound admitted it: one of the token's audiences is this server
            subject=subject if isinstance(subject, str) else None,
            claims=dict(claims),
        )

    def __repr__(self) -> str:
        return f"SDKTokenVerifier(resource={self.resource!r})"
