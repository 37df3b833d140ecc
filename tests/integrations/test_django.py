"""Django behind JWTAuthMiddleware: Django's own ASGI application, no database.

The settings are configured here once (ROOT_URLCONF is this module); each test
builds a fresh ``get_asgi_application()`` so the middleware list can differ.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import django
import httpx
import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import path

from asgi_jwt import InsufficientScope, JWTAuthMiddleware, KeysUnavailable, TokenVerifier
from asgi_jwt.integrations.django import DjangoAnonymousUser, DjangoJWTUser

SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
JWT = "asgi_jwt.integrations.django.JWTRequestMiddleware"
SYNC_ONLY = f"{__name__}.sync_only_middleware"

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-secret-not-used-for-tokens",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        MIDDLEWARE=[SESSIONS, AUTHENTICATION, JWT],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        DATABASES={},  # any query would fail: the integration needs no database
        USE_TZ=True,
    )
    django.setup()


def sync_only_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A sync-only middleware after ours forces Django to run ours in its sync chain."""

    def middleware(request: HttpRequest) -> HttpResponse:
        return get_response(request)

    return middleware


def describe(request: Any) -> dict[str, Any]:
    user = request.user
    return {
        "user_class": user.__class__.__name__,  # through Django's SimpleLazyObject
        "authenticated": user.is_authenticated,
        "anonymous": user.is_anonymous,
        "identity": getattr(user, "identity", None),
        "username": user.get_username() if hasattr(user, "get_username") else None,
        "claims": dict(request.claims),
        "scopes": sorted(request.jwt.scopes),
    }


def orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


async def async_orders(request: Any) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({**describe(request), "auser_identity": getattr(user, "identity", None)})


@login_required
def account(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@permission_required("orders:write", raise_exception=True)
def write_order(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"written": True})


def refuse(request: HttpRequest) -> JsonResponse:
    """A view with a check of its own that raises our errors."""
    if request.GET.get("outage"):
        raise KeysUnavailable(retry_after=7)
    raise InsufficientScope("reports:read", "Requires reports:read")


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({**describe(request), "user": str(request.user)})


urlpatterns = [
    path("orders", orders),
    path("async-orders", async_orders),
    path("account", account),
    path("orders/write", write_order),
    path("health", health),
    path("refuse", refuse),
]


def django_app(middleware: list[str]) -> Any:
    from django.core.asgi import get_asgi_application

    with override_settings(MIDDLEWARE=middleware):
        return get_asgi_application()  # the middleware chain is built here, once


@pytest.fixture(params=["async", "sync"])
def stack(request: pytest.FixtureRequest) -> list[str]:
    """Our middleware in Django's async chain, and (with a sync-only one after it) in the sync chain."""
    return [SESSIONS, AUTHENTICATION, JWT] + ([SYNC_ONLY] if request.param == "sync" else [])


@pytest.fixture
def client_for(verifier: TokenVerifier) -> Callable[..., httpx.AsyncClient]:
    """``client_for(middleware, **options)``: Django with that MIDDLEWARE, wrapped in JWTAuthMiddleware."""

    def make(middleware: list[str], **options: Any) -> httpx.AsyncClient:
        app = JWTAuthMiddleware(django_app(middleware), verifier=verifier, exclude_paths=["/health"], **options)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    return make


async def test_no_token_is_answered_before_django(client_for: Callable[..., httpx.AsyncClient]) -> None:
    async with client_for([SESSIONS, AUTHENTICATION, JWT]) as client:
        response = await client.get("/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Not authenticated", "error": None}


async def test_bad_token_is_answered_before_django(client_for: Callable[..., httpx.AsyncClient]) -> None:
    async with client_for([SESSIONS, AUTHENTICATION, JWT]) as client:
        response = await client.get("/orders", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


async def test_token_reaches_the_view_with_claims_and_user(
    client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str], stack: list[str]
) -> None:
    token = make_token(sub="alice", scope="orders:read orders:list", role="clinician")
    async with client_for(stack) as client:
        response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["user_class"] == "DjangoJWTUser"
    assert body["authenticated"] is True
    assert body["anonymous"] is False
    assert body["identity"] == "alice"
    assert body["username"] == "alice"
    assert body["claims"]["sub"] == "alice"
    assert body["claims"]["role"] == "clinician"
    assert body["scopes"] == ["orders:list", "orders:read"]


