"""Starlette: the ``@authorize`` endpoint decorator and exception handlers that answer with the one builder.

Starlette is a dependency of asgi-jwt, so this module needs no extra; it sits
beside the FastAPI and Django integrations because, like them, it speaks a
framework's endpoint conventions on top of :mod:`asgi_jwt.authz`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, cast

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from asgi_jwt.apikeys import ApiKeys
from asgi_jwt.authz.requirements import Requirement, requirement_from
from asgi_jwt.errors import AuthError, ConfigurationError
from asgi_jwt.responses import check_realm, error_response, websocket_close_code

__all__ = ["auth_exception_handlers", "authorize"]

_P = ParamSpec("_P")


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


def auth_exception_handlers(*, realm: str = "api", api_keys: ApiKeys | None = None) -> dict[Any, ExceptionHandler]:
    """Exception handlers answering an :class:`~asgi_jwt.AuthError` raised in a route with the one builder.

    ``Starlette(exception_handlers=auth_exception_handlers())`` or the same for
    ``FastAPI``: a route may then ``raise InsufficientScope("orders:delete")`` and
    the client gets the same 403 the middleware would send. WebSockets are closed
    with 1008 (policy violation). Pass the middleware's ``api_keys`` so that a 401
    offers the API-key scheme too, as the middleware's does.
    """
    check_realm(realm)
    if api_keys is not None and not isinstance(api_keys, ApiKeys):
        raise ConfigurationError("api_keys must be the middleware's ApiKeys")
    api_key_header = None if api_keys is None else api_keys.header_name

    async def handle(conn: HTTPConnection, exc: Exception) -> Response | None:
        if not isinstance(exc, AuthError):  # registered for AuthError only; be explicit anyway
            raise exc
        if isinstance(conn, WebSocket):
            await conn.close(code=websocket_close_code(exc), reason=exc.description)
            return None
        return error_response(exc, realm=realm, api_key_header=api_key_header)

    return {AuthError: cast(ExceptionHandler, handle)}
