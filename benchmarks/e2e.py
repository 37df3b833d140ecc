"""End to end: each app behind uvicorn on 127.0.0.1, loaded for a bounded time, req/s against the bare app.

``python -m benchmarks.e2e`` starts one uvicorn server per app (``--workers`` processes
each: the bare Starlette app, asgi-jwt, the minimal hand-written PyJWT middleware without
and with a dict of verified tokens, and Starlette's ``AuthenticationMiddleware`` with a
PyJWT backend), then loads them in interleaved rounds with ``wrk`` when it is installed
(Debian: ``apt-get install wrk``) or else with an async httpx client, and reports the
median requests per second of each as a ratio to the bare app's. With ``--tokens hot``
every request carries one repeated token; with ``--tokens cold`` every request carries a
token that server has never seen (minted before the run, ``--cold-tokens`` of them, and
never sent twice to one server). Only 127.0.0.1 is ever contacted, and every load run
stops after ``--duration`` seconds.

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
import tempfile
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
    "asgi-jwt HS256": "ours",
    "minimal PyJWT middleware, HS256": "minimal",
    "minimal PyJWT middleware + dict of verified tokens": "minimal_dict",
    "Starlette AuthenticationMiddleware + PyJWT backend, HS256": "starlette_auth",
}
BARE = "bare Starlette app"
OURS = "asgi-jwt HS256"
# wrk sends the tokens of a file, one per request, from a given line on, and counts how many it used.
WRK_SCRIPT = """
tokens, index, first, used = {}, 0, 1, 0  -- globals: done() reads "used" through thread:get
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  first = tonumber(args[2])
  index = first - 1
