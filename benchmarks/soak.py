"""Proof under load: uvicorn with two workers, a mix of good and bad tokens, every answer checked.

``python -m benchmarks.soak --seconds 180`` starts ``uvicorn --workers 2`` on 127.0.0.1
and sends, from many keep-alive connections, valid tokens (a few repeated, many
fresh), expired, forged (another key), wrong-kind (a refresh token), malformed
(garbage, oversized, a lone surrogate, ``alg: none``) and missing credentials, as fast
as the machine allows for the given time. Each answer is checked against its kind:
status, the challenge's ``error`` code and, for a valid token, the identity in the
body, so a token answered as another user's would count as wrong. The workers' RSS
is sampled every second. The run fails on any 5xx, any wrong answer, or RSS that
keeps growing after the warm-up.

Only 127.0.0.1 is contacted, and the run stops after ``--seconds`` (at most an hour).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import JWTAuthMiddleware, SecretKey, TokenVerifier
from benchmarks.common import AUDIENCE, ISSUER, OTHER_SECRET, SECRET, machine, versions
from benchmarks.e2e import RESULTS, Server

CACHE_SIZE = 1000  # small, so the run crosses the cache's bound during the warm-up: RSS must then stay flat
Expected = tuple[int, str | None, str | None]  # status, challenge error code, identity in a 200's body


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


def app() -> Starlette:
    """``uvicorn --factory benchmarks.soak:app``: the default verifier, with a small token cache."""
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, cache_size=CACHE_SIZE)
    return Starlette(routes=[Route("/", whoami)], middleware=[Middleware(JWTAuthMiddleware, verifier=verifier)])


class Mix:
    """Tokens of each kind, with the answer each must get."""

    def __init__(self, seed: int = 13) -> None:
        self.random = random.Random(seed)
        self.key, self.other = SecretKey(SECRET), SecretKey(OTHER_SECRET)
        self.serial = itertools.count()
        now = int(time.time())
        self.exp = now + 3600
        self.repeated = [self.sign(f"user{n}") for n in range(50)]
        self.expired = [self.key.encode(self.claims("late", exp=now - 600)) for _ in range(20)]
        self.forged = [self.other.encode(self.claims(f"mallory{n}")) for n in range(20)]
        self.wrong_kind = [self.key.encode(self.claims("r", typ="Refresh")) for _ in range(5)]
        self.malformed = [
            "not-a-jwt",
            "a.b",
            "a.b.c",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",  # alg none, no signature
            "x" * 9000,  # over the size limit
            self.key.encode(self.claims("\ud800")),  # a lone surrogate, correctly signed
            *(self.random.randbytes(60).hex() + "." + self.random.randbytes(30).hex() + ".AA" for _ in range(20)),
        ]
        self.kinds: list[tuple[str, float]] = [
            ("valid-repeated", 0.40),
            ("valid-fresh", 0.10),
            ("expired", 0.12),
            ("forged", 0.12),
            ("wrong-kind", 0.06),
            ("malformed", 0.15),
            ("missing", 0.05),
        ]

    def claims(self, sub: str, **extra: Any) -> dict[str, Any]:
        return {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": self.exp, "jti": str(next(self.serial)), **extra}

    def sign(self, sub: str) -> str:
        return str(self.key.encode(self.claims(sub)))

    def next(self) -> tuple[str, str | None, Expected]:
        """(kind, token or None, expected answer)."""
        kind = self.random.choices([name for name, _ in self.kinds], [weight for _, weight in self.kinds])[0]
        if kind == "valid-repeated":
            token = self.random.choice(self.repeated)
            return kind, token, (200, None, None)
        if kind == "valid-fresh":
            sub = f"fresh{next(self.serial)}"
            return kind, self.sign(sub), (200, None, sub)
        if kind == "missing":
            return kind, None, (401, None, None)
        pool = {"expired": self.expired, "forged": self.forged, "wrong-kind": self.wrong_kind}.get(kind, self.malformed)
        return kind, self.random.choice(pool), (401, "invalid_token", None)


async def request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str | None, path: str = "/"
) -> tuple[int, dict[str, str], bytes]:
    """One keep-alive HTTP/1.1 GET: (status, lower-cased headers, body)."""
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode("utf-8", "surrogatepass"))
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def challenge_error(headers: dict[str, str]) -> str | None:
    challenge = headers.get("www-authenticate", "")
    marker = 'error="'
    start = challenge.find(marker)
    return None if start < 0 else challenge[start + len(marker) : challenge.index('"', start + len(marker))]


def worker_pids(master: int) -> list[int]:
    """The uvicorn workers: the master's children started by multiprocessing (not its resource tracker)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master and b"spawn_main" in command:
                children.append(int(entry.name))
    return sorted(children) or [master]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of ``pid`` in MiB (``field="VmHWM"``: its peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def check(expected: Expected, status: int, headers: dict[str, str], body: bytes) -> bool:
    want_status, want_error, want_sub = expected
    if status != want_status:
        return False
    if status == 200:
        sub = json.loads(body)["sub"]
        return sub == want_sub if want_sub is not None else sub.startswith("user")
    return challenge_error(headers) == want_error and "www-authenticate" in headers


async def load(port: int, seconds: float, connections: int, mix: Mix, pids: list[int]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    samples: list[list[float]] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                kind, token, expected = mix.next()
                status, headers, body = await request(reader, writer, token)
                counts[kind] += 1
                statuses[status] += 1
                if not check(expected, status, headers, body):
                    wrong[kind] += 1
                if headers.get("connection") == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    async def sampler() -> None:
        while time.monotonic() < deadline:
            samples.append([rss_mib(pid) for pid in pids])
            await asyncio.sleep(1)

    start = time.monotonic()
    await asyncio.gather(sampler(), *(client() for _ in range(connections)))
    elapsed = time.monotonic() - start
    return {"elapsed": elapsed, "counts": counts, "wrong": wrong, "statuses": statuses, "rss": samples}


def rss_verdict(samples: list[list[float]], warmup: int) -> dict[str, Any]:
    """RSS per worker after the warm-up: first, last, max and growth; flat when it grew under 5 MiB (or 5 %)."""
    after = samples[warmup:] or samples
    workers = []
    for index in range(len(after[0])):
        series = [sample[index] for sample in after]
        growth = series[-1] - series[0]
        workers.append(
            {
                "first_mib": round(series[0], 1),
                "last_mib": round(series[-1], 1),
                "max_mib": round(max(series), 1),
                "growth_mib": round(growth, 1),
                "flat": growth < max(5.0, series[0] * 0.05),
            }
        )
    return {"warmup_s": warmup, "workers": workers, "flat": all(worker["flat"] for worker in workers)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the load (default 180)")
    parser.add_argument("--connections", type=int, default=48, help="concurrent keep-alive connections (default 48)")
    parser.add_argument("--json", type=Path, default=RESULTS / "soak.json", help="where to write the results")
    args = parser.parse_args(argv)
    if not 10 <= args.seconds <= 3000 or not 1 <= args.connections <= 512:
        parser.error("--seconds must be in [10, 3000], --connections in [1, 512]")
    server = Server("benchmarks.soak:app", http="h11", loop="asyncio", workers=2)
    try:
        server.wait_ready()
        deadline = time.monotonic() + 20
        pids = worker_pids(server.process.pid)
        while len(pids) < 2 and time.monotonic() < deadline:  # both workers up, not just the socket
            time.sleep(0.2)
            pids = worker_pids(server.process.pid)
        result = asyncio.run(load(server.port, args.seconds, args.connections, Mix(), pids))
    finally:
        server.stop()
    total = sum(result["counts"].values())
    server_errors = sum(count for status, count in result["statuses"].items() if status >= 500)
    rss = rss_verdict(result["rss"], warmup=max(10, int(args.seconds // 6)))
    document = {
        "benchmark": "soak: uvicorn --workers 2 on 127.0.0.1, mixed tokens, every answer checked",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"seconds": args.seconds, "connections": args.connections, "cache_size": CACHE_SIZE},
        "requests": total,
        "requests_per_s": round(total / result["elapsed"], 1),
        "by_kind": dict(result["counts"]),
        "wrong_answers": dict(result["wrong"]),
        "statuses": {str(status): count for status, count in sorted(result["statuses"].items())},
        "server_errors": server_errors,
        "rss": rss,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"{total} requests in {result['elapsed']:.0f} s ({document['requests_per_s']:.0f}/s), 2 workers")
    print("| kind | requests | wrong answers |\n|---|---:|---:|")
    for kind, count in sorted(result["counts"].items()):
        print(f"| {kind} | {count} | {result['wrong'][kind]} |")
    print(f"statuses: {document['statuses']}; 5xx: {server_errors}")
    for number, worker in enumerate(rss["workers"], 1):
        print(
            f"worker {number} RSS after {rss['warmup_s']} s warm-up: {worker['first_mib']} -> {worker['last_mib']} MiB"
            f" (max {worker['max_mib']}, growth {worker['growth_mib']}): {'flat' if worker['flat'] else 'GROWING'}"
        )
    print(f"JSON: {args.json}")
    failed = server_errors or sum(result["wrong"].values()) or not rss["flat"]
    if failed:
        print("FAILED: 5xx answers, wrong answers or growing memory", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
