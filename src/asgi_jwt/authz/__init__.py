"""Authorization: what a verified token may do, and the rules that require it.

Authentication says who the caller is; this package decides what they may do, with
one vocabulary in three places: path rules in :class:`~asgi_jwt.JWTAuthMiddleware`
(``rules=``), the ``@authorize`` decorator for Starlette endpoints
(:mod:`asgi_jwt.integrations.starlette`), and the dependencies of
:mod:`asgi_jwt.integrations.fastapi`.

- :mod:`~asgi_jwt.authz.grants`: :class:`Grants` and the :class:`PermissionPolicy`
  that reads them from claims (``scope``, ``scp``, ``permissions``, and ``roles``
  through a role table), wildcards included.
- :mod:`~asgi_jwt.authz.requirements`: :class:`HasPermission`, :class:`HasRole`,
  :class:`ClaimCheck`, combined with :class:`AllOf`/:class:`AnyOf` or ``&``/``|``.
- :mod:`~asgi_jwt.authz.rules`: the middleware's :class:`Rule` and what it compiles to.
"""

from __future__ import annotations

from typing import Any

from asgi_jwt.authz.grants import Grants, PermissionPolicy
from asgi_jwt.authz.requirements import (
    AllOf,
    AnyOf,
    ClaimCheck,
    HasPermission,
    HasRole,
    Requirement,
    requirement_from,
)
from asgi_jwt.authz.rules import Rule
from asgi_jwt.paths import route_path as route_path

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
    "requirement_from",
]

_STARLETTE_NAMES = frozenset({"authorize", "auth_exception_handlers"})


def __getattr__(name: str) -> Any:
    """``from asgi_jwt.authz import authorize`` still works, without the core importing an integration.

    The decorator and the handlers live in :mod:`asgi_jwt.integrations.starlette`; they are
    imported only when asked for here, so importing :mod:`asgi_jwt.authz` never loads them.
    """
    if name in _STARLETTE_NAMES:
        from asgi_jwt.integrations.starlette import auth_exception_handlers, authorize

        return authorize if name == "authorize" else auth_exception_handlers
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
