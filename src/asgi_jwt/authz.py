"""Authorization: what a verified token may do, and the rules that require it.

Authentication says who the caller is; this module decides what they may do, with
one vocabulary in three places: path rules in :class:`~asgi_jwt.JWTAuthMiddleware`
(``rules=``), the :func:`authorize` decorator for Starlette endpoints, and the
dependencies of ``asgi_jwt.integrations.fastapi``.

Granted permissions come from claims (``scope``, ``scp``, ``permissions`` and
``roles`` through a role table; see :class:`PermissionPolicy`). Matching is exact
apart from wildcards: ``*`` grants everything and ``read:*`` grants ``read:posts``
(and ``read:posts:drafts``). There are no prefix surprises: ``read`` does not grant
``read:posts``, ``orders:read`` does not grant ``orders:readall``, and ``read:*``
does not grant ``read`` itself.

A request that is not authenticated at all fails with
:class:`~asgi_jwt.MissingToken` (401, bare challenge); an authenticated one that
lacks something fails with :class:`~asgi_jwt.InsufficientScope` (403,
``insufficient_scope``, never 401). Everything is compiled at construction: a
request only does set look-ups and ``startswith``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec, TypeAlias, cast

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ExceptionHandler, Scope
from starlette.websockets import WebSocket

from asgi_jwt.claims import claim_strings, scopes_of
from asgi_jwt.errors import AuthError, ConfigurationError, InsufficientScope, MissingToken
from asgi_jwt.identity import JWTAuth, JWTUser
from asgi_jwt.responses import SCOPE_TOKEN, check_realm, error_response, websocket_close_code

__all__ = [
    "AllOf",
    "AnyOf",
    "ClaimCheck",
    "Grants",
    "HasPermission",
    "HasRole",
    "PermissionPolicy",
    "Requirement",
    "Rule",
    "auth_exception_handlers",
    "authorize",
    "requirement_from",
    "route_path",
]

logger = logging.getLogger("asgi_jwt")

_P = ParamSpec("_P")
ClaimPath: TypeAlias = str | Sequence[str]
"""A claim name (``"roles"``), a dotted path (``"realm_access.roles"``) or explicit parts."""
Predicate: TypeAlias = Callable[[Mapping[str, Any], HTTPConnection], bool]

WILDCARD = "*"
DEFAULT_SEPARATOR = ":"
DEFAULT_PERMISSION_CLAIMS: tuple[str, ...] = ("scope", "scp", "permissions")
DEFAULT_ROLE_CLAIMS: tuple[str, ...] = ("roles",)


def _names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    """Validate configured permission names once: scope-tokens (RFC 6750 §3), so challenges can carry them."""
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not SCOPE_TOKEN.fullmatch(item):
            raise ConfigurationError(
                f"{what} must be non-empty strings without spaces, quotes or backslashes: {item!r}"
            )
    return tuple(map(_plain, items))


def _plain(name: str) -> str:
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
            names = _names(granted, f"the permissions of role {role!r}")
            for name in names:
                self._check_wildcard(name, role)
            table[_plain(role)] = frozenset(names)
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


def _grants_of(auth: Any) -> Grants:
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


def _connection_state(conn: HTTPConnection) -> tuple[Grants, Mapping[str, Any]]:
    """The grants and claims of an authenticated connection, or the right error."""
    scope = conn.scope
    if "auth" not in scope:
        raise ConfigurationError("no scope['auth'] on this request: wrap the application in JWTAuthMiddleware")
    if not getattr(scope.get("user"), "is_authenticated", False):
        raise MissingToken()  # not authenticated yet: the bare challenge, not a 403
    auth = scope["auth"]
    claims = getattr(auth, "claims", None)
    return _grants_of(auth), claims if isinstance(claims, Mapping) else {}


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
        grants, claims = _connection_state(conn)
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
        self.names = _names(names, "permissions")

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
        self.name = _plain(name)

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
        self._scopes = _names(tuple(scopes), "ClaimCheck scopes")

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


def route_path(scope: Scope) -> str:
    """The path the router matches, without the mount's ``root_path``."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    return path


