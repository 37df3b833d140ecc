"""Benchmark rows with a RedisRevocationStore: a real redis-server on a free loopback port, started once.

The store answers every check from its local mirror, so what these rows measure is the
request path with revocation on; Redis itself is only touched in the background. The
denylist is the memory-store rows' (revoked tokens, families and subjects), none of them
the tokens measured.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.common import revocations_in_use

_server: list[tuple[subprocess.Popen[bytes], str]] = []


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def local_redis() -> str:
    """The URL of this run's redis-server (no persistence), started on first use and stopped at exit."""
    if _server:
        return _server[0][1]
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([binary, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    atexit.register(_stop, process)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer on port {port}")
        time.sleep(0.02)
    url = f"redis://127.0.0.1:{port}/0"
    _server.append((process, url))
    return url


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


def redis_store() -> tuple[Any, Callable[[], Any], Callable[[], Any]]:
    """A store on this run's Redis, its ``prepare`` (load and fill the denylist) and its ``settle``.

    ``settle`` gives the event loop a few milliseconds before each batch, outside the timing, as
    a server's loop has between requests: the store's PING and its answer need the loop to run.
    """
    from asgi_jwt.redis_store import RedisRevocationStore

    store = RedisRevocationStore(local_redis(), prefix=f"bench-{uuid.uuid4().hex}:")

    async def prepare() -> None:
        await store.load()
        await revocations_in_use(store)  # the memory-store rows' denylist

    async def settle() -> None:
        await asyncio.sleep(0.005)

    return store, prepare, settle
