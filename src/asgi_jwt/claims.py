"""Claims: the read-only mapping a verified token becomes, and the checks on it.

The checks follow RFC 7519 §4.1 and RFC 9068: each registered claim has one JSON
type, and a value of another type is rejected, never coerced (``"exp": "1700000000"``,
``null``, ``[1]``, ``NaN`` or ``1e400`` all fail). ``ClaimRules`` is built once per
verifier, so the request path only compares numbers and strings.

Tokens of the wrong kind are refused even when their signature is good: a refresh
token (``type``/``token_type: refresh``; Keycloak's ``typ: Refresh`` or
``Offline``), an ID token (Keycloak's ``typ: ID``, Cognito's ``token_use: id``) or
a logout token is not an access token, though the same issuer signs it with the
same key. Claims holding a lone surrogate (``"\\ud800"``) are malformed text and
refused too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from asgi_jwt._checks import is_number
from asgi_jwt._text import has_lone_surrogate
from asgi_jwt.errors import (
    ConfigurationError,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
    WrongTokenType,
)

__all__ = ["TOKEN_KINDS", "Claims", "ClaimRules", "Scopes"]

_STRINGS = ("iss", "sub", "jti")
# Payload claims that name a token's kind, and (lower-cased) the values that are not an access token.
_NOT_ACCESS: dict[str, dict[str, str]] = {
    "type": {"refresh": "refresh"},
    "token_type": {"refresh": "refresh"},
    "typ": {  # Keycloak: "Bearer" for access tokens (org.keycloak.util.TokenUtil)
        "refresh": "refresh",
        "offline": "refresh",  # an offline token is a long-lived refresh token
        "id": "id",
        "serialized-id": "id",
        "logout": "logout",
    },
    "token_use": {"id": "id"},  # Amazon Cognito: "access" for access tokens
}
_KIND_CLAIMS = frozenset(_NOT_ACCESS)
_KIND_NAMES = {"refresh": "Refresh tokens", "id": "ID tokens", "logout": "Logout tokens"}
_ABSENT: Any = object()
_NO_MEMO = (None, None, None)
_INT64 = 2**63  # NumericDates are refused beyond a signed 64-bit integer, as other verifiers read them
TOKEN_KINDS = frozenset(_KIND_NAMES)
"""The token kinds refused by default, which :meth:`ClaimRules.accept_token_kinds` can admit."""


class Claims(Mapping[str, Any]):
    """The verified claims of a token: a read-only mapping with a few typed helpers."""

    __slots__ = ("_data", "_memo", "_scopes")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self._scopes: Scopes | None = None
        # The middleware's scope["auth"] and scope["user"] for these claims: built once, reused by
        # every request that brings the same (cached) token.
        self._memo: Any = _NO_MEMO

    @classmethod
    def adopt(cls, data: dict[str, Any]) -> Claims:
        """Claims over ``data`` itself rather than a copy: for a dict no one else holds (a payload just decoded)."""
        claims = cls.__new__(cls)
        claims._data = data
        claims._scopes = None
        claims._memo = _NO_MEMO
        return claims

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def get(self, name: str, default: Any = None) -> Any:
        # Mapping.get goes through __getitem__ and a KeyError for a missing claim: slow on the request path
        return self._data.get(name, default)

    def __repr__(self) -> str:
        return f"Claims({self._data!r})"

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim, if any."""
        return self._data.get("sub")

    @property
    def issuer(self) -> str | None:
        """The ``iss`` claim, if any."""
        return self._data.get("iss")

    @property
    def expires_at(self) -> float | None:
        """The ``exp`` claim (seconds since the epoch), if any."""
        return self._data.get("exp")

    @property
    def scopes(self) -> Scopes:
        """Space-delimited ``scope`` (RFC 9068) or ``scp`` (string or list) values, in issue order."""
        scopes = self._scopes
        if scopes is None:  # parsed once: a cached token's Claims serve many requests
            scopes = self._scopes = _parse_scopes(self._data)
        return scopes


class Scopes(frozenset[str]):
    """A token's scopes: a ``frozenset`` for ``in``, ``==`` and set operations that iterates in issue order.

    ``list(auth.scopes)`` is ``["openid", "orders:read"]`` when the token says
    ``"scope": "openid orders:read"``, so what an app shows or forwards reads as
    issued; a repeated name appears once, at its first place.
    """

    __slots__ = ("_order",)
    _order: tuple[str, ...]

    def __new__(cls, names: Iterable[str] = ()) -> Scopes:
        order = tuple(dict.fromkeys(names))
        scopes = super().__new__(cls, order)
        scopes._order = order
        return scopes

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __repr__(self) -> str:
        return f"Scopes({list(self._order)!r})"


def scopes_of(claims: Mapping[str, Any]) -> Scopes:
    """The scopes a token grants, in issue order: ``scope`` (space-delimited) or ``scp`` (string or list)."""
    if isinstance(claims, Claims):
        return claims.scopes
    return _parse_scopes(claims)


def _parse_scopes(claims: Mapping[str, Any]) -> Scopes:
    return Scopes(claim_strings(claims["scope"] if "scope" in claims else claims.get("scp")))


