"""``make demo``: a Starlette app behind JWTAuthMiddleware, served by uvicorn on 127.0.0.1.

It generates a fresh ES256 key pair, mints a token with it, prints the token and
two curl commands (one gets 200, the other 401), makes both requests itself and
shows the answers, then keeps serving until Ctrl-C. With ``ASGI_JWT_DEMO_EXIT=1``
it stops after the walkthrough instead (the test suite uses that).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, KeyPair, TokenVerifier

HOST = "127.0.0.1"
ISSUER = "https://auth.example.com"
AUDIENCE = "demo-api"
STARTUP_TIMEOUT = 10.0


async def me(request: Request) -> JSONResponse:
    """What the middleware attached to the request: the user and the verified claims."""
    return JSONResponse(
        {
            "identity": request.user.identity,
            "display_name": request.user.display_name,
            "scopes": sorted(request.auth.scopes),
            "claims": dict(request.auth.claims),
        }
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "authenticated": request.user.is_authenticated})


def build_app(verifier: TokenVerifier) -> JWTAuthMiddleware:
    app = Starlette(routes=[Route("/me", me), Route("/health", health)])
    return JWTAuthMiddleware(app, verifier=verifier, exclude_paths=["/health"], realm="demo")


def mint_token(key: KeyPair) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "name": "Alice Example",
        "scope": "orders:read orders:write",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
    }
    return key.encode(claims)


def show(title: str, response: httpx.Response) -> None:
    print(f"  {title}")
    print(f"    status:           {response.status_code} {response.reason_phrase}")
    print(f"    WWW-Authenticate: {response.headers.get('www-authenticate', '(none)')}")
    print(f"    body:             {json.dumps(response.json())}")


async def wait_until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> int:
    """The port uvicorn bound (we asked for any free one), once it accepts connections."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if task.done():
            task.result()  # re-raise why the server could not start
            raise RuntimeError("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start within {STARTUP_TIMEOUT:.0f} seconds")
        await asyncio.sleep(0.02)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port


async def main() -> None:
    key = KeyPair.generate("ES256")  # fresh for every run: no secret to configure
    verifier = TokenVerifier(key, issuer=ISSUER, audience=AUDIENCE)
    config = uvicorn.Config(build_app(verifier), host=HOST, port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    port = await wait_until_started(server, task)
    url = f"http://{HOST}:{port}/me"
    token = mint_token(key)

    print("asgi-jwt demo: a Starlette app protected by JWTAuthMiddleware, served by uvicorn")
    print(f"  listening on http://{HOST}:{port} with a freshly generated {key.algorithm} key (kid {key.kid})")
    print()
    print("A valid token (sub=alice, scope 'orders:read orders:write', expires in one hour):")
    print(f"  {token}")
    print()
    print("With the token (expect 200):")
    print(f'  curl -i -H "Authorization: Bearer {token}" {url}')
    print("Without a token (expect 401):")
    print(f"  curl -i {url}")
    print()
    print("Trying both now:")
    sys.stdout.flush()
    async with httpx.AsyncClient(timeout=10) as client:
        show("GET /me with the token", await client.get(url, headers={"Authorization": f"Bearer {token}"}))
        sys.stdout.flush()  # the rejection log line goes to stderr between the two answers
        show("GET /me without a token", await client.get(url))
    print()
    sys.stdout.flush()

    if os.environ.get("ASGI_JWT_DEMO_EXIT") == "1":
        server.should_exit = True
        await task
        print("ASGI_JWT_DEMO_EXIT=1: stopping after the walkthrough.", flush=True)
        return
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # from now on, show each request
    print(f"Serving on http://{HOST}:{port} until you press Ctrl-C.", flush=True)
    await task


if __name__ == "__main__":
    # One log line per rejection, with the reason and the client address (never the token).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s")
    logging.getLogger("asgi_jwt").setLevel(logging.INFO)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("\nStopped.")
