"""Requirements: what an authenticated request must satisfy, combined with ``&`` and ``|``.

One vocabulary for the middleware's :class:`~asgi_jwt.Rule`, the ``@authorize``
decorator and the FastAPI dependencies. A request that is not authenticated at
all fails with :class:`~asgi_jwt.MissingToken` (401, bare challenge); an
authenticated one that lacks something fails with
:class:`~asgi_jwt.InsufficientScope` (403, ``insufficient_scope``, never 401).
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from starlette.requests import HTTPConnection

from asgi_jwt.authz.grants import Grants, grants_of, permission_names, plain_name
from asgi_jwt.errors import ConfigurationError, InsufficientScope, MissingToken

__all__ = ["AllOf", "AnyOf", "ClaimCheck", "HasPermission", "HasRole", "Predicate", "Requirement", "requirement_from"]

logger = logging.getLogger("asgi_jwt")

Predicate: TypeAlias = Callable[[Mapping[str, Any], HTTPConnection], bool]
"""``(claims, conn) -> bool``: what a :class:`ClaimCheck` asks."""


def connection_state(conn: HTTPConnection) -> tuple[Grants, Mapping[str, Any]]:
    """The grants and claims of an authenticated connection, or the right error."""
    scope = conn.scope
    if "auth" not in scope:
        raise ConfigurationError("no scope['auth'] on this request: wrap the application in JWTAuthMiddleware")
    if not getattr(scope.get("user"), "is_authenticated", False):
        raise MissingToken()  # not authenticated yet: the bare challenge, not a 403
    auth = scope["auth"]
    claims = getattr(auth, "claims", None)
    return grants_of(auth), claims if isinstance(claims, Mapping) else {}


class Requirement(ABC):
    """Something an authenticated request must satisfy. Combine with ``&`` and ``|``."""

    __slots__ = ()

    @property
    def scopes(self) -> tuple[str, ...]:
        """The permissions this requirement names: the challenge's ``scope`` and OpenAPI's scopes."""
        return ()

    @abstractmethod
    def missing(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> str | None:
        """``None`` when satisfied, else what is missing, phrased to follow "Requires"."""

    def enforce(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> None:
        """Raise :class:`~asgi_jwt.InsufficientScope` naming what is missing."""
        missing = self.missing(grants, claims, conn)
        if missing is not None:
            raise InsufficientScope(self.scopes, f"Requires {missing}")

    def check(self, conn: HTTPConnection) -> None:
        """Check a request the middleware has authenticated (or let through anonymously).

        Raises :class:`~asgi_jwt.MissingToken` when it carries no credentials and
        :class:`~asgi_jwt.InsufficientScope` when they are not enough.
        """
        grants, claims = connection_state(conn)
        self.enforce(grants, claims, conn)

    def __and__(self, other: Requirement) -> AllOf:
        return AllOf(self, other)

    def __or__(self, other: Requirement) -> AnyOf:
        return AnyOf(self, other)


class HasPermission(Requirement):
    """All of the named permissions, wildcards applied (``HasPermission("write:posts")``)."""

    __slots__ = ("names",)

    def __init__(self, *names: str) -> None:
        if not names:
            raise ConfigurationError("HasPermission needs at least one permission name")
        self.names = permission_names(names, "permissions")

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.names

    def missing(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> str | None:
        lacking = [name for name in self.names if name not in grants]
        if not lacking:
            return None
        listed = ", ".join(f"'{name}'" for name in lacking)
        return f"the permission {listed}" if len(lacking) == 1 else f"the permissions {listed}"

    def __repr__(self) -> str:
        return f"HasPermission({', '.join(map(repr, self.names))})"


class HasRole(Requirement):
    """One role, matched exactly. ``HasRole("user") | HasRole("admin")`` accepts either."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a role name must be a non-empty string: {name!r}")
        self.name = plain_name(name)

    def missing(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> str | None:
        return None if self.name in grants.roles else f"the role '{self.name}'"

    def __repr__(self) -> str:
        return f"HasRole({self.name!r})"


class _Combination(Requirement):
    """What :class:`AllOf` and :class:`AnyOf` share: flattened, validated requirements."""

    __slots__ = ("_scopes", "requirements")
    _allow_empty = False

    def __init__(self, *requirements: Requirement) -> None:
        name = type(self).__name__
        if not all(isinstance(requirement, Requirement) for requirement in requirements):
            raise ConfigurationError(f"{name} takes requirements such as HasPermission(...) or HasRole(...)")
        if not requirements and not self._allow_empty:
            raise ConfigurationError(
                f"{name} takes one or more requirements such as HasPermission(...) or HasRole(...)"
            )
        flat: list[Requirement] = []
        for requirement in requirements:  # AllOf(AllOf(a, b), c) is AllOf(a, b, c)
            flat.extend(requirement.requirements if type(requirement) is type(self) else (requirement,))
        self.requirements: tuple[Requirement, ...] = tuple(flat)
        self._scopes = tuple(dict.fromkeys(scope for requirement in flat for scope in requirement.scopes))

    @property
    def scopes(self) -> tuple[str, ...]:
        return self._scopes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.requirements))})"


