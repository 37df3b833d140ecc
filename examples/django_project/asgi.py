"""The ASGI entry point: Django's application, wrapped by JWTAuthMiddleware.

Serve it with any ASGI server, e.g. ``uvicorn django_project.asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application

from asgi_jwt import JWTAuthMiddleware, TokenVerifier

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

application = JWTAuthMiddleware(
    get_asgi_application(),
    verifier=TokenVerifier.from_env(),  # JWT_SECRET_KEY, JWT_ISSUER, JWT_AUDIENCE, ...
    exclude_paths=["/health"],  # reaches Django anonymously
)
