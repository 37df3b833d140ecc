"""RedisRevocationStore against a real redis-server: semantics, propagation, outages, resync.

Stores in one test have mirrors of their own, exactly like stores in separate processes;
tests/test_redis_processes.py runs the same store in two uvicorn processes.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from asgi_jwt import (
    ConfigurationError,
    InvalidGrant,
    RevocationStore,
    RevocationUnavailable,
    SecretKey,
    TokenIssuer,
    TokenResponse,
    TokenRevoked,
    TokenVerifier,
)
from asgi_jwt.redis_store import RedisRevocationStore
from asgi_jwt.revocation import EXPIRY_GRACE
from redis_support import Proxy, RedisServer, redis_proxy, redis_server

__all__ = ["redis_proxy", "redis_server"]  # fixtures

FAST = {"max_staleness": 0.6, "health_interval": 0.1, "timeout": 0.2, "load_timeout": 0.5}
HANG = 5.0  # any call still running after this long counts as a hang


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 300, "jti": "token-1", **extra}


def refused(store: RedisRevocationStore, token: dict[str, Any]) -> bool:
    try:
        store.check(token)
    except TokenRevoked:
        return True
    return False


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def stores() -> AsyncIterator[Callable[..., RedisRevocationStore]]:
    made: list[RedisRevocationStore] = []

    def make(url: str, **options: Any) -> RedisRevocationStore:
        store = RedisRevocationStore(url, **{**FAST, **options})
        made.append(store)
        return store

    yield make
    for store in made:
        await store.shutdown()


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


async def test_satisfies_the_protocol_and_refuses_in_the_same_process_once_revoke_returns(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    store = stores(redis_server.url)
    assert isinstance(store, RevocationStore)
    assert not store.ready
    await store.load()
    assert store.ready
    store.check(claims())
    await store.revoke("token-1", expires_at=time.time() + 60)
    with pytest.raises(TokenRevoked) as caught:
        store.check(claims())
    assert caught.value.status_code == 401
    assert caught.value.description == "Token has been revoked"
    store.check(claims(jti="token-2"))
    store.check({key: value for key, value in claims().items() if key != "jti"})  # no jti: not revocable alone
    store.check(claims(jti=["not", "hashable"]))  # odd claim types are no crash


async def test_a_revocation_reaches_another_mirror_and_a_late_joiner(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    first, second = stores(redis_server.url), stores(redis_server.url)
    await first.load()
    await second.load()
    await first.revoke("token-1", expires_at=time.time() + 60)
    await first.revoke_family("family-9", expires_at=time.time() + 60)
    await eventually(lambda: refused(second, claims()), "the jti revoked elsewhere is refused", timeout=1.0)
    await eventually(lambda: refused(second, claims(jti="other", fam="family-9")), "the family is refused")
    late = stores(redis_server.url)
    await late.load()  # its snapshot holds what was revoked before it started
    assert refused(late, claims())
    assert refused(late, claims(jti="other", fam="family-9"))
    assert not refused(late, claims(jti="other", fam="family-8"))


async def test_a_cached_token_revoked_elsewhere_is_refused_on_its_next_hit(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    """Hits skip the mirror for tokens found unrevoked until the store's generation moves: a revocation
    mirrored from another process moves it, so the very next hit is checked and refused."""
    here, elsewhere = stores(redis_server.url), stores(redis_server.url)
    await here.load()
    await elsewhere.load()
    key = SecretKey("a-secret-of-at-least-32-bytes-for-hs256!")
    verifier = TokenVerifier(key, revocation=here)
    token, other = key.encode(claims()), key.encode(claims(jti="token-2"))
    assert (await verifier.verify(token))["jti"] == "token-1"
    assert (await verifier.verify(other))["jti"] == "token-2"
    for _ in range(2):  # found unrevoked once, then answered without the mirror
        assert verifier.cached(token) is not None
    before = here.generation
    await elsewhere.revoke("token-1", expires_at=time.time() + 60)
    await eventually(lambda: here.generation > before, "the revocation reaches this process's mirror", timeout=1.0)
    with pytest.raises(TokenRevoked):
        verifier.cached(token)
    assert verifier.cached(other) is not None  # the others still hit


async def test_subject_cutoff_refuses_older_tokens_only_and_never_moves_back(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    first, second = stores(redis_server.url), stores(redis_server.url)
    await first.load()
    await second.load()
    now = time.time()
    await first.revoke_subject("alice", before=now, expires_at=now + 600)
    await first.revoke_subject("alice", before=now - 100, expires_at=now + 600)  # earlier cut-off: ignored
    for store in (first, second):
        await eventually(lambda store=store: refused(store, claims(iat=int(now) - 50)), "older token refused")
        assert not refused(store, claims(iat=int(now) + 1))
        assert refused(store, {"sub": "alice", "jti": "no-iat"})  # cannot prove it is newer
        assert not refused(store, claims(sub="bob", iat=int(now) - 50))


async def test_entries_expire_with_their_token_in_redis_and_in_the_mirror(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], raw: Any
) -> None:
    clock_now = [time.time()]
    store = stores(redis_server.url, clock=lambda: clock_now[0])
    await store.load()
    await store.revoke("short", expires_at=clock_now[0] + 30)  # kept EXPIRY_GRACE longer: the verifiers' leeway
    await store.revoke("long", expires_at=clock_now[0] + 90)
    ttl = (90 + EXPIRY_GRACE) * 1000
    assert ttl - 10_000 < await raw.pttl("asgi-jwt:revoked:jti") <= ttl  # the key lives as long as its last entry
    await store.revoke("dead", expires_at=clock_now[0] - EXPIRY_GRACE - 1)  # expired, leeway too: nothing to do
    assert await raw.zrange("asgi-jwt:revoked:jti", 0, -1) == ["short", "long"]
    clock_now[0] += 30 + EXPIRY_GRACE + 1
    assert refused(store, claims(jti="short"))  # the mirror forgets at its next sweep, not on a check
    await store.revoke("later", expires_at=clock_now[0] + 30)  # a write trims what has expired
    assert await raw.zrange("asgi-jwt:revoked:jti", 0, -1) == ["long", "later"]
    await eventually(lambda: not refused(store, claims(jti="short")), "the mirror forgets an expired entry")
    assert refused(store, claims(jti="long"))


async def test_spend_has_exactly_one_winner_across_stores(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], raw: Any
) -> None:
    first, second = stores(redis_server.url), stores(redis_server.url)
    expires = time.time() + 60
    results = await asyncio.gather(*(store.spend("refresh-1", expires_at=expires) for store in [first, second] * 10))
    assert results.count(True) == 1
    assert 0 < await raw.pttl("asgi-jwt:spent:refresh-1") <= (60 + EXPIRY_GRACE) * 1000
    assert await first.spend("refresh-2", expires_at=expires) is True


async def test_prefixes_keep_applications_apart(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    orders, billing = stores(redis_server.url, prefix="orders:"), stores(redis_server.url, prefix="billing:")
    await orders.load()
    await billing.load()
    await orders.revoke("token-1", expires_at=time.time() + 60)
    assert await billing.spend("token-1", expires_at=time.time() + 60)
    assert await orders.spend("token-1", expires_at=time.time() + 60)
    fresh = stores(redis_server.url, prefix="billing:")
    await fresh.load()
    assert not refused(fresh, claims())
    assert not refused(billing, claims())


async def test_redis_stopped_fails_closed_in_bounded_time_and_recovers_by_itself(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="asgi_jwt.revocation")
    store = stores(redis_server.url)
    await store.load()
    redis_server.stop()
    await eventually(lambda: not store.ready, "the store stops vouching")
    with pytest.raises(RevocationUnavailable) as caught:
        store.check(claims())
    assert (caught.value.status_code, caught.value.retry_after) == (503, 2)
    with pytest.raises(RevocationUnavailable):
        await asyncio.wait_for(store.load(), HANG)
    with pytest.raises(RevocationUnavailable):
        await asyncio.wait_for(store.revoke("token-1", expires_at=time.time() + 60), HANG)
    with pytest.raises(RevocationUnavailable):
        await asyncio.wait_for(store.spend("token-1", expires_at=time.time() + 60), HANG)
    redis_server.start()  # same port, empty: its data died with it
    await eventually(lambda: store.ready, "the store recovers without help", timeout=5)
    assert refused(store, claims())  # revoked locally while Redis was down: never forgotten
    messages = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert any(level == "WARNING" and "requests get 503" in text for level, text in messages)
    assert any(level == "INFO" and "reachable again" in text for level, text in messages)


async def test_redis_frozen_fails_closed_without_hanging_and_recovers(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    first, second = stores(redis_server.url), stores(redis_server.url)
    await first.load()
    await second.load()
    redis_server.freeze()
    try:
        await eventually(lambda: not first.ready, "the store stops vouching while Redis hangs")
        with pytest.raises(RevocationUnavailable):
            await asyncio.wait_for(first.load(), HANG)
        with pytest.raises(RevocationUnavailable):
            await asyncio.wait_for(first.revoke("token-1", expires_at=time.time() + 60), HANG)
    finally:
        redis_server.thaw()
    await eventually(lambda: first.ready and second.ready, "both stores recover without help", timeout=5)
    assert refused(first, claims())  # applied locally although Redis never confirmed it
    await first.revoke("token-2", expires_at=time.time() + 60)
    await eventually(lambda: refused(second, claims(jti="token-2")), "revocations flow again", timeout=1.0)


async def test_a_busy_event_loop_is_not_mistaken_for_an_outage(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], caplog: pytest.LogCaptureFixture
) -> None:
    store = stores(redis_server.url)
    await store.load()
    for _ in range(3):  # the app blocks its loop past the PING's deadline, though not past max_staleness
        await asyncio.sleep(FAST["health_interval"])
        time.sleep(FAST["timeout"] * 2.5)  # noqa: ASYNC251 - the blocking app under test
    await eventually(lambda: store.ready, "the store vouches again")
    assert not [record for record in caplog.records if "lost Redis" in record.getMessage()]


async def test_shutdown_returns_while_redis_hangs(redis_server: RedisServer) -> None:
    store = RedisRevocationStore(redis_server.url, **FAST)
    await store.load()
    redis_server.freeze()
    try:
        await asyncio.wait_for(store.shutdown(), HANG)
    finally:
        redis_server.thaw()
    assert not store.ready


async def test_a_mirror_cut_off_resyncs_what_it_missed(
    redis_server: RedisServer, redis_proxy: Proxy, stores: Callable[..., RedisRevocationStore]
) -> None:
    writer, cut_off = stores(redis_server.url), stores(redis_proxy.url)
    await writer.load()
    await cut_off.load()
    redis_proxy.cut()
    await eventually(lambda: not cut_off.ready, "the cut-off store stops vouching")
    await writer.revoke("token-1", expires_at=time.time() + 60)
    await writer.revoke_subject("bob", before=time.time(), expires_at=time.time() + 60)
    assert not refused(writer, claims(jti="token-2"))
    with pytest.raises(RevocationUnavailable):
        cut_off.check(claims())
    redis_proxy.restore()
    await eventually(lambda: cut_off.ready, "the store reconnects", timeout=5)
    assert refused(cut_off, claims())
    assert refused(cut_off, claims(sub="bob", jti="token-3", iat=int(time.time()) - 10))


async def test_fail_open_admits_with_warnings_on_every_transition(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asgi_jwt.revocation")
    store = stores(redis_server.url, fail_open=True)
    await store.revoke("token-1", expires_at=time.time() + 60)
    redis_server.stop()
    await eventually(lambda: any("lost Redis" in record.getMessage() for record in caplog.records), "a warning")
    await asyncio.wait_for(store.load(), HANG)
    assert store.ready
    store.check(claims(jti="token-2"))  # admitted on the list it has
    assert refused(store, claims())  # what it knows is still refused
    redis_server.start()
    await eventually(lambda: any("reachable again" in record.getMessage() for record in caplog.records), "recovery")
    assert all(record.levelname == "WARNING" for record in caplog.records)


async def test_unreachable_redis_at_first_load_is_a_503_not_a_hang(
    stores: Callable[..., RedisRevocationStore],
) -> None:
    from redis_support import free_port

    store = stores(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RevocationUnavailable) as caught:
        await asyncio.wait_for(store.load(), HANG)
    assert caught.value.status_code == 503
    assert not store.ready


async def test_a_malformed_message_is_ignored(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = stores(redis_server.url)
    await store.load()
    await raw.publish("asgi-jwt:revocations", "not json")
    await raw.publish("asgi-jwt:revocations", '["nope", "x", 1, null]')
    await stores(redis_server.url).revoke("token-1", expires_at=time.time() + 60)
    await eventually(lambda: refused(store, claims()), "a good message after bad ones")
    assert store.ready
    assert sum("malformed" in record.getMessage() for record in caplog.records) == 2


async def test_a_full_list_refuses_new_revocations_rather_than_forget_old_ones(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], caplog: pytest.LogCaptureFixture
) -> None:
    store = stores(redis_server.url, max_entries=2)
    await store.load()
    for name in ("a", "b"):
        await store.revoke(name, expires_at=time.time() + 60)
    with pytest.raises(RevocationUnavailable) as caught:
        await store.revoke("c", expires_at=time.time() + 60)
    assert caught.value.description == "The revocation list is full"
    await store.revoke("a", expires_at=time.time() + 120)  # extending a live entry is no new entry
    assert store.ready
    assert refused(store, claims(jti="a"))
    assert refused(store, claims(jti="b"))
    assert not refused(store, claims(jti="c"))
    assert any(record.levelname == "WARNING" and "full" in record.getMessage() for record in caplog.records)


async def test_a_mirror_too_small_for_the_shared_list_fails_closed(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore], caplog: pytest.LogCaptureFixture
) -> None:
    small = stores(redis_server.url, max_entries=2)
    await small.load()
    writer = stores(redis_server.url, max_entries=10)
    for name in ("a", "b", "c"):
        await writer.revoke(name, expires_at=time.time() + 60)
    await eventually(lambda: not small.ready, "the small mirror stops vouching")
    with pytest.raises(RevocationUnavailable):
        small.check(claims())
    assert any(record.levelname == "ERROR" and "max_entries=2" in record.getMessage() for record in caplog.records)


def test_bad_arguments_are_type_errors(redis_server: RedisServer) -> None:
    store = RedisRevocationStore(redis_server.url)
    for call in (
        store.revoke("", expires_at=time.time()),
        store.revoke_family(None, expires_at=time.time()),  # type: ignore[arg-type]
        store.revoke_subject("alice", before="yesterday", expires_at=time.time() + 60),  # type: ignore[arg-type]
        store.spend("x", expires_at=float("nan")),
    ):
        with pytest.raises(TypeError):
            asyncio.run(call)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://localhost"}, "invalid Redis URL"),
        ({"prefix": ""}, "prefix"),
        ({"health_interval": 2.0, "max_staleness": 2.0}, "health_interval < max_staleness"),
        ({"timeout": 0}, "timeout"),
        ({"retry_after": 0}, "retry_after"),
        ({"max_entries": 0}, "max_entries"),
    ],
)
def test_misconfiguration_fails_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisRevocationStore(**options)


def test_without_redis_py_the_import_error_names_the_extra() -> None:
    code = "import sys; sys.modules['redis'] = None\nimport asgi_jwt.redis_store"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 1
    assert "pip install 'asgi-jwt[redis]'" in result.stderr


async def test_refresh_across_processes_one_winner_then_the_family_is_logged_out(
    redis_server: RedisServer, stores: Callable[..., RedisRevocationStore]
) -> None:
    key = SecretKey("a-secret-of-at-least-32-bytes-for-hs256!")
    first, second = stores(redis_server.url), stores(redis_server.url)
    issuers = [TokenIssuer(key, issuer="https://auth.example.com", revocation=store) for store in (first, second)]
    pair = issuers[0].issue_pair("alice")
    results = await asyncio.gather(
        *(issuer.refresh(pair.refresh_token or "") for issuer in issuers * 3), return_exceptions=True
    )
    winners = [result for result in results if isinstance(result, TokenResponse)]
    assert len(winners) == 1
    assert all(isinstance(result, InvalidGrant) for result in results if result is not winners[0])
    # the losers presented a spent token: reuse, so the whole family is revoked, the winner's tokens included
    claims_of_winner = await TokenVerifier(key, issuer="https://auth.example.com").verify(winners[0].access_token)
    for store in (first, second):
        await eventually(lambda store=store: refused(store, claims_of_winner), "the family refused everywhere", 1.0)
    with pytest.raises(TokenRevoked):
        await TokenVerifier(key, issuer="https://auth.example.com", revocation=second).verify(winners[0].access_token)
    with pytest.raises(InvalidGrant):
        await issuers[1].refresh(winners[0].refresh_token or "")
