"""The in-process benchmark: every app called directly, interleaved rounds, medians, ratios.

No server and no sockets: each ASGI app is awaited with a synthetic ``GET /`` scope, so
what is measured is the app and its authentication, not the network. Each round runs a
batch of every row in a shuffled order, so slow drifts of a noisy machine (frequency
scaling, a neighbour's load) hit all rows alike; the figure for a row is the median of
its rounds, and each is reported as a ratio to a baseline measured in the same run: the
bare Starlette app for requests, the physical limit of the same algorithm for
verification alone.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import gc
import hmac
import importlib.util
import itertools
import json
import random
import secrets
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from asgi_jwt import MemoryRevocationStore, TokenIssuer, TokenVerifier
from benchmarks import apps
from benchmarks.common import (
    ALGORITHMS,
    AUDIENCE,
    ISSUER,
    SECRET,
    Keys,
    Statuses,
    Tokens,
    bare_app,
    machine,
    make_scope,
    receive,
    revocations_in_use,
    versions,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
CHART = ROOT / "docs" / "performance.png"
POOL = 64  # distinct tokens cycled through by rows that keep no cache: parsing work stays real

BARE = "bare Starlette app"
# What a cold request may add over the bare app, as a multiple of its primitives (one signature check,
# base64url and JSON decoding of the same token): the issue's targets; ES256 and EdDSA are reported only.
ADDED_TARGETS = {"HS256": 2.0, "RS256": 1.3}
FLOOR = "primitives alone in a middleware (no checks, no cache),"


@dataclass
class Target:
    """What a row times: an ASGI app fed scopes, or a function fed tokens."""

    inputs: Callable[[int], list[Any]]
    app: Any = None
    function: Callable[[Any], Any] | None = None
    is_async: bool = False
    status: int = 200
    prepare: Callable[[], Awaitable[Any]] | None = None  # awaited once before the warm-up
    settle: Callable[[], Awaitable[Any]] | None = None  # awaited before each batch, outside the timing


@dataclass
class Row:
    name: str
    group: str  # baseline, asgi-jwt, alternative, limit
    kind: str  # request or verify
    build: Callable[[Context], Target]
    requires: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()  # programs the row runs (a redis-server), found on the PATH
    limit: str | None = None  # verify rows: the row whose time is this one's floor
    note: str = ""
    primitives: str | None = None  # cold request rows: the limit row timed beside them (see measure)


@dataclass
class Context:
    keys: Keys
    tokens: dict[str, Tokens] = field(default_factory=dict)
    pools: dict[str, list[str]] = field(default_factory=dict)
    invalid: str = ""
    budget: int = 0  # never-seen tokens a cold row uses in a run (its warm-up and every round)

    @classmethod
    def create(cls) -> Context:
        keys = Keys()
        context = cls(keys)
        for algorithm in ALGORITHMS:
            tokens = Tokens(keys.signer(algorithm))
            context.tokens[algorithm] = tokens
            context.pools[algorithm] = tokens.fresh(POOL)
        context.invalid = Tokens(keys.other_secret).repeated  # right shape, wrong key
        return context

    def unseen(self, algorithm: str) -> Callable[[int], list[str]]:
        """Never-seen tokens, minted when the row is built: minting right before a batch would leave the
        processor's caches full of the signer's data, and a server gets its tokens from the network."""
        tokens = self.tokens[algorithm]
        pool = tokens.fresh(self.budget)

        def take(count: int) -> list[str]:
            if len(pool) < count:  # more calls than budgeted: mint the rest now (outside the timing still)
                pool.extend(tokens.fresh(count - len(pool)))
            taken = pool[:count]
            del pool[:count]
            return taken

        return take

    def cycled(self, algorithm: str) -> Callable[[int], list[str]]:
        source = itertools.cycle(self.pools[algorithm])
        return lambda count: list(itertools.islice(source, count))


def scopes(tokens: Callable[[int], list[str]]) -> Callable[[int], list[dict[str, Any]]]:
    return lambda count: [make_scope(token) for token in tokens(count)]


def repeated(token: str) -> Callable[[int], list[str]]:
    return lambda count: [token] * count


def _ours(algorithm: str, hot: bool) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        verifier = TokenVerifier(context.keys.signer(algorithm), issuer=ISSUER, audience=AUDIENCE)
        source = repeated(context.tokens[algorithm].repeated) if hot else context.unseen(algorithm)
        return Target(scopes(source), app=apps.asgi_jwt_app(verifier))

    return build


def _ours_revoking(hot: bool) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        store = MemoryRevocationStore()
        verifier = TokenVerifier(context.keys.secret, issuer=ISSUER, audience=AUDIENCE, revocation=store)
        source = repeated(context.tokens["HS256"].repeated) if hot else context.unseen("HS256")
        return Target(scopes(source), app=apps.asgi_jwt_app(verifier), prepare=lambda: revocations_in_use(store))

    return build


def _ours_invalid(context: Context) -> Target:
    verifier = TokenVerifier(context.keys.secret, issuer=ISSUER, audience=AUDIENCE)
    return Target(scopes(repeated(context.invalid)), app=apps.asgi_jwt_app(verifier), status=401)


def _minimal(algorithm: str) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        app = apps.minimal_pyjwt_app(context.keys.verification_key(algorithm), algorithm)
        return Target(scopes(context.cycled(algorithm)), app=app)

    return build


def _minimal_invalid(context: Context) -> Target:
    return Target(scopes(repeated(context.invalid)), app=apps.minimal_pyjwt_app(SECRET, "HS256"), status=401)


def _minimal_dict(context: Context) -> Target:
    app = apps.minimal_pyjwt_app(SECRET, "HS256", remember=True)
    return Target(scopes(repeated(context.tokens["HS256"].repeated)), app=app)


def _alternative(factory: Callable[[], Any], invalid: bool = False, status: int = 200) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        source = repeated(context.invalid) if invalid else context.cycled("HS256")
        return Target(scopes(source), app=factory(), status=status)

    return build


def _ours_redis(hot: bool) -> Callable[[Context], Target]:
    """The memory-store rows' app and denylist, with a RedisRevocationStore on this run's redis-server."""

    def build(context: Context) -> Target:
        from benchmarks.redis_rows import redis_store

        store, prepare, settle = redis_store()
        verifier = TokenVerifier(context.keys.secret, issuer=ISSUER, audience=AUDIENCE, revocation=store)
        source = repeated(context.tokens["HS256"].repeated) if hot else context.unseen("HS256")
        return Target(scopes(source), app=apps.asgi_jwt_app(verifier), prepare=prepare, settle=settle)

    return build


def _bare(context: Context) -> Target:
    return Target(scopes(context.cycled("HS256")), app=bare_app())


# Verification alone ---------------------------------------------------------------------------


def _verify_ours(algorithm: str) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        verifier = TokenVerifier(context.keys.signer(algorithm), issuer=ISSUER, audience=AUDIENCE, cache_size=0)
        return Target(context.cycled(algorithm), function=verifier.verify, is_async=True)

    return build


def _cached_ours(context: Context) -> Target:
    verifier = TokenVerifier(context.keys.secret, issuer=ISSUER, audience=AUDIENCE)
    token = context.tokens["HS256"].repeated
    return Target(repeated(token), function=verifier.cached, prepare=lambda: verifier.verify(token))


def _verify_pyjwt(algorithm: str, pem: bool = False) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        key = context.keys.public_pem(algorithm) if pem else context.keys.verification_key(algorithm)
        return Target(context.cycled(algorithm), function=lambda token: apps.pyjwt_decode(token, key, algorithm))

    return build


_URLSAFE = str.maketrans("-_", "+/")


def _b64(segment: str) -> bytes:
    return binascii.a2b_base64(segment.translate(_URLSAFE) + "==")


def _limit(algorithm: str) -> Callable[[Context], Target]:
    """The floor of any verification: split, decode, one signature check, parse the payload."""

    def build(context: Context) -> Target:
        loads = json.loads
        if algorithm == "HS256":
            secret = SECRET.encode()
            digest, compare = hmac.digest, hmac.compare_digest

            def check(signing_input: bytes, signature: bytes) -> None:
                if not compare(digest(secret, signing_input, "sha256"), signature):
                    raise ValueError("bad signature")

        else:
            public_key = context.keys.pairs[algorithm].public_key.key
            if algorithm == "RS256":
                pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

                def check(signing_input: bytes, signature: bytes) -> None:
                    public_key.verify(signature, signing_input, pkcs1, sha256)  # type: ignore[union-attr,call-arg]

            elif algorithm == "ES256":
                ecdsa = ec.ECDSA(hashes.SHA256())

                def check(signing_input: bytes, signature: bytes) -> None:
                    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                    public_key.verify(encode_dss_signature(r, s), signing_input, ecdsa)  # type: ignore[call-arg,arg-type]

            else:

                def check(signing_input: bytes, signature: bytes) -> None:
                    public_key.verify(signature, signing_input)  # type: ignore[call-arg]

        def limit(token: str) -> Any:
            signing_input, _, signature = token.rpartition(".")
            check(signing_input.encode(), _b64(signature))
            return loads(_b64(signing_input.partition(".")[2]))

        return Target(context.cycled(algorithm), function=limit)

    return build


def _primitives_in_a_request(algorithm: str) -> Callable[[Context], Target]:
    """The limit row's work inside a request (apps.PrimitivesOnlyMiddleware), on never-seen tokens like the
    cold rows: its added cost over the bare app ÷ the primitives is the floor of that figure. Above 1,
    because a request runs its code and the app's with caches the signature check has just filled."""

    def build(context: Context) -> Target:
        limit = _limit(algorithm)(context).function
        return Target(scopes(context.unseen(algorithm)), app=apps.primitives_only_app(limit))

    return build


