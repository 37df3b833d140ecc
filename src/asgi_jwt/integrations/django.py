"""Django: the verified token on the Django request.

Authentication itself happens outside Django: :class:`~asgi_jwt.JWTAuthMiddleware`
wraps the ASGI application that ``django.core.asgi.get_asgi_application()``
returns, so a request with a bad token is answered before Django runs at all.
Inside Django, :class:`JWTRequestMiddleware` reads what the ASGI middleware put
in ``request.scope`` and exposes it the Django way:

    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # first: it sets a lazy request.user
        "asgi_jwt.integrations.django.JWTRequestMiddleware",  # then: a token user replaces it
        ...
    ]

``request.jwt`` is the :class:`~asgi_jwt.JWTAuth`, ``request.claims`` its claims,
and on authenticated requests ``request.user`` (and ``await request.auser()``) is a
:class:`DjangoJWTUser`. Anonymous requests (excluded paths, optional mode) keep
the user Django's ``AuthenticationMiddleware`` found (a session user or
``AnonymousUser``), or get a :class:`DjangoAnonymousUser` when it is not installed.

The middleware itself needs nothing from Django (only ``asgiref``, which Django
depends on), so importing this module does not configure or import Django.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from typing import Any

try:  # asgiref comes with Django
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
except ImportError as exc:
    raise ImportError('asgi_jwt.integrations.django needs Django: pip install "asgi-jwt[django]"') from exc
from starlette.authentication import UnauthenticatedUser

from asgi_jwt.errors import AuthError, MissingToken
from asgi_jwt.identity import JWTAuth, JWTUser
from asgi_jwt.responses import error_response

__all__ = ["DjangoAnonymousUser", "DjangoJWTUser", "JWTRequestMiddleware"]

logger = logging.getLogger("asgi_jwt")

# Django has no type information without django-stubs: requests and responses
# are plain objects at this boundary.
Request = Any
Response = Any


class DjangoJWTUser(JWTUser):
    """The token's user, with the parts of Django's user API that views and decorators use.

    ``login_required`` works (``is_authenticated`` is true), and ``has_perm`` asks
    the token's scopes, so ``@permission_required("orders:read", raise_exception=True)``
    admits a token granted ``orders:read``. There is no database row: ``pk`` and
    ``id`` are ``None``, and ``is_staff``/``is_superuser`` are always false, so a
    token never opens the Django admin.
    """

    __slots__ = ("scopes",)
    scopes: Container[str]

    id = None
    pk = None
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, user: JWTUser, scopes: Container[str]) -> None:
        # The ASGI middleware already resolved the identity claim; keep its answer. Read-only like JWTUser.
        object.__setattr__(self, "claims", user.claims)
        object.__setattr__(self, "_identity", user.identity)
        object.__setattr__(self, "scopes", scopes)

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def username(self) -> str:
        return self._identity

    def get_username(self) -> str:
        return self._identity

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """True when the token grants ``perm`` as a scope."""
        return perm in self.scopes

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return all(perm in self.scopes for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return False  # scopes are not Django app permissions

    async def ahas_perm(self, perm: str, obj: object = None) -> bool:
        return self.has_perm(perm, obj)

    async def ahas_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return self.has_perms(perm_list, obj)

    async def ahas_module_perms(self, app_label: str) -> bool:
        return False

    def __str__(self) -> str:
        return self._identity

    def __repr__(self) -> str:
        return f"DjangoJWTUser(identity={self._identity!r})"


class DjangoAnonymousUser(UnauthenticatedUser):
    """``request.user`` on anonymous requests when Django's ``AuthenticationMiddleware`` is absent."""

    id = None
    pk = None
    username = ""
    is_active = False
    is_staff = False
    is_superuser = False

    @property
    def is_anonymous(self) -> bool:
        return True

    def get_username(self) -> str:
        return ""

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    async def ahas_perm(self, perm: str, obj: object = None) -> bool:
        return False

    async def ahas_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return False

    async def ahas_module_perms(self, app_label: str) -> bool:
        return False

    def __str__(self) -> str:
        return "AnonymousUser"


_ANONYMOUS_USER = DjangoAnonymousUser()


class JWTRequestMiddleware:
    """Django middleware: ``request.jwt``, ``request.claims`` and the token's ``request.user``.

    Works in both Django's sync and async middleware chains. It only reads what
    :class:`~asgi_jwt.JWTAuthMiddleware` verified. A request that did not pass
    through it (Django served over WSGI, or the ASGI app not wrapped) carries no
    verified token, so it is answered 401 with the bearer challenge, as the ASGI
    middleware answers a request without credentials, never let through as
    anonymous; the first one logs an error that names the deployment mistake.

    An :class:`~asgi_jwt.AuthError` raised by a view (a permission check of
    your own, say) is answered with its status and challenge instead of a 500.

    The challenge's realm is ``"api"``, the ASGI middleware's default; a subclass
    that sets ``realm`` (and is listed in ``MIDDLEWARE`` instead) changes it.

    Args:
        get_response: the next handler in Django's middleware chain.
    """

    sync_capable = True
    async_capable = True
    realm = "api"

    def __init__(self, get_response: Callable[[Request], Response]) -> None:
        self.get_response = get_response
        self._warned = False
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Request) -> Response:
        if self._async:
            return self._acall(request)
        if not _attach(request):
            return self._unverified()
        return self.get_response(request)

    async def _acall(self, request: Request) -> Response:
        if not _attach(request):
            return self._unverified()
        response: Awaitable[Response] = self.get_response(request)
        return await response

    def process_exception(self, request: Request, exception: Exception) -> Response | None:
        """Django's hook for a view's exception: an ``AuthError`` gets its own answer; others go on."""
        if isinstance(exception, AuthError):
            return _django_response(exception, self.realm)
        return None

    def _unverified(self) -> Response:
        if not self._warned:
            self._warned = True
            logger.error(
                "JWTRequestMiddleware found no verified token on the request and answers 401: serve Django over "
                "ASGI and wrap get_asgi_application() in asgi_jwt.JWTAuthMiddleware"
            )
        return _django_response(MissingToken(), self.realm)


def _django_response(error: AuthError, realm: str) -> Response:
    """The answer :func:`~asgi_jwt.error_response` builds, as a Django response."""
    from django.http import HttpResponse  # type: ignore[import-untyped]  # at request time: importing this module must not import Django

    built = error_response(error, realm=realm)
    response = HttpResponse(built.body, status=built.status_code, content_type=built.media_type)
    for name, value in built.headers.items():
        if name not in ("content-length", "content-type"):
            response[name] = value
    return response


def _attach(request: Request) -> bool:
    """Put the verified token on ``request``; False when no :class:`~asgi_jwt.JWTAuthMiddleware` ran."""
    scope = getattr(request, "scope", None)
    if not isinstance(scope, Mapping) or not isinstance(auth := scope.get("auth"), JWTAuth):
        return False
    request.jwt = auth
    request.claims = auth.claims
    user = scope.get("user")
    if isinstance(user, JWTUser):
        django_user = DjangoJWTUser(user, auth.scopes)
        request.user = django_user

        async def auser() -> DjangoJWTUser:
            return django_user

        request.auser = auser
    elif not hasattr(request, "user"):
        request.user = _ANONYMOUS_USER
        request.auser = _anonymous_user
    return True


async def _anonymous_user() -> DjangoAnonymousUser:
    return _ANONYMOUS_USER
