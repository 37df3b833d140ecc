"""Grants: what one verified token may do, read from its claims through a :class:`PermissionPolicy`.

Matching is exact apart from wildcards: ``*`` grants everything and ``read:*``
grants ``read:posts`` (and ``read:posts:drafts``). There are no prefix surprises:
``read`` does not grant ``read:posts``, ``orders:read`` does not grant
``orders:readall``, and ``read:*`` does not grant ``read`` itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

from asgi_jwt.claims import claim_strings
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.responses import SCOPE_TOKEN

__all__ = ["ClaimPath", "Grants", "PermissionPolicy"]

ClaimPath: TypeAlias = str | Sequence[str]
"""A claim name (``"roles"``), a dotted path (``"realm_access.roles"``) or explicit parts."""

WILDCARD = "*"
DEFAULT_SEPARATOR = ":"
DEFAULT_PERMISSION_CLAIMS: tuple[str, ...] = ("scope", "scp", "permissions")
DEFAULT_ROLE_CLAIMS: tuple[str, ...] = ("roles",)


def permission_names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    """Validate configured permission names once: scope-tokens (RFC 6750 §3), so challenges can carry them."""
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not SCOPE_TOKEN.fullmatch(item):
            raise ConfigurationError(
                f"{what} must be non-empty strings without spaces, quotes or backslashes: {item!r}"
            )
    return tuple(map(plain_name, items))


def plain_name(name: str) -> str:
    """The plain string of a ``str`` subclass: a ``class Permission(str, Enum)`` member hashes
    and formats as its member name, so it would never match the claim's string."""
    return str.__str__(name)


class Grants(Collection[str]):
    """The permissions and roles one token grants.

    ``name in grants`` applies the wildcard rules, which is what Starlette's
    ``@requires`` relies on (it tests ``name in request.auth.scopes``). Iterating
    yields the granted names as issued, wildcards included. ``separator=None``
    turns wildcards off: every name then matches only itself.
    """

    __slots__ = ("_all", "_granted", "_prefixes", "roles")

    def __init__(
        self, permissions: Iterable[str] = (), roles: Iterable[str] = (), *, separator: str | None = DEFAULT_SEPARATOR
    ) -> None:
        self._granted = frozenset(permissions)
        self.roles: frozenset[str] = frozenset(roles)
        self._all = separator is not None and WILDCARD in self._granted
        self._prefixes: tuple[str, ...] = ()
        if separator is not None:
            suffix = separator + WILDCARD
            self._prefixes = tuple(  # "read:*" -> "read:"; a '*' anywhere else is a literal
                name[:-1] for name in self._granted if name.endswith(suffix) and name.count(WILDCARD) == 1
            )

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name:
            return False
        if name in self._granted or self._all:
            return True
        # A wildcard needs at least one character after its separator: "read:*" is not "read:".
        return any(len(name) > len(prefix) and name.startswith(prefix) for prefix in self._prefixes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._granted)

    def __len__(self) -> int:
        return len(self._granted)

    def __repr__(self) -> str:
        return f"Grants(permissions={sorted(self._granted)!r}, roles={sorted(self.roles)!r})"

    def has_role(self, role: str) -> bool:
        """Whether the token carries ``role`` (exact match: roles have no wildcards)."""
        return role in self.roles


def _compile_path(path: ClaimPath) -> tuple[str | None, tuple[str, ...]]:
    """``(top-level name, parts)``: a name is looked up whole first, then as a dotted path.

    Looking the whole name up first keeps namespaced claims such as Auth0's
    ``https://example.com/roles`` working; a tuple of parts is for names that
    contain dots at a deeper level (``("resource_access", "my.client", "roles")``).
    """
    if isinstance(path, str):
        parts = tuple(path.split(".")) if "." in path else ()
        if not path or (parts and not all(parts)):
            raise ConfigurationError(f"claim paths must be names or dotted paths like 'realm_access.roles': {path!r}")
        return path, parts
    parts = tuple(path)
    if not parts or not all(isinstance(part, str) and part for part in parts):
        raise ConfigurationError(f"claim paths given as parts must be non-empty strings: {path!r}")
    return None, parts


def _lookup(claims: Mapping[str, Any], name: str | None, parts: tuple[str, ...]) -> Any:
    if name is not None:
        value = claims.get(name)
        if value is not None or not parts:
            return value
    value = claims
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value if parts else None


