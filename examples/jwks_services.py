"""Two services: ``issuer`` signs RS256 tokens and publishes its public keys; ``api`` verifies them.

See it work in one command (both services on 127.0.0.1, a token minted by the
issuer, the API answering 200 with it and 401 without, then both stop)::

    python examples/jwks_services.py

Or run each service under its own uvicorn and call them with curl::

    uvicorn examples.jwks_services:issuer --port 8001
    JWKS_URL=http://127.0.0.1:8001/.well-known/jwks.json uvicorn examples.jwks_services:api --port 8000
    curl -s -X POST 'http://127.0.0.1:8001/token?sub=alice'   # {"access_token": "eyJ...", ...}
    curl -i -H "Authorization: Bearer <the access_token>" http://127.0.0.1:8000/orders

The API fetches the keys when it starts (``JWTAuthMiddleware`` runs the warm-up on the
lifespan start-up event) and reports whether it has them at ``/health/ready``. The
issuer signs with PyJWT, as any issuer might: the API needs nothing but the published
keys. In a real issuer the key comes from a file or a secret store, and tokens from a
login flow, never from an open ``/token`` endpoint like this one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import httpx
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWKSEndpoint, JWKSResolver, JWTAuthMiddleware, KeyPair, TokenVerifier

ISSUER = "https://issuer.example.com"
AUDIENCE = "orders-api"
TOKEN_LIFETIME = 600
STARTUP_TIMEOUT = 10.0

# --- the issuer: signs tokens and publishes the public half of its signing key
signing_key = KeyPair.generate("RS256")  # kid: the key's RFC 7638 thumbprint
PRIVATE_PEM = signing_key.private_pem()


def mint(subject: str) -> str:
    """An access token for ``subject``, signed with PyJWT: any JOSE library's tokens verify the same way."""
    now = int(time.time())
    claims = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + TOKEN_LIFETIME}
    return jwt.encode(claims, PRIVATE_PEM, algorithm="RS256", headers={"kid": signing_key.kid})


async def token(request: Request) -> JSONResponse:
    """Stands in for a login flow: a token for whoever is named in ``?sub=``. Never deploy this."""
    subject = request.query_params.get("sub", "")
    if not subject:
        return JSONResponse({"error": "invalid_request", "error_description": "sub is required"}, status_code=400)
    return JSONResponse({"access_token": mint(subject), "token_type": "Bearer", "expires_in": TOKEN_LIFETIME})


issuer = Starlette(
    routes=[Route("/.well-known/jwks.json", JWKSEndpoint(signing_key)), Route("/token", token, methods=["POST"])]
)


# --- the API: verifies the issuer's tokens with the keys it publishes
async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.identity, "orders": []})


def build_api(jwks_url: str) -> JWTAuthMiddleware:
    keys = JWKSResolver(jwks_url)

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": keys.ready}, status_code=200 if keys.ready else 503)

    return JWTAuthMiddleware(
        Starlette(routes=[Route("/orders", orders), Route("/health/ready", ready)]),
        verifier=TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE),
        exclude_paths=["/health"],
    )


api = build_api(os.environ.get("JWKS_URL", "http://127.0.0.1:8001/.well-known/jwks.json"))


# --- `python examples/jwks_services.py`: both services, one token, two calls
def _listen() -> socket.socket:
    """A socket on a free loopback port, bound now so the URL is known before the server starts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def _serve(app: JWTAuthMiddleware | Starlette, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if task.done():
            task.result()  # re-raise why it could not start
            raise RuntimeError("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start within {STARTUP_TIMEOUT:.0f} seconds")
        await asyncio.sleep(0.02)
    return server, task


async def main() -> None:
    issuer_socket, api_socket = _listen(), _listen()
    issuer_url = f"http://127.0.0.1:{issuer_socket.getsockname()[1]}"
    api_url = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
    started = [await _serve(issuer, issuer_socket)]  # first: the API fetches its keys when it starts
    started.append(await _serve(build_api(f"{issuer_url}/.well-known/jwks.json"), api_socket))
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            minted = await client.post(f"{issuer_url}/token", params={"sub": "alice"})
            access_token = minted.json()["access_token"]
            print(f"POST {issuer_url}/token?sub=alice -> a token signed with key {signing_key.kid}")
            with_token = await client.get(f"{api_url}/orders", headers={"Authorization": f"Bearer {access_token}"})
            print(f"GET {api_url}/orders with the token -> {with_token.status_code} {with_token.text}")
            without = await client.get(f"{api_url}/orders")
            print(f"GET {api_url}/orders without a token -> {without.status_code} {without.text}")
    finally:
        for server, task in reversed(started):
            server.should_exit = True
            await task


if __name__ == "__main__":
    asyncio.run(main())
