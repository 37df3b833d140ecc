"""Rules: the middleware's path rules, and what ``policy=`` and ``rules=`` compile to.

Everything is compiled when the middleware is built: a request only does set
look-ups and ``startswith``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

from asgi_jwt.authz.grants import PermissionPolicy, grants_of
from asgi_jwt.authz.requirements import Requirement, requirement_from
from asgi_jwt.claims import scopes_of
from asgi_jwt.errors import ConfigurationError
from asgi_jwt.identity import JWTAuth, JWTUser
from asgi_jwt.paths import PATTERN_HINT, PathPrefixes, is_pattern, request_method, route_path

__all__ = ["Authorization", "Rule"]


class Rule:
    """A middleware rule: requests under ``path`` (optionally only some methods) must meet a requirement.

    ``Rule("/admin", roles="admin")``, ``Rule("/v1/posts", "write:posts", methods="POST")``.
    ``/admin`` covers ``/admin`` and ``/admin/users`` but not ``/administrator``; ``/``
    covers everything (see :mod:`asgi_jwt.paths`). ``GET`` also covers ``HEAD``
    (Starlette serves ``HEAD`` with the ``GET`` endpoint). A rule with methods
    applies to HTTP only; one without applies to WebSockets too. With no
    permission, role or requirement, a rule only asks for authentication (useful
    in optional mode).
    """

    __slots__ = ("_paths", "methods", "path", "requirement")

    def __init__(
        self,
        path: str,
        *permissions: str | Requirement,
        methods: str | Iterable[str] | None = None,
        roles: str | Iterable[str] = (),
    ) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError(f"a rule's path must start with '/': {path!r}")
        if is_pattern(path):
            raise ConfigurationError(f"a rule's path must be a literal path, not a pattern: {path!r}{PATTERN_HINT}")
        self._paths = PathPrefixes((path,), what="a rule's path", root_covers_all=True)
        self.path = self._paths.paths[0]
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
        """Whether the rule applies to a request for ``path`` (as :func:`~asgi_jwt.paths.route_path` gives it)."""
        methods = self.methods  # upper case; request_method() upper-cases, a direct caller may not
        if methods is not None and method not in methods and (method is None or method.upper() not in methods):
            return False
        return path in self._paths

    def __repr__(self) -> str:
        methods = f", methods={sorted(self.methods)!r}" if self.methods is not None else ""
        return f"Rule({self.path!r}, {self.requirement!r}{methods})"


class Authorization:
    """What the middleware's ``policy=`` and ``rules=`` compile to, built once."""

    __slots__ = ("policy", "rules")

    def __init__(self, policy: PermissionPolicy | None, rules: tuple[Rule, ...]) -> None:
        self.policy = policy
        self.rules = rules

    @classmethod
    def build(
        cls, policy: PermissionPolicy | Mapping[str, str | Iterable[str]] | None, rules: Iterable[Rule]
    ) -> Authorization | None:
        """``None`` when there is nothing to do, so the middleware's fast path stays one check."""
        if isinstance(rules, Rule | str):
            raise ConfigurationError("rules must be a list of Rule objects")
        compiled = tuple(rules)
        if not all(isinstance(rule, Rule) for rule in compiled):
            raise ConfigurationError("rules must be Rule objects, e.g. Rule('/admin', roles='admin')")
        if policy is not None and not isinstance(policy, PermissionPolicy):
            if not isinstance(policy, Mapping):
                raise ConfigurationError("policy must be a PermissionPolicy or a role table (role -> permissions)")
            policy = PermissionPolicy(policy)
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
        method = request_method(scope)
        return any(rule.matches(path, method) for rule in self.rules)

    def admit(self, scope: Scope, claims: Mapping[str, Any], token: str, identity_claim: str) -> None:
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
        method = request_method(scope)
        conn: HTTPConnection | None = None
        for rule in self.rules:
            if rule.matches(path, method):
                if conn is None:
                    conn = HTTPConnection(scope)
                auth = scope["auth"]
                rule.requirement.enforce(grants_of(auth), auth.claims, conn)
