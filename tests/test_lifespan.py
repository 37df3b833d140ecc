"""The lifespan helpers: hooks around an app, and the answers for an app that has nothing to start."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from asgi_jwt.lifespan import answer_lifespan, has_lifespan_hooks, run_with_hooks


class Server:
    """The server side of the lifespan protocol: start-up, then shutdown, recording what it is sent."""

    def __init__(self) -> None:
        self.inbox: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return self.inbox.pop(0)

    async def send(self, message: Message) -> None:
        self.sent.append(message)


async def test_answer_lifespan_completes_both_steps_and_runs_the_shutdown_hook() -> None:
    server, calls = Server(), []

    async def shutdown() -> None:
        calls.append("shutdown")

    await answer_lifespan(server.receive, server.send, shutdown=shutdown)
    assert server.sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert calls == ["shutdown"]


async def test_hooks_run_around_an_app_that_speaks_lifespan() -> None:
    server, calls = Server(), []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((await receive())["type"])
        await send({"type": "lifespan.startup.complete"})
        calls.append((await receive())["type"])
        await send({"type": "lifespan.shutdown.complete"})

    async def startup() -> None:
        calls.append("startup hook")

    async def shutdown() -> None:
        calls.append("shutdown hook")

    await run_with_hooks(app, {"type": "lifespan"}, server.receive, server.send, startup=startup, shutdown=shutdown)
    assert calls == ["startup hook", "lifespan.startup", "shutdown hook", "lifespan.shutdown"]
    assert server.sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_a_failing_startup_hook_fails_the_start_up_and_never_starts_the_app() -> None:
    server, started = Server(), []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.append(True)

    async def startup() -> None:
        raise RuntimeError("keys unreachable")

    await run_with_hooks(app, {"type": "lifespan"}, server.receive, server.send, startup=startup, shutdown=None)
    assert server.sent == [{"type": "lifespan.startup.failed", "message": "asgi-jwt start-up failed: keys unreachable"}]
    assert started == []


def test_has_lifespan_hooks() -> None:
    class Hooked:
        async def startup(self) -> None: ...

    assert has_lifespan_hooks(Hooked())
    assert not has_lifespan_hooks(object())