class Rule:
    """A middleware rule: requests under ``path`` (optionally only some methods) must meet a requirement.

    ``Rule("/admin", roles="admin")``, ``Rule("/v1/posts", "write:posts", methods="POST")``.
    ``/admin`` covers ``/admin`` and ``/admin/users`` but not ``/administrator``; ``/``
    covers everything. ``GET`` also covers ``HEAD`` (Starlette serves ``HEAD`` with
    the ``GET`` endpoint). A rule with methods applies to HTTP only; one without
    applies to WebSockets too. With no permission, role or requirement, a rule
    only asks for authentication (useful in optional mode).
    """

    __slots__ = ("methods", "path", "prefix", "requirement")

    def __init__(
        self,
        path: str,
        *permissions: str | Requirement,
        methods: str | Iterable[str] | None = None,
        roles: str | Iterable[str] = (),
    ) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError(f"a rule's path must start with '/': {path!r}")
        self.path = path.rstrip("/") or "/"
        self.prefix = "/" if self.path == "/" else self.path + "/"
        self.methods: frozenset[str] | None = None
        if methods is not None:
            names = {methods.upper()} if isinstance(methods, str) else {str(method).upper() for method in methods}
            if not names or not all(name.isalpha() for name in names):
                raise ConfigurationError(f"a rule's methods must be HTTP method names: {methods!r}")
            if "GET" in names:
                names.add("HEAD")
            self.methods = frozenset(names)
        self.requirement = requirement_from(*permissions, roles=roles)

    def matches(self, path: str, method: str | None) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return path == self.path or path.startswith(self.prefix)

    def __repr__(self) -> str:
        methods = f", methods={sorted(self.methods)!r}" if self.methods is not None else ""
        return f"Rule({self.path!r}, {self.requirement!r}{methods})"


class Authorization:
    """What the middleware's ``permissions=`` and ``rules=`` compile to, built once."""

    __slots__ = ("policy", "rules")

    def __init__(self, policy: PermissionPolicy | None, rules: tuple[Rule, ...]) -> None:
        self.policy = policy
        self.rules = rules

    @classmethod
    def build(
        cls, permissions: PermissionPolicy | Mapping[str, str | Iterable[str]] | None, rules: Iterable[Rule]
    ) -> Authorization | None:
        """``None`` when there is nothing to do, so the middleware's fast path stays one check."""
        if isinstance(rules, Rule | str):
            raise ConfigurationError("rules must be a list of Rule objects")
        compiled = tuple(rules)
        if not all(isinstance(rule, Rule) for rule in compiled):
            raise ConfigurationError("rules must be Rule objects, e.g. Rule('/admin', roles='admin')")
        if permissions is None:
            policy = None
        elif isinstance(permissions, PermissionPolicy):
            policy = permissions
        elif isinstance(permissions, Mapping):
            policy = PermissionPolicy(permissions)
        else:
            raise ConfigurationError("permissions must be a PermissionPolicy or a role table (role -> permissions)")
        if policy is None and not compiled:
            return None
        return cls(policy, compiled)

    def grants(self, claims: Mapping[str, Any]) -> Collection[str]:
        """The ``.scopes`` container of ``scope["auth"]``."""
        return scopes_of(claims) if self.policy is None else self.policy.grants(claims)

    def covers(self, scope: Scope) -> bool:
        """Whether a rule applies: an anonymous request there must authenticate first."""
        if not self.rules:
            return False
        path = route_path(scope)
        method = scope.get("method")
        return any(rule.matches(path, method) for rule in self.rules)

    def authorize(self, scope: Scope, claims: Mapping[str, Any], token: str, identity_claim: str) -> None:
        """Write ``scope["auth"]`` and ``scope["user"]`` for a verified token, then enforce the rules.

        The scope is written first so that claim checks and ``on_error`` see who was refused.
        """
        scope["auth"] = JWTAuth(claims, self.grants(claims), token)
        scope["user"] = JWTUser(claims, identity_claim)
        self.check(scope)

    def check(self, scope: Scope) -> None:
        """Enforce every rule that applies to the authenticated request in ``scope``."""
        if not self.rules:
            return
        path = route_path(scope)
        method = scope.get("method")
        conn: HTTPConnection | None = None
        for rule in self.rules:
            if rule.matches(path, method):
                if conn is None:
                    conn = HTTPConnection(scope)
                auth = scope["auth"]
                rule.requirement.enforce(_grants_of(auth), auth.claims, conn)


