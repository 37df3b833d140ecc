"""Memory: a million distinct valid tokens through the middleware, then a second million.

``python -m benchmarks.memory`` sends every token once through asgi-jwt (in process, no
server), so each one is verified and stored in the verified-token cache, which must
stay within its bound: the process's resident memory may grow by at most the cache's
documented resident size (``cache_size`` times ``ENTRY_RESIDENT_BYTES``) plus a fixed
allowance for the interpreter's own arenas over the first million, and must not grow
over the second.
The command exits with status 1 when either bound is exceeded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import hmac
import json
import os
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from asgi_jwt import SecretKey, TokenVerifier
from asgi_jwt.cache import DEFAULT_CACHE_SIZE, ENTRY_BYTES, ENTRY_RESIDENT_BYTES
from benchmarks import apps
from benchmarks.common import AUDIENCE, ISSUER, LIFETIME, SECRET, Statuses, machine, make_scope, receive, versions

RESULTS = Path(__file__).resolve().parent / "results"
MB = 1024 * 1024
ALLOWANCE = 16 * MB  # allocator arenas, the header cache, interned strings: independent of the token count
SECOND_PASS_TOLERANCE = 4 * MB  # a second million must leave resident memory where the first left it


def resident_bytes() -> int:
    """The process's resident set size now (peak, where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def tokens(start: int, count: int) -> Iterator[str]:
    """Distinct HS256 tokens like the other benchmarks' (about 300 characters), signed directly for speed."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    secret = SECRET.encode()
    now = int(time.time())
    for number in range(start, start + count):
        claims = {
            "sub": f"user-{number % 100_000}",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + LIFETIME,
            "scope": "orders:read orders:write",
            "jti": f"memory-{number:012d}",
        }
        signing_input = header + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
        yield (signing_input + b"." + _b64(hmac.digest(secret, signing_input, hashlib.sha256))).decode()


async def send_all(app: Any, start: int, count: int) -> None:
    statuses = Statuses()
    for token in tokens(start, count):
        await app(make_scope(token), receive, statuses)
        if statuses[-1] != 200:
            raise RuntimeError(f"token {token[:20]}… got {statuses[-1]}")
        if len(statuses) > 10_000:
            statuses.clear()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1_000_000, help="distinct tokens per pass (default 1,000,000)")
    parser.add_argument("--cache-size", type=int, default=DEFAULT_CACHE_SIZE, help="the verifier's cache_size")
    parser.add_argument("--json", type=Path, default=RESULTS / "memory.json", help="where to write the results")
    args = parser.parse_args(argv)
    if args.tokens < 1 or args.cache_size < 1:
        parser.error("--tokens and --cache-size must be positive")
    verifier = TokenVerifier(SecretKey(SECRET), issuer=ISSUER, audience=AUDIENCE, cache_size=args.cache_size)
    app = apps.asgi_jwt_app(verifier)
    asyncio.run(send_all(app, -1000, 1000))  # warm-up: first calls, imports, allocator pools
    assert verifier.cache is not None
    verifier.cache.clear()
    gc.collect()
    bound = args.cache_size * ENTRY_RESIDENT_BYTES + ALLOWANCE
    before = resident_bytes()
    passes = []
    for index in range(2):
        started = time.perf_counter()
        asyncio.run(send_all(app, index * args.tokens, args.tokens))
        gc.collect()
        passes.append({"rss_mb": round(resident_bytes() / MB, 1), "seconds": round(time.perf_counter() - started, 1)})
        print(f"pass {index + 1}: {args.tokens:,} tokens in {passes[-1]['seconds']} s", file=sys.stderr, flush=True)
    first = passes[0]["rss_mb"] * MB - before
    second = (passes[1]["rss_mb"] - passes[0]["rss_mb"]) * MB
    document = {
        "benchmark": "distinct valid HS256 tokens through the middleware, in process",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "tokens_per_pass": args.tokens,
        "cache_entries": len(verifier.cache),
        "entry_bytes_documented": ENTRY_BYTES,
        "entry_resident_bytes_documented": ENTRY_RESIDENT_BYTES,
        "bound_mb": round(bound / MB, 1),
        "rss_before_mb": round(before / MB, 1),
        "passes": passes,
        "growth_first_mb": round(first / MB, 1),
        "growth_second_mb": round(second / MB, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    ok_first, ok_second = first <= bound, second <= SECOND_PASS_TOLERANCE
    print(
        f"cache: {len(verifier.cache):,} entries (cache_size={args.cache_size:,}; documented per entry: "
        f"{ENTRY_BYTES:,} bytes live, {ENTRY_RESIDENT_BYTES:,} bytes resident)"
    )
    print(
        f"RSS growth over the first {args.tokens:,} tokens: {first / MB:.1f} MB "
        f"(bound {bound / MB:.1f} MB) {'within' if ok_first else 'EXCEEDED'}"
    )
    print(
        f"RSS growth over the second {args.tokens:,} tokens: {second / MB:.1f} MB "
        f"(tolerance {SECOND_PASS_TOLERANCE / MB:.0f} MB) {'within' if ok_second else 'EXCEEDED'}"
    )
    print(f"JSON: {args.json}")
    return 0 if ok_first and ok_second else 1


if __name__ == "__main__":
    raise SystemExit(main())
