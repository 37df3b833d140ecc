"""Which requests a path covers: one rule for ``exclude_paths`` and for :class:`~asgi_jwt.Rule`.

A path covers itself and everything below it by whole segments: ``/admin`` covers
``/admin``, ``/admin/`` and ``/admin/users`` but not ``/administrator``. Paths are
matched as the router sees them, without the mount's ``root_path``. Paths are literal: a
pattern such as ``/admin/*`` or ``/files/{path:path}`` would never match a request, so
it is refused at start-up instead of leaving the paths below it unguarded.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from asgi_jwt.errors import ConfigurationError

__all__ = ["PATTERN_HINT", "PathPrefixes", "is_pattern", "request_method", "route_path"]


_PATTERN_CHARACTERS = frozenset("*{}")
PATTERN_HINT = " ('/admin' already covers everything below it)"


def is_pattern(path: str) -> bool:
    """Whether ``path`` looks like a glob or a route template, which a literal path rule would never match."""
    return not _PATTERN_CHARACTERS.isdisjoint(path)


def route_path(scope: Scope) -> str:
    """The path the router matches, without the mount's ``root_path``.

    Starlette's rule (``get_route_path``): the ``root_path`` is removed only at a
    segment boundary, so with ``/api`` a request for ``/apix/reports`` stays
    ``/apix/reports``, as Starlette routes it.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        if len(path) == len(root_path):
            return "/"
        if path[len(root_path)] == "/":
            return path[len(root_path) :]
    return path


def request_method(scope: Scope) -> str | None:
    """The request's method in upper case (``None`` for a WebSocket).

    Methods are case-sensitive in HTTP, but servers pass ``post`` through as sent
    (uvicorn's h11) while frameworks upper-case it (Django): a rule for ``POST`` must
    cover every spelling the app may serve. The usual spelling costs one check.
    """
    method: str | None = scope.get("method")
    if method is not None and not method.isupper():
        return method.upper()
    return method


class PathPrefixes:
    """Paths and the segments below them, compiled once: a request does a set look-up and one ``startswith``.

    ``root_covers_all`` says what ``/`` means: everything (a rule there guards the
    whole app) or the root page only (an exclusion there must not open the whole app).
    """

    __slots__ = ("_exact", "_prefixes", "paths")

    def __init__(self, paths: Iterable[str], *, what: str, root_covers_all: bool) -> None:
        if isinstance(paths, str):
            raise ConfigurationError(f"{what} must be a list of paths, not one string")
        exact: set[str] = set()
        prefixes: list[str] = []
        for path in paths:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ConfigurationError(f"{what} entries must start with '/': {path!r}")
            if is_pattern(path):
                raise ConfigurationError(f"{what} entries must be literal paths, not patterns: {path!r}{PATTERN_HINT}")
            trimmed = path.rstrip("/") or "/"
            exact.add(trimmed)
            if trimmed != "/":
                prefixes.append(trimmed + "/")
            elif root_covers_all:
                prefixes.append("/")
        self.paths: tuple[str, ...] = tuple(sorted(exact))
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)

    def __contains__(self, path: str) -> bool:
        return path in self._exact or path.startswith(self._prefixes)

    def __bool__(self) -> bool:
        return bool(self._exact)

    def __repr__(self) -> str:
        return f"PathPrefixes({list(self.paths)!r})"