async def test_async_view_gets_the_user_from_auser(
    client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    async with client_for([SESSIONS, AUTHENTICATION, JWT]) as client:
        response = await client.get("/async-orders", headers={"Authorization": f"Bearer {make_token(sub='bob')}"})
    assert response.status_code == 200
    assert response.json()["auser_identity"] == "bob"
    assert response.json()["identity"] == "bob"


async def test_identity_claim_follows_the_asgi_middleware(
    client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    token = make_token(sub=None, user_id="u-42", role="doctor")
    async with client_for([SESSIONS, AUTHENTICATION, JWT], identity_claim="user_id") as client:
        response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["identity"] == "u-42"
    assert response.json()["claims"]["role"] == "doctor"


async def test_django_decorators_see_the_token_user(
    client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str], stack: list[str]
) -> None:
    reader = {"Authorization": f"Bearer {make_token(scope='orders:read')}"}
    writer = {"Authorization": f"Bearer {make_token(scope='orders:read orders:write')}"}
    async with client_for(stack) as client:
        account = await client.get("/account", headers=reader)
        denied = await client.post("/orders/write", headers=reader)
        allowed = await client.post("/orders/write", headers=writer)
    assert account.status_code == 200
    assert account.json()["identity"] == "alice"
    assert denied.status_code == 403  # Django's PermissionDenied: the token lacks orders:write
    assert allowed.status_code == 200
    assert allowed.json() == {"written": True}


async def test_excluded_path_reaches_django_anonymously(client_for: Callable[..., httpx.AsyncClient]) -> None:
    async with client_for([SESSIONS, AUTHENTICATION, JWT]) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["user_class"] == "AnonymousUser"  # Django's own, from AuthenticationMiddleware
    assert body["user"] == "AnonymousUser"
    assert body["authenticated"] is False
    assert body["claims"] == {}
    assert body["scopes"] == []


async def test_without_authentication_middleware_anonymous_gets_a_stand_in(
    client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    async with client_for([JWT], optional=True) as client:
        anonymous = await client.get("/orders")
        async_anonymous = await client.get("/async-orders")
        authenticated = await client.get("/orders", headers={"Authorization": f"Bearer {make_token()}"})
    assert anonymous.status_code == 200
    assert anonymous.json()["user_class"] == "DjangoAnonymousUser"
    assert anonymous.json()["authenticated"] is False
    assert anonymous.json()["anonymous"] is True
    assert anonymous.json()["claims"] == {}
    assert async_anonymous.json()["auser_identity"] == ""
    assert async_anonymous.json()["user_class"] == "DjangoAnonymousUser"
    assert authenticated.json()["user_class"] == "DjangoJWTUser"


BARE_401 = {"detail": "Not authenticated", "error": None}


async def test_django_not_wrapped_answers_401_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    app = django_app([SESSIONS, AUTHENTICATION, JWT])  # no JWTAuthMiddleware around it
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        responses = [await client.get(path) for path in ("/orders", "/async-orders", "/health")]
    for response in responses:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == BARE_401
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.name for record in errors] == ["asgi_jwt"]  # one line, ours: no 500 from django.request
    assert "wrap get_asgi_application() in asgi_jwt.JWTAuthMiddleware" in errors[0].getMessage()


@pytest.mark.parametrize("middleware", [[SESSIONS, AUTHENTICATION, JWT], [JWT, SYNC_ONLY]], ids=["full", "sync"])
def test_django_over_wsgi_answers_401_never_500(middleware: list[str], caplog: pytest.LogCaptureFixture) -> None:
    """``runserver`` and gunicorn's sync workers speak WSGI: no ASGI scope, so no verified token."""
    from django.core.wsgi import get_wsgi_application

    with override_settings(MIDDLEWARE=middleware):
        app = get_wsgi_application()
    caplog.set_level(logging.INFO)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver") as client:
        plain = client.get("/orders")
        with_token = client.get("/orders", headers={"Authorization": "Bearer a.b.c"})
        protected = client.get("/orders/write")
    for response in (plain, with_token, protected):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'
        assert response.json() == BARE_401
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.name for record in errors] == ["asgi_jwt"]  # Django logged no 500


async def test_an_auth_error_raised_in_a_view_is_answered_not_a_500(
    stack: list[str], client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    async with client_for(stack) as client:
        refused = await client.get("/refuse", headers={"Authorization": f"Bearer {make_token()}"})
        outage = await client.get("/refuse?outage=1", headers={"Authorization": f"Bearer {make_token()}"})
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", error_description="Requires reports:read", '
        'scope="reports:read"'
    )
    assert refused.json() == {"detail": "Requires reports:read", "error": "insufficient_scope"}
    assert outage.status_code == 503
    assert outage.headers["retry-after"] == "7"
    assert "www-authenticate" not in outage.headers


def test_users_speak_django() -> None:
    from asgi_jwt import JWTUser

    user = DjangoJWTUser(JWTUser({"sub": "carol", "name": "Carol"}), frozenset({"orders:read"}))
    assert (user.identity, user.display_name, str(user), user.pk) == ("carol", "Carol", "carol", None)
    assert user.has_perm("orders:read")
    assert not user.has_perms(["orders:read", "orders:write"])
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_module_perms("orders")
    anonymous = DjangoAnonymousUser()
    assert (anonymous.is_authenticated, anonymous.is_anonymous, str(anonymous)) == (False, True, "AnonymousUser")
    assert not anonymous.has_perm("orders:read")


def test_without_django_the_import_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['asgiref'] = sys.modules['asgiref.sync'] = sys.modules['django'] = None\n"
        "import asgi_jwt\n"
        "try:\n"
        "    import asgi_jwt.integrations.django\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)  # noqa: S603
    assert result.stdout.strip() == 'asgi_jwt.integrations.django needs Django: pip install "asgi-jwt[django]"'


def test_importing_the_integration_does_not_import_django() -> None:
    code = "import sys, asgi_jwt.integrations.django; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)  # noqa: S603
    assert result.stdout.strip() == "False"
