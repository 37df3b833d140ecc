"""Proof under faults: the Redis behind a RedisRevocationStore stopped, or frozen with SIGSTOP.

``python -m benchmarks.redis_faults`` starts a redis-server on a free 127.0.0.1 port and a
uvicorn app whose verifier asks a RedisRevocationStore (a 1 s staleness bound, a 0.25 s
health interval). For each fault it sends requests with a valid token at a steady pace,
each on a new connection with a client timeout: before the fault (200 expected), during
it (503 with ``Retry-After`` once the mirror is older than the staleness bound; 200 only
inside that bound) and after the repair (restart, or SIGCONT), until the app answers 200
again. It counts the ``asgi_jwt`` log lines written during the fault (one is expected)
and after the repair. The run fails on any answer but 200 before and after, any 5xx
but 503, a 503 without ``Retry-After``, an answer slower than the client timeout, more
or fewer than one log line, or no 200 within 20 s of the repair.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from starlette.applications import Starlette
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier
from asgi_jwt.redis_store import RedisRevocationStore
from benchmarks.common import AUDIENCE, ISSUER, SECRET, machine, versions
from benchmarks.e2e import RESULTS, Server
from benchmarks.soak import request, whoami

FAULTS = ("stopped", "frozen")
STALENESS = 1.0  # the store's max_staleness, seconds
PACE = 0.2  # seconds between requests
CLIENT_TIMEOUT = 5.0  # an answer slower than this is a hang


def app() -> JWTAuthMiddleware:
    """``uvicorn --factory benchmarks.redis_faults:app``: revocation from ``REDIS_URL``, its log on stderr.

    The ``asgi_jwt`` logger at WARNING, as in production (not one INFO line per refused request),
    the store's own logger at INFO so that its "reachable again" line shows too.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logging.getLogger("asgi_jwt").addHandler(handler)
    logging.getLogger("asgi_jwt").setLevel(logging.WARNING)
    logging.getLogger("asgi_jwt.revocation").setLevel(logging.INFO)
    store = RedisRevocationStore(os.environ["REDIS_URL"], max_staleness=STALENESS, health_interval=0.25)
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, revocation=store)
    return JWTAuthMiddleware(Starlette(routes=[Route("/", whoami)]), verifier=verifier)