def _dict_lookup(context: Context) -> Target:
    token = context.tokens["HS256"].repeated
    verified = {token: {"sub": "user-1234"}}
    verified.update({pooled: {"sub": "user-1234"} for pooled in context.pools["HS256"]})
    return Target(repeated(token), function=verified.get)


# Issuing alone ---------------------------------------------------------------------------------

_GRANT = {"scope": "orders:read orders:write"}


def _issue_ours(pair: bool) -> Callable[[Context], Target]:
    def build(context: Context) -> Target:
        issuer = TokenIssuer(context.keys.secret, issuer=ISSUER, audience=AUDIENCE)
        mint = issuer.issue_pair if pair else issuer.issue
        return Target(repeated("user-1234"), function=lambda subject: mint(subject, scope=_GRANT["scope"]))

    return build


def _issue_pyjwt(pair: bool) -> Callable[[Context], Target]:
    """``jwt.encode`` of the same claims and header, with a jti of the same size, and nothing else."""

    def build(context: Context) -> Target:
        secret, encode, token_urlsafe = SECRET.encode(), jwt.encode, secrets.token_urlsafe

        def access(subject: str) -> str:
            now = int(time.time())
            claims = {**_GRANT, "sub": subject, "iat": now, "exp": now + 900, "jti": token_urlsafe(16)}
            claims.update(iss=ISSUER, aud=AUDIENCE, fam="f" * 22)
            return encode(claims, secret, algorithm="HS256", headers={"typ": "at+jwt"})

        def both(subject: str) -> tuple[str, str]:
            now = int(time.time())
            refresh = {"sub": subject, "iat": now, "exp": now + 1_209_600, "jti": token_urlsafe(16), "iss": ISSUER}
            refresh.update(fam="f" * 22, type="refresh", grant={"claims": _GRANT, "ttl": 900.0, "aud": AUDIENCE})
            return access(subject), encode(refresh, secret, algorithm="HS256", headers={"typ": "rt+jwt"})

        return Target(repeated("user-1234"), function=both if pair else access)

    return build


