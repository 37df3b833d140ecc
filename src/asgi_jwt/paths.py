"""Which requests a path covers: one rule for ``exclude_paths`` and for :class:`~asgi_jwt.Rule`.

A path covers itself and everything below it by whole segments: ``/admin`` covers
``/admin``, ``/admin/`` and ``/admin/users`` but not ``/administrator``. Paths are
matched as the router sees them, without the mount's ``root_path``.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from asgi_jwt.errors import ConfigurationError

__all__ = ["PathPrefixes", "route_path"]


def route_path(scope: Scope) -> str:
    """The path the router matches, without the mount's ``root_path``."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    return path


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