def authorize(
    *permissions: str | Requirement, roles: str | Iterable[str] = (), realm: str = "api"
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Starlette endpoint decorator: like ``@requires``, with roles, requirements and RFC 6750 answers.

    ``@authorize("write:posts")``, ``@authorize(roles=["user", "admin"])``,
    ``@authorize(HasRole("admin") | HasPermission("posts:moderate"))``. A request
    without credentials gets the 401 bare challenge and one lacking a permission a
    403 with ``error="insufficient_scope"`` and ``scope="…"``, built by
    :func:`~asgi_jwt.error_response` (Starlette's ``@requires`` answers a bare 403).
    WebSockets are closed with 1008 (policy violation). The endpoint needs a
    parameter named ``request`` or ``websocket``, as with ``@requires``.
    """
    requirement = requirement_from(*permissions, roles=roles)
    check_realm(realm)

    def decorator(func: Callable[_P, Any]) -> Callable[_P, Any]:
        parameters = list(inspect.signature(func).parameters)
        found = [parameter for parameter in parameters if parameter in ("request", "websocket")]
        if not found:
            raise ConfigurationError(f"@authorize needs a 'request' or 'websocket' parameter on {func!r}")
        name = found[0]
        index = parameters.index(name)

        def argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return kwargs.get(name, args[index] if index < len(args) else None)

        def connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
            conn = argument(args, kwargs)
            if not isinstance(conn, HTTPConnection):
                raise TypeError(f"the {name!r} argument of {func!r} is not a Starlette request")
            return conn

        if name == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> None:
                websocket = argument(args, kwargs)
                if not isinstance(websocket, WebSocket):
                    raise TypeError(f"the 'websocket' argument of {func!r} is not a Starlette WebSocket")
                try:
                    requirement.check(websocket)
                except AuthError as error:
                    await websocket.close(code=websocket_close_code(error), reason=error.description)
                    return
                await func(*args, **kwargs)

            return websocket_wrapper

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                try:
                    requirement.check(connection(args, kwargs))
                except AuthError as error:
                    return error_response(error, realm=realm)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            try:
                requirement.check(connection(args, kwargs))
            except AuthError as error:
                return error_response(error, realm=realm)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator


def auth_exception_handlers(*, realm: str = "api") -> dict[Any, ExceptionHandler]:
    """Exception handlers answering an :class:`~asgi_jwt.AuthError` raised in a route with the one builder.

    ``Starlette(exception_handlers=auth_exception_handlers())`` or the same for
    ``FastAPI``: a route may then ``raise InsufficientScope("orders:delete")`` and
    the client gets the same 403 the middleware would send. WebSockets are closed
    with 1008 (policy violation).
    """
    check_realm(realm)

    async def handle(conn: HTTPConnection, exc: Exception) -> Response | None:
        if not isinstance(exc, AuthError):  # registered for AuthError only; be explicit anyway
            raise exc
        if isinstance(conn, WebSocket):
            await conn.close(code=websocket_close_code(exc), reason=exc.description)
            return None
        return error_response(exc, realm=realm)

    return {AuthError: cast(ExceptionHandler, handle)}