def request(name: str, build: Callable[[Context], Target], *, group: str = "alternative", **options: Any) -> Row:
    return Row(name, group, "request", build, **options)


def issue(name: str, build: Callable[[Context], Target], *, limit: str, group: str = "asgi-jwt") -> Row:
    return Row(name, group, "issue", build, limit=limit)


def verify(
    name: str, build: Callable[[Context], Target], *, limit: str, group: str = "alternative", **options: Any
) -> Row:
    return Row(name, group, "verify", build, limit=limit, **options)


def rows() -> list[Row]:
    """Every row of the suite, in the order of the table."""
    table = [request(BARE, _bare, group="baseline")]
    for algorithm in ALGORITHMS:
        table.append(request(f"asgi-jwt {algorithm}, hot (seen before)", _ours(algorithm, True), group="asgi-jwt"))
        cold = _ours(algorithm, False)
        primitives = f"physical limit, {algorithm}"
        table.append(request(f"asgi-jwt {algorithm}, cold (never seen)", cold, group="asgi-jwt", primitives=primitives))
    for hot in (True, False):
        name = f"asgi-jwt HS256, {'hot' if hot else 'cold'}, revocation on (memory)"
        table.append(request(name, _ours_revoking(hot), group="asgi-jwt"))
    for hot in (True, False):
        name = f"asgi-jwt HS256, {'hot' if hot else 'cold'}, revocation on (Redis)"
        redis = {"requires": ("redis",), "binaries": ("redis-server",)}
        table.append(request(name, _ours_redis(hot), group="asgi-jwt", **redis))
    table.append(request("asgi-jwt, invalid token (bad signature)", _ours_invalid, group="asgi-jwt"))
    for algorithm in ALGORITHMS:
        name = f"{FLOOR} {algorithm}, cold (never seen)"
        primitives = f"physical limit, {algorithm}"
        table.append(request(name, _primitives_in_a_request(algorithm), group="limit", primitives=primitives))
    for algorithm in ALGORITHMS:
        table.append(request(f"minimal pure-ASGI middleware + jwt.decode, {algorithm}", _minimal(algorithm)))
    starlette, fastapi, bearer = apps.starlette_auth_app, apps.fastapi_alone_app, apps.fastapi_bearer_app
    table += [
        request("minimal pure-ASGI middleware + jwt.decode, invalid token", _minimal_invalid),
        request("minimal middleware + dict of verified tokens (all hits)", _minimal_dict),
        request("Starlette AuthenticationMiddleware + PyJWT backend, HS256", _alternative(starlette)),
        request(
            "Starlette AuthenticationMiddleware + PyJWT backend, invalid token",
            _alternative(starlette, invalid=True, status=400),
        ),
        request("FastAPI alone (no authentication)", _alternative(fastapi), requires=("fastapi",)),
        request("FastAPI HTTPBearer dependency + PyJWT, HS256", _alternative(bearer), requires=("fastapi",)),
        request(
            "FastAPI HTTPBearer dependency + PyJWT, invalid token",
            _alternative(bearer, invalid=True, status=401),
            requires=("fastapi",),
        ),
        request("MCP SDK BearerAuthBackend + PyJWT verifier, HS256", _alternative(apps.mcp_app), requires=("mcp",)),
        request(
            "MCP SDK BearerAuthBackend + PyJWT verifier, invalid token",
            _alternative(apps.mcp_app, invalid=True, status=401),
            requires=("mcp",),
        ),
        request("AuthX (FastAPI), HS256", _alternative(apps.authx_app), requires=("authx", "fastapi")),
        request(
            "AuthX (FastAPI), invalid token",  # AuthX answers a bad signature with 422
            _alternative(apps.authx_app, invalid=True, status=422),
            requires=("authx", "fastapi"),
        ),
    ]
    floor = "split, base64url, one signature check, json.loads of the payload"
    for algorithm in ALGORITHMS:
        limit = f"physical limit, {algorithm}"
        table.append(
            verify(
                f"asgi-jwt TokenVerifier.verify, {algorithm}", _verify_ours(algorithm), limit=limit, group="asgi-jwt"
            )
        )
        table.append(verify(f"PyJWT jwt.decode, {algorithm}", _verify_pyjwt(algorithm), limit=limit))
        if algorithm == "RS256":
            pem = _verify_pyjwt(algorithm, pem=True)
            table.append(verify("PyJWT jwt.decode, RS256, PEM string as key", pem, limit=limit))
        table.append(verify(limit, _limit(algorithm), limit=limit, group="limit", note=floor))
    dict_limit = "physical limit, dict"
    table.append(verify("asgi-jwt TokenVerifier.cached, hit", _cached_ours, limit=dict_limit, group="asgi-jwt"))
    table.append(verify(dict_limit, _dict_lookup, limit=dict_limit, group="limit", note="dict.get of a token string"))
    for pair, what in ((False, "issue"), (True, "issue_pair")):
        limit = f"PyJWT jwt.encode{' ×2' if pair else ''}, HS256, same claims"
        table.append(issue(f"asgi-jwt TokenIssuer.{what}, HS256", _issue_ours(pair), limit=limit))
        table.append(issue(limit, _issue_pyjwt(pair), limit=limit, group="limit"))
    return table


