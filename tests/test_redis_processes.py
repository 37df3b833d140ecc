"""Two uvicorn processes serving examples/redis_revocation.py against one real redis-server.

What a user of several workers sees: a logout on one worker is refused by the other within a
second; Redis stopped, frozen (SIGSTOP) or out of reach gives 503 with Retry-After in bounded
time, never a hang; both recover by themselves, with whatever was revoked meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgi_jwt import SecretKey
from redis_support import Proxy, RedisServer, free_port, redis_proxy, redis_server, wait_for

__all__ = ["redis_proxy", "redis_server"]  # fixtures

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "example-secret-that-is-long-enough-for-hs256"
CLIENT_TIMEOUT = 5.0  # a request still unanswered after this is a hung request: the test fails


def mint(**claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": "https://auth.example.com", "aud": "orders-api", "iat": now, "exp": now + 300}
    return SecretKey(SECRET).encode({**payload, "jti": uuid.uuid4().hex, **claims})


class Worker:
    """One uvicorn process running the example; its log goes to a file shown when it fails to start."""

    def __init__(self, redis_url: str, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "uvicorn", "redis_revocation:app", "--app-dir", str(EXAMPLES)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--lifespan", "on"]
        env = {**os.environ, "REDIS_URL": redis_url, "JWT_SECRET_KEY": SECRET}
        with log.open("wb") as output:
            self.process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
        self.http = httpx.Client(base_url=self.base, timeout=CLIENT_TIMEOUT)

    def started(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"uvicorn exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            return self.http.get("/orders").status_code == 401
        except httpx.TransportError:
            return False

    def get(self, token: str) -> httpx.Response:
        return self.http.get("/orders", headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str, token: str) -> httpx.Response:
        return self.http.post(path, headers={"Authorization": f"Bearer {token}"})

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., list[Worker]]]:
    started: list[Worker] = []

    def start(*urls: str) -> list[Worker]:
        batch = [Worker(url, tmp_path / f"uvicorn-{len(started) + index}.log") for index, url in enumerate(urls)]
        started.extend(batch)
        for worker in batch:
            wait_for(worker.started, timeout=30, what=f"uvicorn on port {worker.port}")
        return batch

    yield start
    for worker in started:
        worker.stop()


def status_within(worker: Worker, token: str, status: int, timeout: float) -> httpx.Response:
    """Poll until ``worker`` answers ``token`` with ``status``; each request itself is bounded by the client."""
    answers: list[httpx.Response] = []

    def answered() -> httpx.Response | None:
        answers.append(worker.get(token))
        return answers[-1] if answers[-1].status_code == status else None

    return wait_for(answered, timeout=timeout, what=f"{status} from port {worker.port}", step=0.05)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["detail"] == "Token revocation status is temporarily unavailable"


def test_a_logout_on_one_worker_is_refused_by_the_other_within_a_second(
    redis_server: RedisServer, workers: Callable[..., list[Worker]]
) -> None:
    first, second = workers(redis_server.url, redis_server.url)
    token, other = mint(), mint()
    for worker in (first, second):
        assert worker.get(token).status_code == 200
        assert worker.get(token).status_code == 200  # now a cache hit: still checked
    assert first.post("/logout", token).status_code == 204
    assert first.get(token).status_code == 401  # this worker: at once
    refused = status_within(second, token, 401, timeout=1.0)
    assert refused.json() == {"detail": "Token has been revoked", "error": "invalid_token"}
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert second.get(other).status_code == 200  # only that token
    assert second.post("/logout/everywhere", other).status_code == 204
    status_within(first, other, 401, timeout=1.0)


def test_redis_stopped_gives_503_on_both_then_both_recover(
    redis_server: RedisServer, workers: Callable[..., list[Worker]]
) -> None:
    first, second = workers(redis_server.url, redis_server.url)
    token = mint()
    assert first.get(token).status_code == second.get(token).status_code == 200
    redis_server.stop()
    for worker in (first, second):
        assert_unavailable(status_within(worker, token, 503, timeout=5.0))
    redis_server.start()
    for worker in (first, second):
        status_within(worker, token, 200, timeout=10.0)


def test_redis_frozen_gives_503_within_five_seconds_and_no_hung_request(
    redis_server: RedisServer, workers: Callable[..., list[Worker]]
) -> None:
    first, second = workers(redis_server.url, redis_server.url)
    token = mint()
    assert first.get(token).status_code == second.get(token).status_code == 200
    redis_server.freeze()
    try:
        for worker in (first, second):
            assert_unavailable(status_within(worker, token, 503, timeout=5.0))
        for worker in (first, second):  # and it stays a prompt 503 while Redis hangs
            assert_unavailable(worker.get(mint()))
    finally:
        redis_server.thaw()
    for worker in (first, second):
        status_within(worker, token, 200, timeout=10.0)


def test_a_worker_cut_off_from_redis_sees_what_was_revoked_meanwhile(
    redis_server: RedisServer, redis_proxy: Proxy, workers: Callable[..., list[Worker]]
) -> None:
    connected, cut_off = workers(redis_server.url, redis_proxy.url)
    token = mint()
    assert connected.get(token).status_code == cut_off.get(token).status_code == 200
    redis_proxy.cut()
    assert_unavailable(status_within(cut_off, token, 503, timeout=5.0))
    assert connected.post("/logout", token).status_code == 204
    assert connected.get(mint()).status_code == 200  # the rest of the fleet is unaffected
    redis_proxy.restore()
    refused = status_within(cut_off, token, 401, timeout=10.0)
    assert refused.json()["detail"] == "Token has been revoked"
    assert cut_off.get(mint()).status_code == 200
