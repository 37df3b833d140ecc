"""What the middleware puts in the scope: ``scope["auth"]`` and ``scope["user"]``.

They follow Starlette's conventions (``AuthCredentials`` and ``BaseUser``), so
``request.user``, ``request.auth.scopes`` and Starlette's own ``@requires`` work
unchanged. A context variable carries the claims to code that has no request, when the
middleware is asked to set it.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser

from asgi_jwt._checks import is_int
from asgi_jwt.claims import Claims, scopes_of
from asgi_jwt.errors import InvalidClaim, MissingClaim

__all__ = ["JWTAuth", "JWTUser", "current_claims"]

current_claims_var: ContextVar[Mapping[str, Any] | None] = ContextVar("asgi_jwt_claims", default=None)
"""The context variable behind :func:`current_claims`, set by the middleware around the app."""
_publishing = False  # a JWTAuthMiddleware sets the variable: see current_claims()
_warned = False
logger = logging.getLogger("asgi_jwt")
_set = object.__setattr__  # the constructors' way past the read-only __setattr__
_READ_ONLY = "is read-only: the middleware shares it between requests (and users)"


def _read_only_claims(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    """Our own ``Claims`` as they are (already read-only); any other mapping behind a read-only view."""
    return claims if type(claims) is Claims or type(claims) is MappingProxyType else MappingProxyType(claims)


class _ReadOnly:
    """Refuse attribute assignment: the middleware hands the same object to many requests and users."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} {_READ_ONLY}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} {_READ_ONLY}")


class JWTAuth(_ReadOnly, AuthCredentials):
    """``scope["auth"]``: the verified claims, the granted scopes and the raw token.

    ``scopes`` is a container (``"orders:read" in auth.scopes``), which is all that
    Starlette's ``@requires`` needs; given as ``None``, it is the claims' ``scope`` or
    ``scp`` (:func:`~asgi_jwt.claims.scopes_of`), parsed when first read, so a request
    whose app never asks costs no parsing. On anonymous requests ``claims`` is empty,
    ``scopes`` is empty and ``token`` is ``None``. Read-only, claims and scopes
    included: one object serves the requests with the same token (from its second sight on), and the anonymous
    one every anonymous request, so a write would leak into other users' requests.
    """

    claims: Mapping[str, Any]
    scopes: Container[str]  # type: ignore[assignment]  # AuthCredentials says list[str]
    token: str | None

    def __init__(
        self, claims: Mapping[str, Any], scopes: Container[str] | None, token: str | None
    ) -> None:  # AuthCredentials.__init__ would copy scopes into a list; we keep the container
        _set(self, "claims", claims if type(claims) is Claims else _read_only_claims(claims))
        if scopes is not None:  # None: left out of the instance, so the first read goes to __getattr__
            if type(scopes) is set or type(scopes) is list:
                scopes = frozenset(scopes) if type(scopes) is set else tuple(scopes)
            _set(self, "scopes", scopes)
        _set(self, "token", token)

    def __getattr__(self, name: str) -> Any:
        """Only for what the instance lacks: ``scopes`` left to the claims, parsed on first read and then kept
        as a plain attribute (later reads cost nothing extra)."""
        if name != "scopes":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        scopes = scopes_of(self.claims)
        _set(self, "scopes", scopes)
        return scopes

    @property
    def method(self) -> str | None:
        """How the request authenticated: ``"bearer"`` (a JWT), ``"api_key"`` (:class:`~asgi_jwt.ApiKeys`), or
        ``None`` for an anonymous one."""
        return None if self.token is None else "bearer"

    def __repr__(self) -> str:
        return f"JWTAuth(claims={dict(self.claims)!r}, scopes={self.scopes!r})"  # never the token


ANONYMOUS = JWTAuth(MappingProxyType({}), frozenset(), None)  # shared by every request: read-only
"""The ``scope["auth"]`` of requests that carry no token (excluded paths, optional mode)."""


class AnonymousUser(_ReadOnly, UnauthenticatedUser):
    """``scope["user"]`` of every anonymous request: one shared, read-only object."""


UNAUTHENTICATED_USER = AnonymousUser()


class JWTUser(_ReadOnly, BaseUser):
    """``scope["user"]`` for an authenticated request (read-only, like :class:`JWTAuth`).

    ``identity`` is the value of the middleware's ``identity_claim`` (``sub`` by
    default; some systems use ``user_id``), as a string. A verified token without
    it (or with an object or list there) identifies nobody, so it is refused with a
    401 rather than let through as a user with an empty identity.
    """

    __slots__ = ("_identity", "claims")
    _identity: str
    claims: Mapping[str, Any]

    def __init__(self, claims: Mapping[str, Any], identity_claim: str = "sub") -> None:
        value = claims.get(identity_claim)
        if value is None:
            raise MissingClaim(identity_claim)
        if not (isinstance(value, str) or is_int(value)) or value == "":
            raise InvalidClaim(identity_claim)
        _set(self, "claims", claims if type(claims) is Claims else _read_only_claims(claims))
        _set(self, "_identity", value if type(value) is str else str(value))

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def display_name(self) -> str:
        name = self.claims.get("name") or self.claims.get("preferred_username")
        return name if isinstance(name, str) else self._identity

    def __repr__(self) -> str:
        return f"JWTUser(identity={self._identity!r})"


def current_claims() -> Mapping[str, Any] | None:
    """The verified claims of the request being served, or ``None`` outside an authenticated one.

    Needs ``JWTAuthMiddleware(..., current_claims=True)``: setting a context variable
    around every request costs a few percent of a small request, so only apps that
    read the claims this way pay for it. Without any such middleware this is always
    ``None``, and the first call says so in a warning log line.
    """
    global _warned
    if not _publishing and not _warned:
        _warned = True
        logger.warning("current_claims() is always None: no JWTAuthMiddleware was created with current_claims=True")
    return current_claims_var.get()


def publish_current_claims() -> None:
    """Called by a middleware created with ``current_claims=True``."""
    global _publishing
    _publishing = True