def missing(row: Row) -> list[str]:
    """The modules and programs a row needs that this machine lacks."""
    modules = [module for module in row.requires if importlib.util.find_spec(module) is None]
    return modules + [binary for binary in row.binaries if shutil.which(binary) is None]


def available(row: Row) -> bool:
    return not missing(row)


# Running ----------------------------------------------------------------------------------------


class Runner:
    """Times batches of one row; checks every response's status afterwards, outside the timing.

    The clock is this thread's CPU time by default: everything measured runs on it with no
    I/O, and time spent descheduled while other processes use the cores is not counted.
    """

    def __init__(self, clock: Callable[[], int] = time.thread_time_ns) -> None:
        self.statuses = Statuses()
        self.clock = clock

    async def batch(self, row: Row, target: Target, count: int) -> float:
        """Nanoseconds per call over one batch of ``count`` calls."""
        items = target.inputs(count)
        clock = self.clock
        if target.settle is not None:
            await target.settle()
        if target.app is not None:
            app, send = target.app, self.statuses
            self.statuses.clear()
            start = clock()
            for scope in items:
                await app(scope, receive, send)
            elapsed = clock() - start
            wrong = [status for status in self.statuses if status != target.status]
            if len(self.statuses) != count or wrong:
                raise RuntimeError(f"{row.name}: expected {count}× {target.status}, got {self.statuses[:5]}…")
        elif target.is_async:
            function = target.function
            assert function is not None
            start = clock()
            for item in items:
                await function(item)
            elapsed = clock() - start
        else:
            function = target.function
            assert function is not None
            start = clock()
            for item in items:
                function(item)
            elapsed = clock() - start
        return elapsed / count


