"""Instructions per request, counted by valgrind's callgrind: the same figures on a busy machine or an idle one.

``python -m benchmarks.instructions`` runs each app (HS256, and RS256 with one key made
by the parent and read by both children, so no key generation adds randomness) in a
child process under ``valgrind --tool=callgrind`` twice, with
``--low`` and ``--high`` requests, everything else equal (the same tokens and scopes
are built in both), and divides the difference by the difference in requests. What is
left is what one request costs: instructions executed, and first-level instruction
cache misses and mispredicted branches as callgrind's simple machine model counts them.
Those misses matter: a request touches more code than the cache holds, so code that
runs rarely evicts code that runs always, and timing on this kind of machine follows
the misses more than the instruction count.

Timings on a shared virtual machine move by ±10% between runs; these counts do not.
They are a second opinion on ``python -m benchmarks``, not a replacement: a time is
what users get. Needs valgrind (Debian: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asgi_jwt import KeyPair, MemoryRevocationStore, SecretKey, TokenVerifier
from benchmarks import apps
from benchmarks.common import (
    AUDIENCE,
    ISSUER,
    OTHER_SECRET,
    SECRET,
    Statuses,
    Tokens,
    bare_app,
    machine,
    make_scope,
    receive,
    revocations_in_use,
    versions,
)

RESULTS = Path(__file__).resolve().parent / "results"
BARE = "bare Starlette app"
WARM_UP = 20  # requests before the counted ones: imports, lazily built stacks, the hot token seen once
KEY_FILE = "rs256.pem"
EVENTS = ("Ir", "I1mr", "Bcm", "Bim")  # instructions, I1 misses, mispredicted conditional/indirect branches


Signer = SecretKey | KeyPair


def _ours(keys: Signer) -> Any:
    return apps.asgi_jwt_app(TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE))


async def _ours_revoking(keys: Signer) -> Any:
    store = MemoryRevocationStore()
    await revocations_in_use(store)
    return apps.asgi_jwt_app(TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, revocation=store))


def _minimal(keys: Signer) -> Any:
    if isinstance(keys, KeyPair):
        return apps.minimal_pyjwt_app(keys.public_key.key, keys.algorithm)
    return apps.minimal_pyjwt_app(SECRET, "HS256")


APPS: dict[str, tuple[Callable[[Signer], Any], str, int]] = {
    # name: (app factory given the verifying keys, which tokens, expected status); "…RS256…" rows use an RSA key
    BARE: (lambda keys: bare_app(), "hot", 200),
    "asgi-jwt HS256, hot (seen before)": (_ours, "hot", 200),
    "minimal middleware + dict of verified tokens (all hits)": (
        lambda keys: apps.minimal_pyjwt_app(SECRET, "HS256", remember=True),
        "hot",
        200,
    ),
    "asgi-jwt HS256, hot, revocation on (memory)": (_ours_revoking, "hot", 200),
    "asgi-jwt HS256, cold (never seen)": (_ours, "cold", 200),
    "asgi-jwt HS256, cold, revocation on (memory)": (_ours_revoking, "cold", 200),
    "minimal pure-ASGI middleware + jwt.decode, HS256": (_minimal, "cold", 200),
    "asgi-jwt RS256, cold (never seen)": (_ours, "cold", 200),
    "minimal pure-ASGI middleware + jwt.decode, RS256": (_minimal, "cold", 200),
    "asgi-jwt, invalid token (bad signature)": (_ours, "invalid", 401),
}


def _signer(name: str, key_file: Path | None) -> Signer:
    """The row's signing keys: the HMAC secret, or the RSA key the parent wrote (a fresh one when run alone)."""
    if "RS256" not in name:
        return SecretKey(SECRET)
    if key_file is None:
        return KeyPair.generate("RS256")
    return KeyPair(key_file.read_bytes())