def claim_strings(value: Any) -> tuple[str, ...]:
    """The names a claim value carries: a space-delimited string or a list of strings.

    Anything else (a number, an object, ``null``) carries nothing: failing closed is
    the safe reading of a claim we do not understand.
    """
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def _as_set(value: str | Iterable[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = frozenset((value,) if isinstance(value, str) else value)
    if not values or not all(isinstance(item, str) and item for item in values):
        raise ConfigurationError(f"{what} must be a non-empty string or a list of non-empty strings")
    return values


class ClaimRules:
    """The claim checks of one verifier, fixed at construction.

    ``issuer`` and ``audience`` accept one value or several; when set, the claim is
    required and must match exactly (RFC 7519 §4.1.1/§4.1.3). A token that names an
    audience while the verifier has none configured is rejected, as RFC 7519
    §4.1.3 requires. ``leeway`` (seconds) absorbs clock skew for ``exp``, ``nbf``
    and ``iat``. Refresh, ID and logout tokens are refused until
    :meth:`accept_token_kinds` admits their kind.
    """

    def __init__(
        self,
        *,
        issuer: str | Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = 30,
        require: Iterable[str] = ("exp",),
        clock: Callable[[], float],
    ) -> None:
        if not is_number(leeway) or not 0 <= leeway <= 3600:
            raise ConfigurationError("leeway must be a number of seconds between 0 and 3600")
        self.issuers = _as_set(issuer, "issuer")
        self.audiences = _as_set(audience, "audience")
        self.leeway = float(leeway)
        required = set(require)
        if self.issuers is not None:
            required.add("iss")
        if self.audiences is not None:
            required.add("aud")
        self.required = tuple(sorted(required))
        self.clock = clock
        self._not_access = {claim: dict(kinds) for claim, kinds in _NOT_ACCESS.items()}
        self._inline_times = type(self).check_times is ClaimRules.check_times  # else a subclass's own runs

    def accept_token_kinds(self, *kinds: str) -> None:
        """Admit tokens of these kinds (``"id"``, ``"refresh"``, ``"logout"``) as access tokens.

        For a deployment that truly sends, say, Cognito ID tokens to its API; call it
        once at start-up on ``verifier.rules``. Each kind admitted is a kind of token
        that can then be replayed against the API, so admit only what is used.
        """
        unknown = sorted(set(kinds) - TOKEN_KINDS)
        if unknown or not kinds:
            given = ", ".join(repr(kind) for kind in unknown) or "none"
            raise ConfigurationError(f"token kinds are 'id', 'logout' and 'refresh', not {given}")
        for values in self._not_access.values():
            for value in [value for value, kind in values.items() if kind in kinds]:
                del values[value]

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise the first failing check's error; return quietly when all pass."""
        self._check(claims, True)

    def _check(self, claims: Mapping[str, Any], escaped: bool) -> None:
        """:meth:`check`, told whether the JSON text the claims were decoded from held a backslash.

        Only a ``\\u`` escape can put a lone surrogate into decoded JSON (the UTF-8
        decoder refuses encoded ones), so without a backslash the walk over every value
        is skipped: the verifier's path, for nearly every token.
        """
        if escaped and has_lone_surrogate(claims):
            raise MalformedToken()
        for name in self.required:
            if name not in claims:
                raise MissingClaim(name)
        for name in _STRINGS:
            if name in claims and not isinstance(claims[name], str):
                raise InvalidClaim(name)
        exp, iat = claims.get("exp"), claims.get("iat")
        if (
            self._inline_times
            and type(exp) is int
            and type(iat) is int
            and -_INT64 < exp < _INT64
            and -_INT64 < iat < _INT64
            and "nbf" not in claims
        ):
            # What nearly every token has, decided as check_times decides it (an int is its own floor), inline.
            now = self.clock()
            if now - self.leeway >= exp:
                raise TokenExpired()
            if now + self.leeway < iat:
                raise TokenNotYetValid("Token was issued in the future")
        else:
            self.check_times(claims)
        if self.issuers is not None and claims["iss"] not in self.issuers:
            raise InvalidIssuer()
        if "aud" in claims:
            aud = claims["aud"]
            if type(aud) is not str or self.audiences is None or aud not in self.audiences:  # else: one we accept
                self._check_audience(aud)
        if _KIND_CLAIMS.isdisjoint(claims):  # no claim that names a token's kind: most access tokens
            return
        for claim, kinds in self._not_access.items():
            value = claims.get(claim)
            if isinstance(value, str) and (kind := kinds.get(value.lower())) is not None:
                raise WrongTokenType(f"{_KIND_NAMES[kind]} cannot be used for access")

    def check_times(self, claims: Mapping[str, Any]) -> None:
        """``exp``, ``nbf`` and ``iat`` against the clock: cheap, so cache hits repeat it."""
        now = self.clock()
        exp = _numeric_date(claims, "exp")
        # A fractional exp counts from its whole second, as PyJWT does: never valid longer than it would be.
        if exp is not None and now - self.leeway >= math.floor(exp):
            raise TokenExpired()
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and now + self.leeway < nbf:
            raise TokenNotYetValid()
        iat = _numeric_date(claims, "iat")
        if iat is not None and now + self.leeway < iat:
            raise TokenNotYetValid("Token was issued in the future")

    def _check_audience(self, aud: Any) -> None:
        if isinstance(aud, str):
            given: tuple[Any, ...] = (aud,)
        elif isinstance(aud, list) and aud:
            given = tuple(aud)
        else:
            raise InvalidClaim("aud")
        if not all(isinstance(item, str) for item in given):
            raise InvalidClaim("aud")
        if self.audiences is None or self.audiences.isdisjoint(given):
            raise InvalidAudience()


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate (RFC 7519 §2): a finite JSON number, not a bool, string or null."""
    value = claims.get(name, _ABSENT)
    if type(value) is int and -_INT64 < value < _INT64:  # what JSON decodes a date to, checked first
        return value
    if value is _ABSENT:
        return None
    if not is_number(value):
        raise InvalidClaim(name)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidClaim(name)
    if isinstance(value, int) and not -_INT64 < value < _INT64:
        raise InvalidClaim(name)
    return value