class AllOf(_Combination):
    """Every requirement. With none at all it only asks for an authenticated request."""

    __slots__ = ()
    _allow_empty = True

    def missing(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> str | None:
        lacking = [found for r in self.requirements if (found := r.missing(grants, claims, conn)) is not None]
        return " and ".join(lacking) if lacking else None


class AnyOf(_Combination):
    """At least one of the requirements."""

    __slots__ = ()

    def missing(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> str | None:
        lacking: list[str] = []
        for requirement in self.requirements:
            found = requirement.missing(grants, claims, conn)
            if found is None:
                return None
            lacking.append(found)
        return " or ".join(lacking)


class ClaimCheck(Requirement):
    """A predicate over the claims and the request, e.g. the token's tenant is the path's.

    ``predicate(claims, conn)`` must return ``True`` to pass; anything else, an
    exception included, denies (logged, with the exception's type only). It must be
    a plain function: an ``async def`` would return a coroutine, which is refused
    at construction rather than mistaken for a yes. ``description`` completes
    "Requires …" in the 403, e.g. ``"a token for this tenant"``.
    """

    __slots__ = ("_scopes", "description", "predicate")

    def __init__(self, predicate: Predicate, description: str, *, scopes: Iterable[str] = ()) -> None:
        if not callable(predicate) or inspect.iscoroutinefunction(predicate):
            raise ConfigurationError("ClaimCheck needs a plain function (claims, conn) -> bool, not a coroutine")
        if not isinstance(description, str) or not description.strip():
            raise ConfigurationError("ClaimCheck needs a description of what it requires")
        self.predicate = predicate
        self.description = description
        self._scopes = permission_names(tuple(scopes), "ClaimCheck scopes")

    @property
    def scopes(self) -> tuple[str, ...]:
        return self._scopes

    def missing(self, grants: Grants, claims: Mapping[str, Any], conn: HTTPConnection) -> str | None:
        try:
            passed = self.predicate(claims, conn)
        except Exception as exc:
            logger.warning("claim check %r raised %s: denied", self.description, type(exc).__name__)
            return self.description
        if inspect.iscoroutine(passed):
            passed.close()  # never awaited: an async callable object slipped through
            logger.warning("claim check %r returned a coroutine: denied", self.description)
        return None if passed is True else self.description

    def __repr__(self) -> str:
        return f"ClaimCheck({self.predicate!r}, {self.description!r})"


def requirement_from(*items: str | Requirement, roles: str | Iterable[str] = ()) -> Requirement:
    """The one requirement that positional permissions, requirements and ``roles=`` describe.

    Strings are permissions, all required; requirement objects are all required
    too; ``roles`` are alternatives (any one of them will do, as with
    ``@RolesAllowed``). Nothing at all means "authenticated".
    """
    permissions = [item for item in items if isinstance(item, str)]
    parts: list[Requirement] = [HasPermission(*permissions)] if permissions else []
    for item in items:
        if isinstance(item, Requirement):
            parts.append(item)
        elif not isinstance(item, str):
            raise ConfigurationError(f"expected permission names or requirements, got {item!r}")
    role_names = (roles,) if isinstance(roles, str) else tuple(roles)
    if role_names:
        alternatives = [HasRole(role) for role in dict.fromkeys(role_names)]
        parts.append(alternatives[0] if len(alternatives) == 1 else AnyOf(*alternatives))
    return parts[0] if len(parts) == 1 else AllOf(*parts)
