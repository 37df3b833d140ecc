"""Settings of a minimal Django project served over ASGI behind JWTAuthMiddleware.

An API that needs no database: tokens, not sessions, say who the caller is.
"""

SECRET_KEY = "django-insecure-example-only"  # Django's own secret, unrelated to JWT_SECRET_KEY
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_project.urls"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's AuthenticationMiddleware first: it sets a lazy request.user (session user or AnonymousUser) ...
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # ... then ours: request.jwt, request.claims, and request.user is the token's user when there is a token.
    "asgi_jwt.integrations.django.JWTRequestMiddleware",
]