async def _child(name: str, count: int, total: int, key_file: Path | None = None) -> None:
    """Build the app, ``total`` scopes, warm up, then send the first ``count`` scopes; check every status."""
    factory, kind, expected = APPS[name]
    keys = _signer(name, key_file)
    app = factory(keys)
    if inspect.isawaitable(app):  # an app whose set-up is asynchronous (a revocation store filled first)
        app = await app
    signer = Tokens(SecretKey(OTHER_SECRET) if kind == "invalid" else keys)
    if kind == "cold":
        tokens = signer.fresh(total)
        warm = signer.fresh(WARM_UP)
    else:
        tokens = [signer.repeated] * total
        warm = [signer.repeated] * WARM_UP
    scopes = [make_scope(token) for token in tokens]
    statuses = Statuses()
    for token in warm:
        await app(make_scope(token), receive, statuses)
    for scope in scopes[:count]:
        await app(scope, receive, statuses)
    wrong = [status for status in statuses if status != expected]
    if len(statuses) != WARM_UP + count or wrong:
        raise SystemExit(f"{name}: expected {WARM_UP + count}× {expected}, got {statuses[:5]}…")


def _count(valgrind: str, name: str, count: int, total: int, workdir: Path) -> dict[str, int]:
    """Run one child under callgrind; the whole run's event totals."""
    output = workdir / f"callgrind.{abs(hash((name, count)))}.out"
    command = [
        valgrind,
        "--tool=callgrind",
        "--cache-sim=yes",
        "--branch-sim=yes",
        f"--callgrind-out-file={output}",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--child",
        name,
        "--low",
        str(count),
        "--high",
        str(total),
        "--key-file",
        str(workdir / KEY_FILE),
    ]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"{name}: the run under valgrind failed:\n{result.stderr[-2000:]}")
    events: list[str] = []
    for line in output.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:") or line.startswith("summary:"):
            totals = dict(zip(events, (int(value) for value in line.split()[1:]), strict=False))
            return {event: totals[event] for event in EVENTS}
    raise SystemExit(f"{name}: no totals in callgrind's output")


def measure(names: Sequence[str], low: int, high: int, log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    per_request: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / KEY_FILE).write_bytes(KeyPair.generate("RS256").private_pem())
        for name in names:
            log(f"counting: {name}")
            small = _count(valgrind, name, low, high, Path(directory))
            large = _count(valgrind, name, high, high, Path(directory))
            per_request[name] = {event: (large[event] - small[event]) / (high - low) for event in EVENTS}
    return per_request


def report(per_request: dict[str, dict[str, float]], low: int, high: int) -> dict[str, Any]:
    bare = per_request.get(BARE)
    rows = []
    for name, counts in per_request.items():
        row: dict[str, Any] = {"name": name, **{event: round(value, 1) for event, value in counts.items()}}
        if bare:
            row["ratio_Ir"] = round(counts["Ir"] / bare["Ir"], 3)
            row["ratio_I1mr"] = round(counts["I1mr"] / bare["I1mr"], 3)
        rows.append(row)
    return {
        "benchmark": "callgrind counts per request, in process (difference of two runs)",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"low": low, "high": high, "warm_up": WARM_UP},
        "rows": rows,
    }


def table(document: dict[str, Any]) -> str:
    lines = [
        "| request (one GET, trivial endpoint) | instructions | × bare | I1 misses | × bare | mispredicted branches |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in document["rows"]:
        ratio_ir = f"{row['ratio_Ir']:.3f}×" if "ratio_Ir" in row else "–"
        ratio_i1 = f"{row['ratio_I1mr']:.3f}×" if "ratio_I1mr" in row else "–"
        lines.append(
            f"| {row['name']} | {row['Ir']:,.0f} | {ratio_ir} | {row['I1mr']:,.0f} | {ratio_i1} | "
            f"{row['Bcm'] + row['Bim']:,.0f} |"
        )
    settings = document["settings"]
    lines += ["", f"Per request: the difference between {settings['high']} and {settings['low']} requests."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--low", type=int, default=200, help="requests in the first run (default 200)")
    parser.add_argument("--high", type=int, default=1200, help="requests in the second run (default 1200)")
    parser.add_argument(
        "--rows", action="append", default=[], metavar="TEXT", help="only rows whose name contains TEXT (repeatable)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "instructions.json", help="where to write the results")
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)  # one counted run, under valgrind
    parser.add_argument("--key-file", type=Path, help=argparse.SUPPRESS)  # the children's RSA key
    args = parser.parse_args(argv)
    if args.child is not None:
        asyncio.run(_child(args.child, args.low, args.high, args.key_file))
        return 0
    if not 1 <= args.low < args.high:
        parser.error("--low must be at least 1 and below --high")
    names = [name for name in APPS if name == BARE or not args.rows or any(text in name for text in args.rows)]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    document = report(measure(names, args.low, args.high, log), args.low, args.high)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(table(document))
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
