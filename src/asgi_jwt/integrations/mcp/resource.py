"""The MCP server as an OAuth 2.1 resource server: its canonical URI, its metadata, its audience.

RFC 9728 protected resource metadata tells a client which authorization server to
ask for a token and which scopes exist; RFC 8707 binds each token to one resource,
so a token minted for another server is refused here even when the same
authorization server signed it. The MCP authorization specification (2026-07-28)
defines the canonical URI: scheme and host in lower case, no fragment, no trailing
slash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from asgi_jwt.errors import ConfigurationError, InvalidAudience
from asgi_jwt.responses import SCOPE_TOKEN
from asgi_jwt.verify import Verifier

__all__ = ["WELL_KNOWN", "AudienceBound", "ResourceMetadata", "canonical_resource_uri"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_resource_uri(uri: str) -> str:
    """The canonical form of a resource URI: ``HTTPS://MCP.Example.com:443/mcp/`` is ``https://mcp.example.com/mcp``.

    Raises ``ValueError`` for anything that is not an absolute http(s) URI without
    user information or fragment.
    """
    if not isinstance(uri, str):
        raise ValueError("a resource URI is a string")
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.fragment or "@" in parts.netloc:
        raise ValueError("a resource URI is an absolute http(s) URI without user information or fragment")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    try:
        port = parts.port
    except ValueError:
        raise ValueError("a resource URI has a port from 0 to 65535") from None
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def _checked_uri(uri: Any, what: str) -> str:
    try:
        canonical = canonical_resource_uri(uri)
    except ValueError as exc:
        raise ConfigurationError(f"{what} must be an absolute http(s) URI: {uri!r}") from exc
    if not SCOPE_TOKEN.fullmatch(canonical):  # it is written inside quoted challenge parameters
        raise ConfigurationError(f"{what} must not contain spaces, quotes or backslashes: {uri!r}")
    return canonical


class ResourceMetadata:
    """The RFC 9728 document, its two paths and the URL the challenges name, all built once.

    The document is served at ``/.well-known/oauth-protected-resource`` and at the
    path-suffixed form (``/.well-known/oauth-protected-resource/mcp`` for a server at
    ``/mcp``), which is the one ``resource_metadata`` points to (RFC 9728 §3.1).
    """

    def __init__(
        self,
        resource: str,
        *,
        authorization_servers: Iterable[str],
        scopes_supported: Iterable[str],
        jwks_uri: str | None = None,
        resource_name: str | None = None,
    ) -> None:
        self.resource = _checked_uri(resource, "resource")
        if isinstance(authorization_servers, str):
            authorization_servers = [authorization_servers]
        servers = [_checked_uri(server, "each authorization server") for server in authorization_servers]
        if not servers:
            raise ConfigurationError("authorization_servers must name at least one authorization server (its issuer)")
        document: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": servers,
            "scopes_supported": sorted(set(scopes_supported)),
            "bearer_methods_supported": ["header"],
        }
        if jwks_uri is not None:
            document["jwks_uri"] = _checked_uri(jwks_uri, "jwks_uri")
        if resource_name is not None:
            if not isinstance(resource_name, str) or not resource_name.strip():
                raise ConfigurationError("resource_name must be a non-empty string")
            document["resource_name"] = resource_name
        self.document: Mapping[str, Any] = document
        self.body = json.dumps(document, separators=(",", ":")).encode()
        parts = urlsplit(self.resource)
        self.paths = frozenset({WELL_KNOWN, WELL_KNOWN + parts.path})
        self.url = f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{parts.path}"
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"public, max-age=3600"),
            (b"access-control-allow-origin", b"*"),  # browser-based clients discover it too
        ]


class AudienceBound:
    """A verifier that also demands this server's canonical URI among the token's audiences (RFC 8707).

    The wrapped verifier already checked the token; this adds the one rule an MCP
    server must not leave to configuration: a token for another resource is a 401
    ``invalid_token``, even when the verifier accepts several audiences.
    """

    def __init__(self, verifier: Verifier, resource: str) -> None:
        self.verifier = verifier
        self.resource = resource
        # Lifespan hooks (a JWKS warm-up) stay reachable through the wrapper.
        for hook in ("startup", "shutdown"):
            method = getattr(verifier, hook, None)
            if callable(method):
                setattr(self, hook, method)

    async def verify(self, token: str) -> Mapping[str, Any]:
        claims = await self.verifier.verify(token)
        audience = claims.get("aud")
        given = (audience,) if isinstance(audience, str) else audience if isinstance(audience, list) else ()
        if self.resource in given:  # the usual case: the authorization server wrote the canonical URI
            return claims
        for value in given:
            try:
                if isinstance(value, str) and canonical_resource_uri(value) == self.resource:
                    return claims
            except ValueError:
                continue
        raise InvalidAudience("Token was not issued for this MCP server")

    def __repr__(self) -> str:
        return f"AudienceBound({self.verifier!r}, resource={self.resource!r})"
