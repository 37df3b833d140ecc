"""Remote keys against hostile and changing endpoints, over a real uvicorn server on 127.0.0.1.

Compressed bombs (a body that inflates to gigabytes) must cost no more than the
``max_bytes`` cap, and a key removed from the endpoint must stop working once its
key set's TTL is over, even for tokens the verifier has cached.
"""

from __future__ import annotations

import functools
import gzip
import json
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable

import pytest
from starlette.types import Receive, Scope, Send

from asgi_jwt import JWKSError, JWKSResolver
from conftest import Clock
from jwks_servers import KeyServer, Server, answer, asgi_get, protected_app
from jwks_support import claims_for, jwk_set, rsa_key, until

MEGABYTE = bytes(1 << 20)


@functools.cache
def zeros_gzip(megabytes: int) -> bytes:
    """A valid gzip stream of ``megabytes`` MiB of zeros, about 1 KiB on the wire per MiB, built in milliseconds.

    After a full flush the compressor starts afresh, so every further megabyte of zeros
    compresses to the same block: the block is repeated instead of compressing gigabytes.
    """
    engine = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = engine.compress(MEGABYTE) + engine.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(MEGABYTE, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * megabytes + engine.flush() + struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)


class Encoded:
    """A JWK Set endpoint that serves one body with the ``Content-Encoding`` the test chooses."""

    def __init__(self) -> None:
        self.body = b""
        self.encoding = b"identity"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await answer(send, 200, self.body, b"application/json", (b"content-encoding", self.encoding))


@pytest.fixture
async def encoded() -> AsyncIterator[tuple[Encoded, str]]:
    endpoint = Encoded()
    server = Server(endpoint)
    assert await server.start()
    yield endpoint, f"{server.url}/jwks.json"
    await server.stop()


def test_the_bombs_are_what_they_claim() -> None:
    bomb = zeros_gzip(4)
    assert gzip.decompress(bomb) == bytes(4 << 20)
    assert len(zeros_gzip(256)) < 300_000  # 256 MiB from a quarter of a megabyte
    assert len(gzip.compress(zeros_gzip(1024))) < 20_000  # a gigabyte, gzipped twice: kilobytes


BOMBS = {
    # 256 MiB of zeros, gzipped once: the cap must stop the inflating, not the wire size.
    "gzip bomb": (lambda: zeros_gzip(256), b"gzip", "the response is larger than 524288 bytes"),
    # 1 GiB gzipped twice, the 3.5 KB kind: refused from its headers, never inflated.
    "double gzip bomb": (
        lambda: gzip.compress(zeros_gzip(1024)),
        b"gzip, gzip",
        "the response is compressed more than once (stacked Content-Encoding)",
    ),
    "another coding on top": (
        lambda: gzip.compress(zeros_gzip(1024)),
        b"deflate, gzip",
        "the response is compressed more than once (stacked Content-Encoding)",
    ),
    "unsupported coding": (
        lambda: b"\x00" * 64,
        b"br",
        "the response uses a Content-Encoding other than gzip or deflate",
    ),
    "truncated gzip": (
        lambda: gzip.compress(b'{"keys": []}')[:-12],
        b"gzip",
        "the compressed response is truncated",
    ),
    "a second gzip member": (
        lambda: gzip.compress(b'{"keys": []}') * 2,
        b"gzip",
        "the compressed response has data after its end",
    ),
    "corrupt gzip": (lambda: b"\x1f\x8b\x08\x00" + b"\xff" * 64, b"gzip", "the compressed response is corrupt"),
}