class PermissionPolicy:
    """How claims become :class:`Grants`: which claims to read and what each role grants.

    Args:
        roles: the role table, role name to the permissions it grants (wildcards
            allowed), e.g. ``{"admin": ["read:*", "write:*"], "viewer": ["read:posts"]}``.
            A role missing from the table still counts for role requirements but
            grants no permissions.
        permission_claims: claims holding permissions: a space-delimited string
            (``scope``, RFC 9068) or a list (``scp``, Auth0's ``permissions``).
        role_claims: claims holding role names, e.g. Keycloak's
            ``"realm_access.roles"`` or Entra ID's ``"roles"``.
        separator: what ends the part before a wildcard (``read:*``); ``None``
            turns wildcards off.
    """

    def __init__(
        self,
        roles: Mapping[str, str | Iterable[str]] | None = None,
        *,
        permission_claims: Iterable[ClaimPath] = DEFAULT_PERMISSION_CLAIMS,
        role_claims: Iterable[ClaimPath] = DEFAULT_ROLE_CLAIMS,
        separator: str | None = DEFAULT_SEPARATOR,
    ) -> None:
        if separator is not None and (not isinstance(separator, str) or not separator or WILDCARD in separator):
            raise ConfigurationError("separator must be a non-empty string without '*', or None")
        if isinstance(permission_claims, str) or isinstance(role_claims, str):
            raise ConfigurationError("permission_claims and role_claims are lists of claim paths, not one string")
        self.separator = separator
        self._permission_paths = tuple(_compile_path(path) for path in permission_claims)
        self._role_paths = tuple(_compile_path(path) for path in role_claims)
        if roles is not None and not isinstance(roles, Mapping):
            raise ConfigurationError("roles must map each role name to the permissions it grants")
        table: dict[str, frozenset[str]] = {}
        for role, granted in (roles or {}).items():
            if not isinstance(role, str) or not role:
                raise ConfigurationError(f"role names must be non-empty strings: {role!r}")
            names = permission_names(granted, f"the permissions of role {role!r}")
            for name in names:
                self._check_wildcard(name, role)
            table[plain_name(role)] = frozenset(names)
        self.roles: Mapping[str, frozenset[str]] = table

    def _check_wildcard(self, name: str, role: str) -> None:
        if WILDCARD not in name or name == WILDCARD or self.separator is None:
            return
        if not name.endswith(self.separator + WILDCARD) or WILDCARD in name[:-1]:
            raise ConfigurationError(
                f"role {role!r}: a wildcard must be the whole name ('*') or its last part ('read{self.separator}*'): "
                f"{name!r}"
            )

    def roles_of(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """The role names the claims carry."""
        found: set[str] = set()
        for name, parts in self._role_paths:
            value = _lookup(claims, name, parts)
            if value is not None:
                found.update(claim_strings(value))
        return frozenset(found)

    def grants(self, claims: Mapping[str, Any]) -> Grants:
        """The grants of one token: its permissions plus those of its roles."""
        permissions: set[str] = set()
        for name, parts in self._permission_paths:
            value = _lookup(claims, name, parts)
            if value is not None:
                permissions.update(claim_strings(value))
        roles = self.roles_of(claims)
        for role in roles:
            granted = self.roles.get(role)
            if granted:
                permissions |= granted
        return Grants(permissions, roles, separator=self.separator)

    def __repr__(self) -> str:
        return f"PermissionPolicy(roles={dict(self.roles)!r})"


_DEFAULT_ROLES = PermissionPolicy(separator=None)


def grants_of(auth: Any) -> Grants:
    """The :class:`Grants` of ``scope["auth"]``.

    With a policy the middleware already built them. Without one, ``.scopes`` is the
    token's ``scope``/``scp`` matched exactly (as Starlette's ``@requires`` sees it)
    and roles come from the ``roles`` claim.
    """
    scopes = getattr(auth, "scopes", ())
    if isinstance(scopes, Grants):
        return scopes
    claims = getattr(auth, "claims", None)
    roles = _DEFAULT_ROLES.roles_of(claims) if isinstance(claims, Mapping) else frozenset()
    return Grants(scopes if isinstance(scopes, Iterable) else (), roles, separator=None)
