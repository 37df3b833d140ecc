"""Proof under faults: the app's JWK Set endpoint down, slow, failing, lying, huge, or a compression bomb.

``python -m benchmarks.faults`` runs a JWK Set endpoint on 127.0.0.1 that this script
controls, and for each fault starts a uvicorn app whose keys come from it
(``JWT_JWKS_URL``, a 1 s fetch timeout and a 1 s cooldown), with the endpoint broken
from the start. It sends requests with a valid token and records each answer's status,
``Retry-After`` and latency, counts the app's log lines about the keys, then repairs
the endpoint and measures how long the app takes to answer 200 on its own. The
compression bomb is measured and reported (status, latency, the worker's RSS), not
judged: bounding the inflated size is the resolver's job.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from asgi_jwt import JWKSResolver, JWTAuthMiddleware, KeyPair, TokenVerifier
from benchmarks.common import AUDIENCE, ISSUER, machine, versions
from benchmarks.e2e import RESULTS, Server
from benchmarks.soak import request, rss_mib, whoami, worker_pids

FAULTS = ("down", "slow", "500", "garbage", "huge", "gzip-bomb")
TIMEOUT = 1.0  # the app's fetch timeout, seconds
KEY = KeyPair.generate("ES256", kid="soak-1")


def app() -> Starlette:
    """``uvicorn --factory benchmarks.faults:app``: keys from ``JWT_JWKS_URL``, quick to give up and retry."""
    import os

    keys = JWKSResolver(os.environ["JWT_JWKS_URL"], timeout=TIMEOUT, cooldown=1, ttl=60, min_ttl=1)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    return Starlette(routes=[Route("/", whoami)], middleware=[Middleware(JWTAuthMiddleware, verifier=verifier)])


class KeyEndpoint:
    """A raw HTTP/1.1 JWK Set endpoint whose behaviour ``mode`` selects; ``down`` closes the port."""

    def __init__(self, bomb_mib: int) -> None:
        self.mode = "ok"
        self.port = 0
        self.server: asyncio.Server | None = None
        self.jwks = json.dumps({"keys": [KEY.to_jwk()]}).encode()
        inflated = b"\0" * (bomb_mib << 20)
        self.bomb = gzip.compress(gzip.compress(inflated, 9), 9)  # Content-Encoding: gzip, gzip

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.mode == "slow":
                await asyncio.sleep(TIMEOUT * 3)
            if self.mode == "500":
                writer.write(_head(500, b"text/plain", 21) + b"Internal Server Error")
            elif self.mode == "garbage":
                writer.write(_head(200, b"application/json", 38) + b"<html><body>Maintenance</body></html>\n")
            elif self.mode == "huge":  # no length announced: the client must stop reading by itself
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n")
                for _ in range(256):  # 16 MiB at most
                    writer.write(b" " * 65536)
                    await writer.drain()
            elif self.mode == "gzip-bomb":
                writer.write(_head(200, b"application/json", len(self.bomb), b"content-encoding: gzip, gzip\r\n"))
                writer.write(self.bomb)
            else:
                writer.write(_head(200, b"application/json", len(self.jwks)) + self.jwks)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: that is the point of several faults
        finally:
            writer.close()


def _head(status: int, content_type: bytes, length: int, extra: bytes = b"") -> bytes:
    reason = b"OK" if status == 200 else b"Internal Server Error"
    return b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n%s\r\n" % (
        status,
        reason,
        content_type,
        length,
        extra,
    )


async def phase(endpoint: KeyEndpoint, fault: str, requests: int) -> dict[str, Any]:
    """Start an app against the broken endpoint, load it, repair the endpoint, wait for recovery."""
    token = str(KEY.encode({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}))
    endpoint.mode = fault
    if fault == "down":
        await endpoint.stop()
    with tempfile.TemporaryFile() as log:
        env = {"JWT_JWKS_URL": f"http://127.0.0.1:{endpoint.port}/jwks"}
        server = Server("benchmarks.faults:app", http="h11", loop="asyncio", env=env, stderr=log)
        try:
            await asyncio.to_thread(server.wait_ready)
            pid = worker_pids(server.process.pid)[0]
            rss_before = rss_mib(pid)
            answers = []
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            for _ in range(requests):
                start = time.monotonic()
                status, headers, _ = await request(reader, writer, token)
                answers.append((status, headers.get("retry-after"), time.monotonic() - start))
                await asyncio.sleep(0.25)
            rss_after = rss_mib(pid, "VmHWM")
            endpoint.mode = "ok"
            if endpoint.server is None:
                await endpoint.start()
            repaired = time.monotonic()
            recovered = None
            while time.monotonic() - repaired < 30:
                status, _, _ = await request(reader, writer, token)
                if status == 200:
                    recovered = time.monotonic() - repaired
                    break
                await asyncio.sleep(0.2)
            writer.close()
        finally:
            server.stop()
        log.seek(0)
        lines = [line for line in log.read().decode(errors="replace").splitlines() if "JWK Set" in line]
    statuses = sorted({status for status, _, _ in answers})
    return {
        "fault": fault,
        "statuses": statuses,
        "retry_after": sorted({value for _, value, _ in answers if value is not None}),
        "all_have_retry_after": all(value is not None for status, value, _ in answers if status == 503),
        "max_latency_s": round(max(latency for _, _, latency in answers), 2),
        "log_lines": len(lines),
        "log": [line[:240] for line in lines[:20]],
        "recovered_after_s": None if recovered is None else round(recovered, 2),
        "rss_before_mib": round(rss_before, 1),
        "rss_peak_mib": round(rss_after, 1),
    }


async def run(faults: Sequence[str], requests: int, bomb_mib: int) -> list[dict[str, Any]]:
    endpoint = KeyEndpoint(bomb_mib)
    await endpoint.start()
    try:
        return [await phase(endpoint, fault, requests) for fault in faults]
    finally:
        await endpoint.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12, help="requests per fault, 0.25 s apart (default 12)")
    parser.add_argument("--bomb-mib", type=int, default=64, help="what the gzip bomb inflates to (default 64 MiB)")
    parser.add_argument("--only", choices=FAULTS, action="append", help="run only this fault (repeatable)")
    parser.add_argument("--json", type=Path, default=RESULTS / "faults.json", help="where to write the results")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 200 or not 1 <= args.bomb_mib <= 1024:
        parser.error("--requests must be in [1, 200], --bomb-mib in [1, 1024]")
    rows = asyncio.run(run(args.only or FAULTS, args.requests, args.bomb_mib))
    document = {
        "benchmark": "faults: a broken JWK Set endpoint behind a uvicorn app on 127.0.0.1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"requests": args.requests, "bomb_mib": args.bomb_mib, "timeout_s": TIMEOUT},
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print("| fault | statuses | Retry-After | max latency | log lines | recovered after | worker RSS after start-up |")
    print("|---|---|---|---:|---:|---:|---:|")
    failed = []
    for row in rows:
        recovered = "never" if row["recovered_after_s"] is None else f"{row['recovered_after_s']} s"
        print(
            f"| {row['fault']} | {row['statuses']} | {row['retry_after']} | {row['max_latency_s']} s"
            f" | {row['log_lines']} | {recovered} | {row['rss_before_mib']} (peak {row['rss_peak_mib']}) MiB |"
        )
        judged = row["fault"] != "gzip-bomb"
        if judged and (row["statuses"] != [503] or not row["all_have_retry_after"] or row["recovered_after_s"] is None):
            failed.append(row["fault"])
    print(f"JSON: {args.json}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (wanted only 503 with Retry-After, then recovery)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
