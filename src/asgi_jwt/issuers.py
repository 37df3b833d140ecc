"""Several issuers behind one verifier: multi-tenant APIs, or a migration between identity providers.

Each issuer keeps its own :class:`~asgi_jwt.TokenVerifier` (its own keys, audience
and rules). A token is routed on its ``iss`` claim, read from the payload *before*
the signature is checked, so that value is only a hint: the chosen verifier checks
the signature with that issuer's keys only, and the verified ``iss`` must equal the
routing value. A token signed by issuer A but claiming issuer B is therefore
checked against B's keys and fails; an ``iss`` nobody configured fails at once,
without a key lookup or any network request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from asgi_jwt._checks import is_int
from asgi_jwt._jose import b64decode, check_size, json_object, split_compact
from asgi_jwt.errors import ConfigurationError, InvalidClaim, InvalidIssuer, MissingClaim
from asgi_jwt.verify import DEFAULT_MAX_TOKEN_SIZE, TokenVerifier, Verifier, cache_lookup

__all__ = ["MultiIssuerVerifier"]


class MultiIssuerVerifier:
    """Routes each token to the verifier of its issuer.

    Args:
        verifiers: ``TokenVerifier`` objects, each configured with its ``issuer``
            (one verifier may accept several), or a mapping from issuer to any
            verifier.
        max_token_size: longest token accepted, in characters, checked before the
            payload is decoded for routing (default 8192).

    Example::

        a, b = "https://a.example.com/", "https://b.example.com/"
        verifier = MultiIssuerVerifier([
            TokenVerifier(JWKSResolver(issuer=a), issuer=a, audience="orders-api"),
            TokenVerifier(JWKSResolver(issuer=b), issuer=b, audience="orders-api"),
        ])
    """

    def __init__(
        self,
        verifiers: Mapping[str, Verifier] | Iterable[TokenVerifier],
        *,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
    ) -> None:
        if not is_int(max_token_size) or max_token_size < 64:
            raise ConfigurationError("max_token_size must be an integer of at least 64")
        routes: dict[str, Verifier] = {}
        if isinstance(verifiers, Mapping):
            for issuer, verifier in verifiers.items():
                _check_route(issuer, verifier)
                routes[issuer] = verifier
        else:
            for verifier in verifiers:
                if not isinstance(verifier, TokenVerifier):
                    raise ConfigurationError("pass TokenVerifier objects, or a mapping from issuer to verifier")
                issuers = verifier.rules.issuers
                if not issuers:
                    raise ConfigurationError(f"{verifier!r} has no issuer to route tokens to it by")
                for issuer in sorted(issuers):
                    if issuer in routes:
                        raise ConfigurationError(f"the issuer {issuer!r} is configured on two verifiers")
                    routes[issuer] = verifier
        if not routes:
            raise ConfigurationError("MultiIssuerVerifier needs at least one issuer")
        self._routes = routes
        self.max_token_size = max_token_size
        # Repeated tokens are answered from the issuers' own verified-token caches, without an await.
        self._lookups = tuple(
            (verifier, lookup) for verifier in self._unique() if (lookup := cache_lookup(verifier)) is not None
        )

    @property
    def issuers(self) -> frozenset[str]:
        """The issuers whose tokens are accepted."""
        return frozenset(self._routes)

    def verifier_for(self, issuer: str) -> Verifier | None:
        """The verifier that handles ``issuer``'s tokens, if any."""
        return self._routes.get(issuer)

    def cached(self, token: str) -> Mapping[str, Any] | None:
        """The claims of a token one of the issuers' verifiers has verified before, else ``None``.

        Synchronous, like :meth:`TokenVerifier.cached`, so the middleware serves a hit
        without an ``await``; a hit is returned only when its ``iss`` routes to the
        verifier that verified it, as :meth:`verify` would require.
        """
        for verifier, lookup in self._lookups:
            claims = lookup(token)
            if claims is not None and self._routes.get(claims.get("iss", "")) is verifier:
                return claims
        return None

    async def verify(self, token: str) -> Mapping[str, Any]:
        """Verify ``token`` with its issuer's verifier, or raise an :class:`~asgi_jwt.AuthError`."""
        issuer = self._unverified_issuer(token)
        verifier = self._routes.get(issuer)
        if verifier is None:
            raise InvalidIssuer()
        claims = await verifier.verify(token)
        if claims.get("iss") != issuer:  # a custom verifier may not check iss: never trust the routing hint
            raise InvalidIssuer()
        return claims

    def _unverified_issuer(self, token: str) -> str:
        check_size(token, self.max_token_size)
        issuer = json_object(b64decode(split_compact(token)[1])).get("iss")
        if issuer is None:
            raise MissingClaim("iss")
        if not isinstance(issuer, str):
            raise InvalidClaim("iss")
        return issuer

    async def startup(self) -> None:
        """Warm every issuer's keys up at once; :class:`~asgi_jwt.JWTAuthMiddleware` calls this."""
        await asyncio.gather(*(_call(verifier, "startup") for verifier in self._unique()))

    async def shutdown(self) -> None:
        """Stop every issuer's background work."""
        await asyncio.gather(*(_call(verifier, "shutdown") for verifier in self._unique()))

    def _unique(self) -> list[Verifier]:
        return list({id(verifier): verifier for verifier in self._routes.values()}.values())

    def __repr__(self) -> str:
        return f"MultiIssuerVerifier(issuers={sorted(self._routes)!r})"


def _check_route(issuer: Any, verifier: Any) -> None:
    if not isinstance(issuer, str) or not issuer:
        raise ConfigurationError("issuers must be non-empty strings")
    if not callable(getattr(verifier, "verify", None)):
        raise ConfigurationError(f"the verifier for {issuer!r} has no verify(token) method")
    if isinstance(verifier, TokenVerifier) and verifier.rules.issuers and issuer not in verifier.rules.issuers:
        raise ConfigurationError(f"the verifier for {issuer!r} is configured for other issuers")


async def _call(verifier: Verifier, hook: str) -> None:
    method = getattr(verifier, hook, None)
    if method is not None:
        await method()
