"""Issuing tokens: access tokens, refresh-token pairs with rotation and reuse detection, and logout.

The login itself stays the app's own code (it checks a password, a passkey, an
upstream identity provider); once it knows who the user is, :class:`TokenIssuer`
mints what the user gets. Access tokens carry the RFC 9068 header ``typ: at+jwt``,
so a :class:`~asgi_jwt.TokenVerifier` (``require_at_jwt=True`` or not) accepts them.
Refresh tokens carry ``typ: rt+jwt`` and a ``type: refresh`` claim, so no verifier
takes one for an access token (RFC 8725 §3.11: explicit typing). Each login starts
a family (:data:`~asgi_jwt.revocation.FAMILY_CLAIM`) that every token refreshed
from it shares, access tokens included.

Refresh rotates (RFC 9700 §4.14.2): a refresh token works once. Presenting a spent
one again means two parties hold it, and nobody can tell which is the thief, so the
whole family is revoked and both must log in again. Spending is the store's atomic
:meth:`~asgi_jwt.RevocationStore.spend`, never a check-then-set.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt

from asgi_jwt.claims import ClaimRules
from asgi_jwt.errors import AuthError, ConfigurationError, InvalidGrant, RevocationUnavailable
from asgi_jwt.keys import KeyPair, PublicKey, RotatingKeys, SecretKey
from asgi_jwt.revocation import FAMILY_CLAIM, RevocationStore
from asgi_jwt.verify import DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_SIZE

if TYPE_CHECKING:
    from jwt.types import Options

__all__ = ["ACCESS_TOKEN_TYPE", "REFRESH_TOKEN_TYPE", "TokenIssuer", "TokenResponse"]

logger = logging.getLogger("asgi_jwt")

ACCESS_TOKEN_TYPE = "at+jwt"
"""The ``typ`` header of access tokens (RFC 9068 §2.1)."""
REFRESH_TOKEN_TYPE = "rt+jwt"
"""The ``typ`` header of refresh tokens: not an access token's, so no verifier mistakes one for the other."""
_REFRESH_MARKER = ("type", "refresh")  # the claim TokenVerifier already refuses for access
_GRANT_CLAIM = "grant"  # in a refresh token: what to put in the access tokens refreshed from it
_REGISTERED = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", FAMILY_CLAIM, "type", "token_type"})
_KEYWORD_CLAIMS = frozenset({"scope", "roles", "permissions"})
_JTI_BYTES = 16  # 128 random bits (RFC 7519 §4.1.7: collisions must be negligible)


class TokenResponse(dict[str, Any]):
    """An OAuth 2 token response (RFC 6749 §5.1): a ``dict``, so it serialises as JSON as it is.

    Keys: ``access_token``, ``token_type`` (``"Bearer"``), ``expires_in`` (seconds),
    ``refresh_token`` and ``scope`` when there are any.
    """

    @property
    def access_token(self) -> str:
        return str(self["access_token"])

    @property
    def token_type(self) -> str:
        return str(self["token_type"])

    @property
    def expires_in(self) -> int:
        return int(self["expires_in"])

    @property
    def refresh_token(self) -> str | None:
        return self.get("refresh_token")

    @property
    def scope(self) -> str | None:
        return self.get("scope")