end
function request()
  index = index + 1
  if index > #tokens then index = first end  -- out of tokens: reported as reused below
  used = used + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[index]})
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do io.write(string.format("tokens used: %d\\n", thread:get("used"))) end
end
"""


# App factories for ``uvicorn --factory``: each server process builds its own app.


def bare() -> Starlette:
    return bare_app()


def ours() -> Starlette:
    return apps.asgi_jwt_app(TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE))


def minimal() -> Starlette:
    return apps.minimal_pyjwt_app(SECRET, "HS256")


def minimal_dict() -> Starlette:
    return apps.minimal_pyjwt_app(SECRET, "HS256", remember=True)


def starlette_auth() -> Starlette:
    return apps.starlette_auth_app()


class TokenFeed:
    """The tokens of a run: one repeated token, or a file of never-seen ones handed out without repeats per server."""

    def __init__(self, directory: Path, *, cold: int) -> None:
        tokens = Tokens(SecretKey(SECRET))
        self.repeated = tokens.repeated
        self.fresh = tokens.fresh(cold) if cold else []
        self.path = directory / "tokens.txt"
        self.path.write_text("".join(f"{token}\n" for token in self.fresh), encoding="ascii")
        self.script = directory / "tokens.lua"
        self.script.write_text(WRK_SCRIPT, encoding="utf-8")
        self.next: dict[str, int] = {}  # per server: the first token it has not been sent

    def take(self, server: str, used: int) -> None:
        """Mark ``used`` more tokens as sent to ``server``; refuse a run that had to send one twice."""
        self.next[server] = self.next.get(server, 0) + used
        if self.next[server] > len(self.fresh):
            raise SystemExit(f"{server}: out of cold tokens after {len(self.fresh)}; raise --cold-tokens")


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

    def wait_ready(self, timeout: float = 60.0) -> None:
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


def load_with_wrk(
    url: str, feed: TokenFeed, server: str | None, *, duration: float, connections: int
) -> tuple[int, int, float]:
    """(requests, non-2xx answers, seconds) from one ``wrk`` run with one thread; cold when ``server`` is given."""
    seconds = max(1, round(duration))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    if server is None:
        command += ["-H", f"Authorization: Bearer {feed.repeated}", url]
    else:
        command += ["-s", str(feed.script), url, "--", str(feed.path), str(feed.next.get(server, 0) + 1)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout  # noqa: S603
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    elapsed = re.search(r"requests in ([\d.]+)(ms|s|m)", output)
    assert elapsed is not None, output
    if server is not None:
        used = re.search(r"tokens used: (\d+)", output)
        assert used is not None, output
        feed.take(server, int(used.group(1)))
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[elapsed.group(2)]
    return requests, int(errors.group(1)) if errors else 0, float(elapsed.group(1)) * scale


def load_with_httpx(
    url: str, feed: TokenFeed, server: str | None, *, duration: float, connections: int
) -> tuple[int, int, float]:
    """(requests, non-200 answers, seconds) from ``connections`` client tasks looping until the deadline."""
    import httpx

    async def main() -> tuple[int, int, float]:
        counts = [0, 0]
        first = 0 if server is None else feed.next.get(server, 0)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
            start = time.perf_counter()
            deadline = start + duration

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    if server is None:
                        token = feed.repeated
                    else:
                        position = first + counts[0]
                        if position >= len(feed.fresh):
                            raise SystemExit(f"{server}: out of cold tokens; raise --cold-tokens")
                        token = feed.fresh[position]
                    counts[0] += 1
                    response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
                    if response.status_code != 200:
                        counts[1] += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
            return counts[0], counts[1], time.perf_counter() - start

    result = asyncio.run(main())
    if server is not None:
        feed.take(server, result[0])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per app per round (default 5)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes per app (default 1)")
    parser.add_argument(
        "--tokens",
        choices=("hot", "cold", "both"),
        default="hot",
        help="hot: one repeated token; cold: a never-seen token on every request; both (default hot)",
    )
    parser.add_argument(
        "--cold-tokens", type=int, default=200_000, help="tokens minted for the cold runs (default 200,000)"
    )
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto", help="load generator")
    parser.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, uvloop)")
    parser.add_argument("--json", type=Path, default=RESULTS / "e2e.json", help="where to write the results")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 60 or not 1 <= args.rounds <= 20 or not 1 <= args.connections <= 256:
        parser.error("--duration must be in (0, 60], --rounds in [1, 20], --connections in [1, 256]")
    if not 1 <= args.workers <= 16 or not 1 <= args.cold_tokens <= 5_000_000:
        parser.error("--workers must be in [1, 16], --cold-tokens in [1, 5000000]")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    if client == "httpx":
        print(
            "load generator: httpx (install wrk for ratios that measure the servers, not the client)", file=sys.stderr
        )
    load = load_with_wrk if client == "wrk" else load_with_httpx
    modes = ("hot", "cold") if args.tokens == "both" else (args.tokens,)
    rows = [(name, mode) for mode in modes for name in APPS]
    samples: dict[tuple[str, str], list[float]] = {row: [] for row in rows}
    totals = {row: [0, 0] for row in rows}
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if "cold" in modes:
            print(f"minting {args.cold_tokens:,} tokens…", file=sys.stderr, flush=True)
        feed = TokenFeed(directory, cold=args.cold_tokens if "cold" in modes else 0)
        servers = {}
        for name, factory in APPS.items():
            server = Server(factory, http=args.http, loop=args.loop, workers=args.workers)
            stack.callback(server.stop)
            servers[name] = server
        for server in servers.values():
            server.wait_ready()
        for server in servers.values():  # warm-up: imports, first requests, every worker's cache entry
            load(server.url, feed, None, duration=min(1.0, args.duration), connections=args.connections)
        shuffle = random.Random(5)
        for round_index in range(args.rounds):
            shuffle.shuffle(rows)
            for name, mode in rows:
                requests, errors, elapsed = load(
                    servers[name].url,
                    feed,
                    name if mode == "cold" else None,
                    duration=args.duration,
                    connections=args.connections,
                )
                samples[name, mode].append(requests / elapsed)
                totals[name, mode][0] += requests
                totals[name, mode][1] += errors
            print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    medians = {row: statistics.median(values) for row, values in samples.items()}
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
            "workers": args.workers,
            "tokens": list(modes),
            "http": args.http,
            "loop": args.loop,
        },
        "rows": [
            {
                "name": name,
                "tokens": mode,
                "requests_per_s": round(medians[name, mode], 1),
                "ratio": round(medians[name, mode] / medians[BARE, mode], 3),
                "samples": [round(value, 1) for value in samples[name, mode]],
                "requests": totals[name, mode][0],
                "errors": totals[name, mode][1],
            }
            for mode in modes
            for name in APPS
        ],
    }
    document["targets"] = targets(document)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print("| app over uvicorn (one GET, trivial endpoint) | tokens | req/s (median) | rounds (min-max) | × bare |")
    print("|---|---|---:|---:|---:|")
    for row in document["rows"]:
        spread = f"{min(row['samples']):.0f}-{max(row['samples']):.0f}"
        print(f"| {row['name']} | {row['tokens']} | {row['requests_per_s']:.0f} | {spread} | {row['ratio']:.2f}× |")
    settings = document["settings"]
    print(
        f"\n{client}, {settings['connections']} connections, {args.workers} worker(s) per app, "
        f"{args.rounds} rounds of {args.duration:g} s per app and kind of token."
    )
    for line in document["targets"]:
        print(f"- {line}")
    failed = [f"{row['name']} ({row['tokens']})" for row in document["rows"] if row["errors"]]
    if failed:
        print(f"errors (non-200 answers) from: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nJSON: {args.json}")
    return 0


def targets(document: dict[str, Any]) -> list[str]:
    """The issue's end-to-end goals, each with the measured figure (reported, not asserted)."""
    ratio = {(row["name"], row["tokens"]): row["ratio"] for row in document["rows"]}
    lines = []
    hot = ratio.get((OURS, "hot"))
    if hot is not None:
        lines.append(f"end to end, hot token ≥ 0.9× bare: {hot:.2f}× {'met' if hot >= 0.9 else 'MISSED'}")
    cold = ratio.get((OURS, "cold"))
    if cold is not None:
        others = {name: value for (name, mode), value in ratio.items() if mode == "cold" and name not in (BARE, OURS)}
        best = max(others, key=lambda name: others[name])
        verdict = "met" if cold >= others[best] else "MISSED"
        lines.append(
            f"end to end, cold tokens, the best ratio of all: {cold:.2f}× (best alternative {others[best]:.2f}×, "
            f"{best}) {verdict}"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