class Redis:
    """One redis-server without persistence on a fixed free port, so that a restart keeps the URL."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
        self.binary = binary
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(  # noqa: S603 - the redis-server found on the PATH
            [self.binary, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
            connection.settimeout(0.2)
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def ask(port: int, token: str) -> tuple[int | None, str | None, float]:
    """(status or None for a hang, Retry-After, seconds) of one request on a new connection."""
    start = time.monotonic()

    async def once() -> tuple[int, dict[str, str], bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await request(reader, writer, token)
        finally:
            writer.close()

    try:
        status, headers, _ = await asyncio.wait_for(once(), CLIENT_TIMEOUT)
    except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError):
        return None, None, time.monotonic() - start
    return status, headers.get("retry-after"), time.monotonic() - start


def _lines(log: IO[bytes], start: int, end: int | None = None) -> list[str]:
    log.flush()
    log.seek(start)
    text = log.read() if end is None else log.read(end - start)
    return [line for line in text.decode(errors="replace").splitlines() if line.startswith("asgi_jwt")]


async def phase(fault: str, token: str, before: int, during: float) -> dict[str, Any]:
    """Healthy requests, the fault for ``during`` seconds, the repair, then requests until a 200."""
    redis = Redis()
    redis.start()
    with tempfile.TemporaryFile() as log:
        server = Server(
            "benchmarks.redis_faults:app", http="h11", loop="asyncio", env={"REDIS_URL": redis.url}, stderr=log
        )
        try:
            await asyncio.to_thread(server.wait_ready)
            for _ in range(int(10 / PACE)):  # bounded: the mirror's first snapshot
                if (await ask(server.port, token))[0] == 200:
                    break
                await asyncio.sleep(PACE)
            healthy = []
            for _ in range(before):
                healthy.append(await ask(server.port, token))
                await asyncio.sleep(PACE)
            log_start = os.fstat(log.fileno()).st_size
            if fault == "stopped":
                redis.stop()
            else:
                redis.signal(signal.SIGSTOP)
            broken = time.monotonic()
            answers = []
            while time.monotonic() - broken < during:
                status, retry_after, latency = await ask(server.port, token)
                answers.append((time.monotonic() - broken, status, retry_after, latency))
                await asyncio.sleep(PACE)
            log_end = os.fstat(log.fileno()).st_size
            if fault == "stopped":
                redis.start()
            else:
                redis.signal(signal.SIGCONT)
            repaired = time.monotonic()
            recovered = None
            after = []
            while time.monotonic() - repaired < 20:
                status, retry_after, latency = await ask(server.port, token)
                after.append((status, retry_after, latency))
                if status == 200:
                    recovered = time.monotonic() - repaired
                    break
                await asyncio.sleep(PACE)
        finally:
            server.stop()
            redis.stop()
        during_log = _lines(log, log_start, log_end)
        after_log = _lines(log, log_end)
    # Inside the staleness bound (plus a health interval and some scheduling slack) 200 is still right.
    settled = [(status, value) for at, status, value, _ in answers if at > STALENESS + 0.75]
    every = [(status, value, latency) for _, status, value, latency in answers] + healthy + after
    return {
        "fault": fault,
        "before": sorted({str(status) for status, _, _ in healthy}),
        "during": sorted({str(status) for _, status, _, _ in answers}),
        "after_staleness": sorted({str(status) for status, _ in settled}),
        "repair": [str(status) for status, _, _ in after],
        "first_503_after_s": next((round(at, 2) for at, status, _, _ in answers if status == 503), None),
        "retry_after": sorted({value for _, _, value, _ in answers if value is not None}),
        "all_503_have_retry_after": all(value is not None for status, value, _ in every if status == 503),
        "max_latency_s": round(max(latency for _, _, latency in every), 3),
        "hangs": sum(1 for status, _, _ in every if status is None),
        "log_lines_during": len(during_log),
        "log_lines_after": len(after_log),
        "log": [line[:240] for line in (during_log + after_log)[:20]],
        "recovered_after_s": None if recovered is None else round(recovered, 2),
    }


def failures(row: dict[str, Any]) -> list[str]:
    """What in one row breaks the expectations: 200 before, 503 + Retry-After during, 200 after, no hang."""
    wrong = []
    if row["before"] != ["200"]:
        wrong.append(f"before the fault {row['before']}")
    if not set(row["during"]) <= {"200", "503"} or row["after_staleness"] != ["503"]:
        wrong.append(f"during the fault {row['during']} (after the staleness bound {row['after_staleness']})")
    if not set(row["repair"]) <= {"200", "503"}:
        wrong.append(f"after the repair {row['repair']}")
    if not row["all_503_have_retry_after"]:
        wrong.append("a 503 without Retry-After")
    if row["hangs"]:
        wrong.append(f"{row['hangs']} answers slower than {CLIENT_TIMEOUT} s")
    if row["log_lines_during"] != 1:
        wrong.append(f"{row['log_lines_during']} log lines during the fault, not one")
    if row["recovered_after_s"] is None:
        wrong.append("no 200 within 20 s of the repair")
    return wrong


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=int, default=5, help=f"healthy requests first, {PACE} s apart (default 5)")
    parser.add_argument("--during", type=float, default=5.0, help="seconds of the fault (default 5)")
    parser.add_argument("--only", choices=FAULTS, action="append", help="run only this fault (repeatable)")
    parser.add_argument("--json", type=Path, default=RESULTS / "redis_faults.json", help="where to write the results")
    args = parser.parse_args(argv)
    if not 1 <= args.before <= 100 or not STALENESS + 1 < args.during <= 30:
        parser.error(f"--before must be in [1, 100], --during in ({STALENESS + 1}, 30]")
    token = SecretKey(SECRET).encode({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600})

    async def run() -> list[dict[str, Any]]:
        return [await phase(fault, str(token), args.before, args.during) for fault in args.only or FAULTS]

    rows = asyncio.run(run())
    document = {
        "benchmark": "redis faults: the Redis behind a RedisRevocationStore stopped or frozen, on 127.0.0.1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"before": args.before, "during_s": args.during, "max_staleness_s": STALENESS, "pace_s": PACE},
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print("| fault | before | during | first 503 | after the staleness bound | Retry-After | slowest", end="")
    print(" | log lines | 200 again after |")
    print("|---|---|---|---:|---|---|---:|---:|---:|")
    failed = []
    for row in rows:
        recovered = "never" if row["recovered_after_s"] is None else f"{row['recovered_after_s']} s"
        print(
            f"| {row['fault']} | {row['before']} | {row['during']} | {row['first_503_after_s']} s"
            f" | {row['after_staleness']} | {row['retry_after']}"
            f" | {row['max_latency_s']} s | {row['log_lines_during']} (+{row['log_lines_after']}) | {recovered} |"
        )
        failed += [f"{row['fault']}: {reason}" for reason in failures(row)]
    print(f"JSON: {args.json}")
    for reason in failed:
        print(f"FAILED: {reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
