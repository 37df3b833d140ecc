"""Plain ASGI: no framework at all, just ``scope["user"]`` and ``scope["auth"]``."""

import json
import os

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    user = scope["user"]  # JWTUser: .identity, .display_name, .is_authenticated, .claims
    auth = scope["auth"]  # JWTAuth: .claims, .scopes, .token
    body = json.dumps({"hello": user.identity, "admin": "admin" in auth.scopes}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


verifier = TokenVerifier(SecretKey(os.environ["JWT_SECRET_KEY"]), audience="hello-service")
app = JWTAuthMiddleware(hello, verifier=verifier)