@pytest.mark.parametrize(("body", "encoding", "reason"), BOMBS.values(), ids=BOMBS.keys())
async def test_compressed_bombs_are_a_fetch_failure_that_costs_no_more_than_the_cap(
    body: Callable[[], bytes], encoding: bytes, reason: str, encoded: tuple[Encoded, str], clock: Clock
) -> None:
    endpoint, url = encoded
    endpoint.body = body()
    endpoint.encoding = encoding
    keys = JWKSResolver(url, clock=clock)
    tracemalloc.start()
    try:
        with pytest.raises(JWKSError) as caught:
            await keys.refresh()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == f"could not load the JWK Set from {url}: {reason}"
    assert peak < 16 * 2**20  # the cap (512 KiB) and buffers, never the hundreds of megabytes it inflates to
    # Through the middleware: no keys, so the request is a 503 with Retry-After, never a 500.
    status, headers = await asgi_get(protected_app(keys, clock), rsa_key("k1").encode(claims_for(clock.now)))
    assert (status, headers[b"retry-after"]) == (503, b"30")


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        (b"gzip", gzip.compress),
        (b"x-gzip", gzip.compress),
        (b"deflate", zlib.compress),  # RFC 9110: the zlib format
        (b"deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # what some servers send instead
        (b"identity", lambda data: data),
    ],
    ids=["gzip", "x-gzip", "deflate", "raw deflate", "identity"],
)
async def test_a_compressed_jwk_set_still_works(
    encoding: bytes, compress: Callable[[bytes], bytes], encoded: tuple[Encoded, str], clock: Clock
) -> None:
    endpoint, url = encoded
    document = jwk_set(rsa_key("k1"), rsa_key("k2"))
    endpoint.body = compress(json.dumps(document).encode())
    endpoint.encoding = encoding
    keys = JWKSResolver(url, clock=clock)
    await keys.refresh()
    assert keys.key_set is not None
    assert keys.key_set.kids == {"k1", "k2"}
    status, _ = await asgi_get(protected_app(keys, clock), rsa_key("k2").encode(claims_for(clock.now)))
    assert status == 200


# ---------------------------------------------------------------------------- removed keys and cached tokens


@pytest.fixture
async def key_server() -> AsyncIterator[tuple[KeyServer, Server]]:
    keys = KeyServer(rsa_key("k1"))  # answers with Cache-Control: max-age=300
    server = Server(keys)
    assert await server.start()
    yield keys, server
    await server.stop()


async def test_a_removed_key_stops_working_for_cached_tokens_once_the_ttl_is_over(
    key_server: tuple[KeyServer, Server], clock: Clock
) -> None:
    served, server = key_server
    keys = JWKSResolver(f"{server.url}/jwks.json", clock=clock)
    app = protected_app(keys, clock)
    token = rsa_key("k1").encode({**claims_for(clock.now), "exp": int(clock.now) + 7200})
    assert (await asgi_get(app, token))[0] == 200
    assert (await asgi_get(app, token))[0] == 200  # from the cache
    served.document = jwk_set(rsa_key("k2"))  # the identity provider removes k1
    clock.now += 299
    assert (await asgi_get(app, token))[0] == 200  # the keys are still within their TTL
    assert served.fetches == 1
    clock.now += 2  # past the TTL: the cached token goes back through the resolver, which starts the refresh
    assert (await asgi_get(app, token))[0] == 200  # served from the keys in hand meanwhile (stale-while-revalidate)
    await until(lambda: not keys.fetching)
    assert served.fetches == 2
    for _ in range(3):
        assert (await asgi_get(app, token))[0] == 401
    assert (await asgi_get(app, rsa_key("k2").encode(claims_for(clock.now))))[0] == 200


async def test_cached_tokens_live_through_an_outage_only_while_the_endpoint_is_unreachable(
    key_server: tuple[KeyServer, Server], clock: Clock
) -> None:
    served, server = key_server
    keys = JWKSResolver(f"{server.url}/jwks.json", clock=clock, cooldown=30, stale_for=3600)
    app = protected_app(keys, clock)
    token = rsa_key("k1").encode({**claims_for(clock.now), "exp": int(clock.now) + 7200})
    assert (await asgi_get(app, token))[0] == 200
    await server.stop()  # the identity provider goes down
    clock.now += 301
    assert (await asgi_get(app, token))[0] == 200  # the stale keys serve, and a refresh is tried
    await until(lambda: not keys.fetching)
    clock.now += 100
    assert (await asgi_get(app, token))[0] == 200  # still down: the documented stale period
    await until(lambda: not keys.fetching)
    served.document = jwk_set(rsa_key("k2"))
    assert await server.start()  # back, without k1
    clock.now += 30  # one cooldown: the next use of the cached token brings a refresh along
    assert (await asgi_get(app, token))[0] == 200
    await until(lambda: not keys.fetching)
    assert keys.key_set is not None
    assert keys.key_set.kids == {"k2"}
    assert (await asgi_get(app, token))[0] == 401