@dataclass
class Result:
    row: Row
    samples: list[float]
    ratios: list[float] = field(default_factory=list)  # per round: this row's batch over its baseline's beside it
    # per round, cold request rows: (this row - the bare app) / the primitives, the three batches timed side by side
    added: list[float] = field(default_factory=list)
    # per round, cold request rows: the two terms of that quotient, in nanoseconds
    added_ns: list[float] = field(default_factory=list)
    primitives_ns: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples)


def baseline_name(row: Row) -> str | None:
    """The row a row is measured against: the bare app for requests, its physical limit for verification."""
    return BARE if row.kind == "request" else row.limit


async def measure(
    selected: Sequence[Row],
    *,
    rounds: int,
    number: int,
    context: Context,
    log: Callable[[str], None],
    wall: bool = False,
) -> list[Result]:
    """Paired, interleaved rounds: each round times every row right beside a batch of its baseline.

    The rows' order is shuffled every round and so is the order within each pair, so a
    drift of the machine hits both halves of a pair alike; a row's ratio is the median of
    its per-round ratios.
    """
    targets: dict[str, Target] = {}
    for row in selected:
        target = targets[row.name] = row.build(context)
        if target.prepare is not None:
            await target.prepare()
    runner = Runner(time.perf_counter_ns if wall else time.thread_time_ns)
    results = {row.name: Result(row, []) for row in selected}
    for row in selected:  # warm-up: imports, lazily built middleware stacks, hot tokens seen once
        await runner.batch(row, targets[row.name], max(2, number // 10))
    paired = [row for row in selected if baseline_name(row) not in (row.name, None) and baseline_name(row) in targets]
    used = {baseline_name(row) for row in paired}
    alone = [row for row in selected if row.name not in used and row not in paired]
    shuffle = random.Random(5)
    gc.collect()
    gc.disable()
    try:
        for round_index in range(rounds):
            shuffle.shuffle(paired)
            for row in paired:
                baseline = results[baseline_name(row)].row
                pair = [row, baseline]
                if row.primitives in targets:  # the cost of the token's primitives, timed in the same breath
                    pair.append(results[row.primitives].row)
                shuffle.shuffle(pair)
                times = {item.name: await runner.batch(item, targets[item.name], number) for item in pair}
                results[row.name].samples.append(times[row.name])
                results[baseline.name].samples.append(times[baseline.name])
                results[row.name].ratios.append(times[row.name] / times[baseline.name])
                if row.primitives in times:
                    primitives = times[row.primitives]
                    extra = times[row.name] - times[baseline.name]
                    results[row.name].added.append(extra / primitives)
                    results[row.name].added_ns.append(extra)
                    results[row.name].primitives_ns.append(primitives)
            for row in alone:  # a baseline nothing was paired with this run
                results[row.name].samples.append(await runner.batch(row, targets[row.name], number))
            gc.enable()
            gc.collect()
            gc.disable()
            log(f"round {round_index + 1}/{rounds} done")
    finally:
        gc.enable()
    return [results[row.name] for row in selected]


def report(results: Sequence[Result], *, rounds: int, number: int, skipped: Sequence[Row]) -> dict[str, Any]:
    """The JSON document of a run: machine, versions, settings and one entry per row."""
    entries = []
    for result in results:
        row = result.row
        is_baseline = baseline_name(row) == row.name
        quartiles = _quartiles(result.ratios)
        entries.append(
            {
                "name": row.name,
                "group": row.group,
                "kind": row.kind,
                "median_us": round(result.median_ns / 1000, 3),
                "min_us": round(min(result.samples) / 1000, 3),
                "ratio": 1.0 if is_baseline else round(statistics.median(result.ratios), 3) if result.ratios else None,
                "ratio_quartiles": _rounded(quartiles),
                "relative_to": baseline_name(row),
                "note": row.note,
            }
        )
        if result.added:
            entries[-1]["added_over_primitives"] = round(statistics.median(result.added), 3)
            entries[-1]["added_quartiles"] = _rounded(_quartiles(result.added))
            # medians over the same rounds: the limit row's own median also counts its other pairings
            entries[-1]["added_us"] = round(statistics.median(result.added_ns) / 1000, 3)
            entries[-1]["primitives_us"] = round(statistics.median(result.primitives_ns) / 1000, 3)
            entries[-1]["primitives"] = row.primitives
    return {
        "benchmark": "in-process ASGI calls, paired interleaved rounds, medians of per-round ratios",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"rounds": rounds, "calls_per_round": number},
        "skipped": [{"name": row.name, "missing": missing(row)} for row in skipped],
        "rows": entries,
    }


def _quartiles(values: Sequence[float]) -> list[float] | None:
    if len(values) < 4:
        return None
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return [quartiles[0], quartiles[2]]


def _rounded(pair: list[float] | None) -> list[float] | None:
    return None if pair is None else [round(pair[0], 3), round(pair[1], 3)]


def table(document: dict[str, Any]) -> str:
    """The Markdown tables of a run: requests against the bare app, verification against the limit, issuing."""
    lines = []
    for kind, title, unit in (
        ("request", "request (one GET, trivial endpoint)", "× bare Starlette"),
        ("verify", "verification alone (no request)", "× physical limit"),
        ("issue", "issuing alone (no request)", "× jwt.encode"),
    ):
        lines += ["", f"| {title} | median µs | {unit} | middle half of rounds |", "|---|---:|---:|---:|"]
        for entry in document["rows"]:
            if entry["kind"] == kind:
                ratio = "–" if entry["ratio"] is None else f"{entry['ratio']:.2f}×"
                quartiles = entry.get("ratio_quartiles")
                spread = "–" if not quartiles else f"{quartiles[0]:.2f}–{quartiles[1]:.2f}"
                lines.append(f"| {entry['name']} | {entry['median_us']:.1f} | {ratio} | {spread} |")
        if lines[-1].startswith("|---"):  # nothing of this kind was measured
            del lines[-3:]
    added = [entry for entry in document["rows"] if "added_over_primitives" in entry]
    if added:
        lines += [
            "",
            "| cold request | added over bare µs | primitives µs | added ÷ primitives | middle half of rounds |",
            "|---|---:|---:|---:|---:|",
        ]
        for entry in added:
            spread = "–" if not entry["added_quartiles"] else "{:.2f}–{:.2f}".format(*entry["added_quartiles"])
            extra, primitives = (
                "–" if entry.get(key) is None else f"{entry[key]:.1f}" for key in ("added_us", "primitives_us")
            )  # a dash in runs saved before these were kept
            lines.append(
                f"| {entry['name']} | {extra} | {primitives} | {entry['added_over_primitives']:.2f}× | {spread} |"
            )
        lines += [
            "",
            "Each cold row's three batches (the row, the bare app, the primitives) are timed side by side in every "
            "round; the two µs columns are medians over those rounds, the ratio the median of the per-round ratios.",
        ]
    versions_line = ", ".join(f"{name} {version}" for name, version in document["versions"].items())
    machine_info = document["machine"]
    lines += [
        "",
        f"Machine: {machine_info['cpu']}, {machine_info['cores']} cores, {machine_info['system']}.",
        f"Versions: {versions_line}.",
        f"{document['settings']['rounds']} paired, interleaved rounds of "
        f"{document['settings']['calls_per_round']} calls per row and baseline. A ratio is the median of the "
        "per-round ratios to the baseline batch timed beside the row, so it need not equal the quotient of the "
        "two medians shown.",
    ]
    return "\n".join(lines).lstrip("\n")


def targets_summary(document: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the measured figure and whether it was met (reported, not asserted)."""
    ratio = {entry["name"]: entry["ratio"] for entry in document["rows"]}
    median = {entry["name"]: entry["median_us"] for entry in document["rows"]}
    lines = []
    hot = [ratio.get(f"asgi-jwt {algorithm}, hot (seen before)") for algorithm in ALGORITHMS]
    if all(value is not None for value in hot):
        worst = max(value for value in hot if value is not None)
        lines.append(f"hot token ≤ 1.25× bare: worst {worst:.2f}× {'met' if worst <= 1.25 else 'MISSED'}")
    for algorithm in ALGORITHMS:
        # both ratios are to the bare app, each measured beside its own row
        ours = ratio.get(f"asgi-jwt {algorithm}, cold (never seen)")
        theirs = ratio.get(f"minimal pure-ASGI middleware + jwt.decode, {algorithm}")
        if ours and theirs:
            value = ours / theirs
            verdict = "met" if value <= 1.05 else "MISSED"
            lines.append(f"cold {algorithm} ≤ 1.05× the minimal PyJWT middleware: {value:.2f}× {verdict}")
    ours_invalid = median.get("asgi-jwt, invalid token (bad signature)")
    others = {
        name: value for name, value in median.items() if name.endswith("invalid token") and "asgi-jwt" not in name
    }
    if ours_invalid and others:
        fastest = min(others, key=lambda name: others[name])
        verdict = "met" if ours_invalid < others[fastest] else "MISSED"
        lines.append(
            f"invalid token faster than every alternative: {ours_invalid:.1f} µs vs {others[fastest]:.1f} µs "
            f"({fastest}) {verdict}"
        )
    hot, cold = ratio.get("asgi-jwt HS256, hot, revocation on (memory)"), ratio.get("asgi-jwt HS256, cold (never seen)")
    if hot is not None:
        lines.append(f"hot token, revocation on (memory) ≤ 1.3× bare: {hot:.2f}× {'met' if hot <= 1.3 else 'MISSED'}")
    revoking = ratio.get("asgi-jwt HS256, cold, revocation on (memory)")
    if revoking is not None and cold:
        value = revoking / cold
        verdict = "met" if value <= 1.1 else "MISSED"
        lines.append(f"cold token, revocation on, within 10 % of cold without: {value:.2f}× {verdict}")
    hot_redis = ratio.get("asgi-jwt HS256, hot, revocation on (Redis)")
    if hot_redis is not None:
        verdict = "met" if hot_redis <= 1.3 else "MISSED"
        lines.append(f"hot token, revocation on (Redis) ≤ 1.3× bare: {hot_redis:.2f}× {verdict}")
    cold_redis = ratio.get("asgi-jwt HS256, cold, revocation on (Redis)")
    if cold_redis is not None and cold:
        value = cold_redis / cold
        verdict = "met" if value <= 1.1 else "MISSED"
        lines.append(f"cold token, revocation on (Redis), within 10 % of cold without: {value:.2f}× {verdict}")
    added = {entry["name"]: entry.get("added_over_primitives") for entry in document["rows"]}
    for algorithm in ALGORITHMS:
        value = added.get(f"asgi-jwt {algorithm}, cold (never seen)")
        if value is None:
            continue
        bound = ADDED_TARGETS.get(algorithm)
        floor = added.get(f"{FLOOR} {algorithm}, cold (never seen)")
        context = "" if floor is None else f" (the primitives alone in a middleware: {floor:.2f}×)"
        if bound is None:
            lines.append(
                f"cold {algorithm}, added cost over the bare app ÷ its primitives: {value:.2f}× (reported){context}"
            )
        else:
            verdict = "met" if value <= bound else "MISSED"
            lines.append(
                f"cold {algorithm}, added cost over the bare app ≤ {bound:g}× its primitives: {value:.2f}× {verdict}"
                f"{context}"
            )
    for algorithm in ("HS256", "RS256"):
        value = ratio.get(f"asgi-jwt TokenVerifier.verify, {algorithm}")
        if value is not None:
            lines.append(f"stretch: cold {algorithm} verification ≤ 3× the physical limit: {value:.2f}×")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--number", type=int, default=200, help="calls per row per round (default 200)")
    parser.add_argument(
        "--only", choices=("all", "core"), default="all", help="core: only rows that need no benchmark-only dependency"
    )
    parser.add_argument(
        "--rows",
        action="append",
        default=[],
        metavar="TEXT",
        help="only rows whose name contains TEXT (repeatable; the baselines always run)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "requests.json", help="where to write the results")
    parser.add_argument("--chart", type=Path, default=CHART, help="where to render the PNG chart")
    parser.add_argument("--wall", action="store_true", help="time with the wall clock instead of CPU time")
    parser.add_argument("--no-chart", action="store_true", help="do not render the chart")
    parser.add_argument(
        "--from-json", type=Path, metavar="PATH", help="measure nothing: table and chart of a saved run"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.number < 1:
        parser.error("--rounds and --number must be at least 1")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.from_json is not None:
        document = json.loads(args.from_json.read_text(encoding="utf-8"))
        print(table(document))
        if not args.no_chart:
            from benchmarks.chart import render

            render(document, args.chart)
        return 0
    selected, skipped = [], []
    for row in rows():
        wanted = (args.only == "all" or not row.requires) and (
            not args.rows
            or row.group == "baseline"
            or (row.group == "limit" and row.kind != "request")
            or any(text in row.name for text in args.rows)
        )
        if wanted and available(row):
            selected.append(row)
        elif wanted:
            skipped.append(row)
    for row in skipped:
        lacking = missing(row)
        if any(binary in lacking for binary in row.binaries):
            log(f"skipped ({', '.join(lacking)} not installed; Debian: apt-get install redis-server): {row.name}")
        else:
            log(f"skipped (install the bench extra): {row.name}")
    log("preparing keys and tokens…")
    context = Context.create()
    context.budget = args.rounds * args.number + max(2, args.number // 10)
    results = asyncio.run(
        measure(selected, rounds=args.rounds, number=args.number, context=context, log=log, wall=args.wall)
    )
    document = report(results, rounds=args.rounds, number=args.number, skipped=skipped)
    document["settings"]["clock"] = "wall" if args.wall else "thread CPU time"
    document["targets"] = targets_summary(document)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(table(document))
    print()
    for line in document["targets"]:
        print(f"- {line}")
    print(f"\nJSON: {args.json}")
    if not args.no_chart:
        from benchmarks.chart import render

        if render(document, args.chart):
            print(f"chart: {args.chart}")
        else:
            log("chart skipped: matplotlib is not installed (pip install -e '.[bench]')")
    return 0
