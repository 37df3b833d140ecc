"""The ASGI lifespan protocol, in one place: run start-up and shutdown hooks around an app.

Used by :class:`~asgi_jwt.JWTAuthMiddleware` (a verifier over a
:class:`~asgi_jwt.JWKSResolver` fetches its keys before the app starts) and by
ASGI apps of ours that have nothing of their own to start, such as
:class:`~asgi_jwt.JWKSEndpoint` served on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Hook", "answer_lifespan", "has_lifespan_hooks", "run_with_hooks"]

logger = logging.getLogger("asgi_jwt")

Hook = Callable[[], Awaitable[object]]
"""An ``async def startup()`` or ``async def shutdown()`` without arguments."""


def has_lifespan_hooks(owner: object) -> bool:
    """Whether ``owner`` has a callable ``startup`` or ``shutdown`` (checked once, at construction)."""
    return any(callable(getattr(owner, hook, None)) for hook in ("startup", "shutdown"))


async def answer_lifespan(receive: Receive, send: Send, *, shutdown: Hook | None = None) -> None:
    """Answer the server's lifespan messages for an app that does not speak lifespan itself.

    Start-up completes at once; any other message is the shutdown, after which this returns.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            continue
        if shutdown is not None:
            await shutdown()
        await send({"type": "lifespan.shutdown.complete"})
        return


async def run_with_hooks(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, startup: Hook | None, shutdown: Hook | None
) -> None:
    """Run ``startup()`` before the app sees ``lifespan.startup``, and ``shutdown()`` when the server asks.

    Every message still reaches the app unchanged. If ``startup()`` raises, the server
    gets ``lifespan.startup.failed`` and the app is never started. If the app does not
    speak lifespan at all (it returns or raises without reading the start-up message),
    we answer the server ourselves, so the hooks run anyway.
    """
    pending: Message | None = await receive()
    if pending is not None and pending["type"] == "lifespan.startup" and startup is not None:
        try:
            await startup()
        except Exception as exc:
            logger.error("start-up failed: %s", exc)
            await send({"type": "lifespan.startup.failed", "message": f"asgi-jwt start-up failed: {exc}"})
            return

    async def receive_in_turn() -> Message:
        nonlocal pending
        if pending is not None:
            message, pending = pending, None
            return message
        message = await receive()
        if message["type"] == "lifespan.shutdown" and shutdown is not None:
            await shutdown()
        return message

    try:
        await app(scope, receive_in_turn, send)
    except Exception:
        if pending is None:
            raise  # the app took part in lifespan: its failure is its own
        logger.debug("the app does not implement lifespan; answering the server for it")
    if pending is None:
        return
    await send({"type": "lifespan.startup.complete"})
    await answer_lifespan(receive, send, shutdown=shutdown)
