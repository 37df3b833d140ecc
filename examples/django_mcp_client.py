"""A Django view that calls a tool on a protected MCP server, authenticated with BearerAuth.

The reports site (Django) asks the posts MCP server for its posts. The MCP server
only accepts tokens for its own resource URI (``aud``); the site mints them with
the shared key and sends them through the MCP SDK's own client, which runs on
``httpx2``: ``BearerAuth.httpx2()`` is the same auth for that client::

    pip install "asgi-jwt" django mcp
    MCP_URL=http://127.0.0.1:8000/mcp JWT_SECRET_KEY=... python examples/django_mcp_client.py

Single-file Django: settings, the view and its URL are all here; running the file
calls the view once through Django's test client and prints its answer.
"""

from __future__ import annotations

import os
from typing import Any

import django
import httpx2
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
    ROOT_URLCONF=__name__,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-django-secret"),
    INSTALLED_APPS=[],
)
django.setup()

from django.http import HttpRequest, JsonResponse  # noqa: E402  (after settings)
from django.urls import path  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from asgi_jwt import BearerAuth, SecretKey, TokenIssuer  # noqa: E402

MCP_URL = os.environ.get("MCP_URL", "http://127.0.0.1:8000/mcp")  # the server's resource URI: the tokens' aud

# Minted here, reused until a minute before they expire, shared by every request the site serves.
mcp_auth = BearerAuth(
    issuer=TokenIssuer(SecretKey(os.environ["JWT_SECRET_KEY"]), issuer="https://reports.example.com"),
    subject="reports-site",
    audience=MCP_URL,
    scope="read:posts",
).httpx2()  # the MCP SDK 2.x client runs on httpx2


async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
    async with (
        httpx2.AsyncClient(auth=mcp_auth, timeout=30) as http,
        streamable_http_client(MCP_URL, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool(name, arguments)
    if result.is_error:
        raise RuntimeError(f"the {name} tool failed")
    return result.structured_content


async def posts_report(request: HttpRequest) -> JsonResponse:
    """An async Django view: the MCP call does not hold a worker thread while it waits."""
    posts = await call_tool("list_posts", {})
    return JsonResponse({"posts": posts})


urlpatterns = [path("report/", posts_report)]

if __name__ == "__main__":
    from django.test import Client

    response = Client().get("/report/")
    print(response.status_code, response.json())