class TokenIssuer:
    """Mints access tokens and refresh-token pairs, rotates refresh tokens, and takes tokens back.

    Args:
        keys: a :class:`~asgi_jwt.SecretKey`, :class:`~asgi_jwt.KeyPair` or
            :class:`~asgi_jwt.RotatingKeys` (signs with the current key and writes its
            ``kid``). Give the services that verify the matching ``TokenVerifier``.
        issuer: the ``iss`` of every token (and required of refresh tokens).
        audience: the default ``aud`` of access tokens (one value or several).
        access_ttl: access-token lifetime, seconds or a ``timedelta`` (15 minutes).
        refresh_ttl: refresh-token lifetime (14 days); each refresh starts it again.
        revocation: the :class:`~asgi_jwt.RevocationStore` that spends refresh tokens
            and records logouts; :meth:`refresh` and :meth:`revoke` need one, and the
            verifiers of the access tokens should share it.
        leeway: seconds of clock skew tolerated when checking refresh tokens.
        clock: returns the current time in seconds; injectable for tests.
    """

    def __init__(
        self,
        keys: SecretKey | KeyPair | RotatingKeys,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        access_ttl: float | timedelta = 900,
        refresh_ttl: float | timedelta = timedelta(days=14),
        revocation: RevocationStore | None = None,
        leeway: float = DEFAULT_LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(keys, PublicKey) or (isinstance(keys, RotatingKeys) and isinstance(keys.current, PublicKey)):
            raise ConfigurationError("a PublicKey can only verify: TokenIssuer needs a private key or a secret to sign")
        if not isinstance(keys, SecretKey | KeyPair | RotatingKeys):
            raise ConfigurationError("keys must be a SecretKey, KeyPair or RotatingKeys")
        if issuer is not None and (not isinstance(issuer, str) or not issuer):
            raise ConfigurationError("issuer must be a non-empty string")
        if revocation is not None and not all(
            callable(getattr(revocation, name, None)) for name in ("load", "check", "spend", "revoke", "revoke_family")
        ):
            raise ConfigurationError("revocation must be a RevocationStore, e.g. MemoryRevocationStore()")
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning seconds")
        self.keys = keys
        self.issuer = issuer
        self.audience = _audience(audience)
        self.access_ttl = _seconds(access_ttl, "access_ttl")
        self.refresh_ttl = _seconds(refresh_ttl, "refresh_ttl")
        self.revocation = revocation
        self.clock = clock
        # Refresh tokens are checked like access tokens are (times with the same leeway, iss), minus the type rule.
        self._rules = ClaimRules(leeway=leeway, require=("exp", "iat", "jti", "sub"), clock=clock)

    def issue(
        self,
        subject: str,
        *,
        scope: str | Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        ttl: float | timedelta | None = None,
        audience: str | Iterable[str] | None = None,
    ) -> str:
        """A signed access token for ``subject``, valid ``ttl`` seconds (``access_ttl`` by default).

        ``scope`` becomes the space-delimited ``scope`` claim, ``roles`` and
        ``permissions`` lists of strings, ``claims`` anything else of the app's; a
        custom claim may not replace a registered one (``exp``, ``iss``, ``jti``, …).
        """
        grant = self._grant(scope, roles, permissions, claims, ttl, audience)
        return self._access_token(_subject(subject), grant, family=None, now=self.clock())

    def issue_pair(
        self,
        subject: str,
        *,
        scope: str | Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        ttl: float | timedelta | None = None,
        audience: str | Iterable[str] | None = None,
    ) -> TokenResponse:
        """An access token and a refresh token of a new family: what a login answers with."""
        grant = self._grant(scope, roles, permissions, claims, ttl, audience)
        return self._pair(_subject(subject), grant, secrets.token_urlsafe(_JTI_BYTES))

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Spend ``refresh_token`` and answer with a new pair of the same family.

        Raises :class:`~asgi_jwt.InvalidGrant` for a token that is malformed, forged,
        expired, not a refresh token, revoked, or already spent; a spent one revokes
        its whole family (RFC 9700 §4.14.2), so two refreshes racing with one token
        leave exactly one winner, and then both parties logged out. Raises
        :class:`~asgi_jwt.RevocationUnavailable` when the store cannot answer.
        """
        store = self._store("refresh")
        kind, claims = await self._decode(refresh_token)
        family, grant = claims.get(FAMILY_CLAIM), claims.get(_GRANT_CLAIM)
        if kind != REFRESH_TOKEN_TYPE or not isinstance(family, str) or not isinstance(grant, dict):
            raise InvalidGrant()
        try:
            if not store.ready:
                await store.load()
            store.check(claims)
            first = await store.spend(claims["jti"], expires_at=claims["exp"])
            if not first:
                logger.warning("refresh token reused: its family %s is revoked", family)
                await store.revoke_family(family, expires_at=self._family_expiry(grant))
        except AuthError as error:
            if isinstance(error, RevocationUnavailable):
                raise
            raise InvalidGrant() from error  # revoked: the family was logged out or reused before
        except Exception as exc:
            logger.warning("revocation store %s failed: %s", type(store).__name__, type(exc).__name__)
            raise RevocationUnavailable() from exc
        if not first:
            raise InvalidGrant()
        return self._pair(claims["sub"], grant, family)

    async def revoke(self, token: str) -> bool:
        """Take back one of this issuer's tokens (RFC 7009): logout.

        A refresh token revokes its whole family, access tokens included; an access
        token revokes itself and, when it came from a pair, its family. Returns
        whether anything was revoked: ``False`` for a token that is not one of ours,
        malformed, or expired already (RFC 7009 §2.2 answers those with success too).
        """
        store = self._store("revoke")
        try:
            kind, claims = await self._decode(token)
        except InvalidGrant:
            return False
        family, grant = claims.get(FAMILY_CLAIM), claims.get(_GRANT_CLAIM)
        try:
            if isinstance(family, str):
                expiry = self._family_expiry(grant) if isinstance(grant, dict) else self.clock() + self.refresh_ttl
                await store.revoke_family(family, expires_at=max(expiry, claims["exp"]))
            if kind == ACCESS_TOKEN_TYPE:
                await store.revoke(claims["jti"], expires_at=claims["exp"])
        except AuthError:
            raise
        except Exception as exc:
            logger.warning("revocation store %s failed: %s", type(store).__name__, type(exc).__name__)
            raise RevocationUnavailable() from exc
        return True

    async def revoke_subject(self, subject: str) -> None:
        """Log ``subject`` out everywhere: every token of theirs issued until now is refused.

        Issue times are whole seconds, so a token issued in the same second as this
        call is refused too.
        """
        now = self.clock()
        expiry = now + max(self.refresh_ttl, self.access_ttl)
        await self._store("revoke_subject").revoke_subject(_subject(subject), before=now, expires_at=expiry)

    def _grant(
        self,
        scope: str | Iterable[str] | None,
        roles: Iterable[str] | None,
        permissions: Iterable[str] | None,
        claims: Mapping[str, Any] | None,
        ttl: float | timedelta | None,
        audience: str | Iterable[str] | None,
    ) -> dict[str, Any]:
        """What every access token of one login carries besides the registered claims; checked once."""
        extra = dict(claims or {})
        if any(not isinstance(name, str) for name in extra):
            raise ConfigurationError("claim names must be strings")
        overriding = sorted((_REGISTERED | _KEYWORD_CLAIMS) & extra.keys())
        if overriding:
            raise ConfigurationError(
                f"claims may not set {overriding[0]!r}: registered claims are the issuer's own "
                "(use scope=, roles=, permissions=, ttl= and audience= for those)"
            )
        if scope is not None:
            extra["scope"] = " ".join(_strings(scope.split() if isinstance(scope, str) else scope, "scope"))
        if roles is not None:
            extra["roles"] = _strings(roles, "roles")
        if permissions is not None:
            extra["permissions"] = _strings(permissions, "permissions")
        lifetime = self.access_ttl if ttl is None else _seconds(ttl, "ttl")
        return {"claims": extra, "ttl": lifetime, "aud": self.audience if audience is None else _audience(audience)}

    def _access_token(self, subject: str, grant: Mapping[str, Any], family: str | None, now: float) -> str:
        issued = math.floor(now)
        claims: dict[str, Any] = dict(grant["claims"])
        claims.update(self._registered(subject, issued, issued + math.ceil(grant["ttl"])))
        if grant["aud"] is not None:
            claims["aud"] = grant["aud"]
        if family is not None:
            claims[FAMILY_CLAIM] = family
        return self.keys.encode(claims, headers={"typ": ACCESS_TOKEN_TYPE})

    def _pair(self, subject: str, grant: Mapping[str, Any], family: str) -> TokenResponse:
        now = self.clock()
        issued = math.floor(now)
        refresh = self._registered(subject, issued, issued + math.ceil(self.refresh_ttl))
        refresh.update({FAMILY_CLAIM: family, _REFRESH_MARKER[0]: _REFRESH_MARKER[1], _GRANT_CLAIM: grant})
        response = TokenResponse(
            access_token=self._access_token(subject, grant, family, now),
            token_type="Bearer",
            expires_in=math.ceil(grant["ttl"]),
            refresh_token=self.keys.encode(refresh, headers={"typ": REFRESH_TOKEN_TYPE}),
        )
        if "scope" in grant["claims"]:
            response["scope"] = grant["claims"]["scope"]
        return response

    def _registered(self, subject: str, issued: int, expires: int) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": subject, "iat": issued, "exp": expires}
        claims["jti"] = secrets.token_urlsafe(_JTI_BYTES)
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return claims

    def _family_expiry(self, grant: Mapping[str, Any]) -> float:
        """When every token of a family issued until now has expired: its revocation may go then."""
        ttl = grant.get("ttl")
        access = ttl if isinstance(ttl, int | float) and not isinstance(ttl, bool) else self.access_ttl
        return self.clock() + max(self.refresh_ttl, access)

    def _store(self, operation: str) -> RevocationStore:
        if self.revocation is None:
            raise ConfigurationError(f"TokenIssuer.{operation}() needs a revocation store: TokenIssuer(revocation=…)")
        return self.revocation

    async def _decode(self, token: Any) -> tuple[str, dict[str, Any]]:
        """The kind (access or refresh) and claims of a token this issuer signed, or :class:`InvalidGrant`."""
        if not isinstance(token, str) or not token or len(token) > DEFAULT_MAX_TOKEN_SIZE or not token.isascii():
            raise InvalidGrant()
        try:
            header = jwt.get_unverified_header(token)
            kind, algorithm = header.get("typ"), header.get("alg")
            if kind not in (ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE) or not isinstance(algorithm, str):
                raise InvalidGrant()
            keys = [key for key in await self.keys.resolve(header) if key.algorithm == algorithm]
        except (jwt.PyJWTError, AuthError) as exc:
            raise InvalidGrant() from exc
        for key in keys:  # the key pins the algorithm (RFC 8725 §3.1); times are checked below with our clock
            try:
                claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=[algorithm], options=_SIGNATURE_ONLY)
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise InvalidGrant() from exc
            break
        else:
            raise InvalidGrant()
        try:
            self._rules.check_times(claims)
            for name in self._rules.required:
                if name not in claims:
                    raise InvalidGrant()
        except AuthError as exc:
            raise InvalidGrant() from exc
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise InvalidGrant()
        refresh = claims.get(_REFRESH_MARKER[0]) == _REFRESH_MARKER[1]
        named = isinstance(claims["jti"], str) and isinstance(claims["sub"], str) and claims["sub"]
        if refresh != (kind == REFRESH_TOKEN_TYPE) or not named:
            raise InvalidGrant()
        return kind, claims

    def __repr__(self) -> str:
        return f"TokenIssuer({self.keys!r}, issuer={self.issuer!r}, audience={self.audience!r})"


_SIGNATURE_ONLY: Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigurationError(f"{name} must be a positive number of seconds or a timedelta")
    return float(value)


def _audience(value: str | Iterable[str] | None) -> str | list[str] | None:
    if value is None or (isinstance(value, str) and value):
        return value
    values = [] if isinstance(value, str) else list(value)
    if not values or not all(isinstance(item, str) and item for item in values):
        raise ConfigurationError("audience must be a non-empty string or a list of non-empty strings")
    return values[0] if len(values) == 1 else values


def _strings(values: Iterable[str], name: str) -> list[str]:
    if isinstance(values, str):
        raise ConfigurationError(f"{name} must be a list of strings, not one string")
    items = list(values)
    if not all(isinstance(item, str) and item and not any(c.isspace() for c in item) for item in items):
        raise ConfigurationError(f"{name} must be non-empty strings without spaces")
    return items


def _subject(subject: Any) -> str:
    if not isinstance(subject, str) or not subject:
        raise ConfigurationError("the subject must be a non-empty string (the user's id)")
    return subject
