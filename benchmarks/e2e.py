"""End to end: each app behind uvicorn on 127.0.0.1, loaded for a bounded time, req/s against the bare app.

``python -m benchmarks.e2e`` starts one uvicorn process per app (the bare Starlette app,
asgi-jwt with a repeated HS256 token, and the minimal hand-written PyJWT middleware,
without and with a dict of verified tokens),
then loads them in interleaved rounds with ``wrk`` when it is installed (Debian: ``apt-get
install wrk``) or else with an async httpx client, and reports the median requests per
second of each as a ratio to the bare app's. Only 127.0.0.1 is ever contacted, and every
load run stops after ``--duration`` seconds.

An httpx client in Python is slower than the servers it loads, so with it the ratios
understate the difference between apps; ``wrk`` measures the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from starlette.applications import Starlette

from asgi_jwt import SecretKey, TokenVerifier
from benchmarks import apps
from benchmarks.common import AUDIENCE, ISSUER, SECRET, Tokens, bare_app, machine, versions

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
APPS = {
    "bare Starlette app": "bare",
    "asgi-jwt HS256, repeated token": "ours",
    "minimal PyJWT middleware, HS256": "minimal",
    "minimal PyJWT middleware + dict of verified tokens": "minimal_dict",
}
BARE = "bare Starlette app"


# App factories for ``uvicorn --factory``: each server process builds its own app.


def bare() -> Starlette:
    return bare_app()


def ours() -> Starlette:
    return apps.asgi_jwt_app(TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE))


def minimal() -> Starlette:
    return apps.minimal_pyjwt_app(SECRET, "HS256")


def minimal_dict() -> Starlette:
    return apps.minimal_pyjwt_app(SECRET, "HS256", remember=True)


class Server:
    """One uvicorn process on a free 127.0.0.1 port, stopped on exit."""

    def __init__(
        self,
        factory: str,
        *,
        http: str,
        loop: str,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        stderr: IO[bytes] | None = None,
    ) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            factory if ":" in factory else f"benchmarks.e2e:{factory}",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--http",
            http,
            "--loop",
            loop,
            *(["--workers", str(workers)] if workers > 1 else []),
        ]
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        environ = {**os.environ, **(env or {}), "PYTHONPATH": path}
        self.process = subprocess.Popen(command, cwd=ROOT, env=environ, stderr=stderr)  # noqa: S603
        self.url = f"http://127.0.0.1:{self.port}/"

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with status {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"uvicorn did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def load_with_wrk(url: str, token: str, *, duration: float, connections: int) -> tuple[int, int, float]:
    """(requests, non-2xx answers, seconds) from one ``wrk`` run with one thread."""
    seconds = max(1, round(duration))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout  # noqa: S603
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    elapsed = re.search(r"requests in ([\d.]+)(ms|s|m)", output)
    assert elapsed is not None, output
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[elapsed.group(2)]
    return requests, int(errors.group(1)) if errors else 0, float(elapsed.group(1)) * scale


def load_with_httpx(url: str, token: str, *, duration: float, connections: int) -> tuple[int, int, float]:
    """(requests, non-200 answers, seconds) from ``connections`` client tasks looping until the deadline."""
    import httpx

    async def main() -> tuple[int, int, float]:
        counts = [0, 0]
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
            start = time.perf_counter()
            deadline = start + duration

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    response = await client.get(url, headers=headers)
                    counts[0] += 1
                    if response.status_code != 200:
                        counts[1] += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
            return counts[0], counts[1], time.perf_counter() - start

    return asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per app per round (default 5)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto", help="load generator")
    parser.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, uvloop)")
    parser.add_argument("--json", type=Path, default=RESULTS / "e2e.json", help="where to write the results")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 60 or not 1 <= args.rounds <= 20 or not 1 <= args.connections <= 256:
        parser.error("--duration must be in (0, 60], --rounds in [1, 20], --connections in [1, 256]")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    if client == "httpx":
        print(
            "load generator: httpx (install wrk for ratios that measure the servers, not the client)", file=sys.stderr
        )
    load = load_with_wrk if client == "wrk" else load_with_httpx
    token = Tokens(SecretKey(SECRET)).repeated
    samples: dict[str, list[float]] = {name: [] for name in APPS}
    totals = {name: [0, 0] for name in APPS}
    with ExitStack() as stack:
        servers = {}
        for name, factory in APPS.items():
            server = Server(factory, http=args.http, loop=args.loop)
            stack.callback(server.stop)
            servers[name] = server
        for server in servers.values():
            server.wait_ready()
        for server in servers.values():  # warm-up: imports, first requests, the cache entry
            load(server.url, token, duration=min(1.0, args.duration), connections=args.connections)
        order = list(APPS)
        shuffle = random.Random(5)
        for round_index in range(args.rounds):
            shuffle.shuffle(order)
            for name in order:
                requests, errors, elapsed = load(
                    servers[name].url, token, duration=args.duration, connections=args.connections
                )
                samples[name].append(requests / elapsed)
                totals[name][0] += requests
                totals[name][1] += errors
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    document: dict[str, Any] = {
        "benchmark": "uvicorn on 127.0.0.1, interleaved rounds, median req/s",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "client": client,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "http": args.http,
            "loop": args.loop,
        },
        "rows": [
            {
                "name": name,
                "requests_per_s": round(medians[name], 1),
                "ratio": round(medians[name] / medians[BARE], 3),
                "samples": [round(value, 1) for value in samples[name]],
                "requests": totals[name][0],
                "errors": totals[name][1],
            }
            for name in APPS
        ],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print("| app over uvicorn (one GET, trivial endpoint) | req/s (median) | rounds (min-max) | × bare Starlette |")
    print("|---|---:|---:|---:|")
    for row in document["rows"]:
        spread = f"{min(row['samples']):.0f}-{max(row['samples']):.0f}"
        print(f"| {row['name']} | {row['requests_per_s']:.0f} | {spread} | {row['ratio']:.2f}× |")
    settings = document["settings"]
    print(f"\n{client}, {settings['connections']} connections, {args.rounds} rounds of {args.duration:g} s per app.")
    ours_ratio = document["rows"][1]["ratio"]
    print(f"- end to end ≥ 0.9× bare: {ours_ratio:.2f}× {'met' if ours_ratio >= 0.9 else 'MISSED'}")
    failed = [row["name"] for row in document["rows"] if row["errors"]]
    if failed:
        print(f"errors (non-200 answers) from: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
