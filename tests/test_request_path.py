"""The lean request path: what the middleware prepares once, and what it must still do per request.

Rejections are rendered once per distinct answer and replayed, so nothing another
middleware does to one answer may leak into the next; a cached token's ``scope["auth"]``
and ``scope["user"]`` are built once and shared; the scope the app sees is the one the
server passed (never a copy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from asgi_jwt import (
    AuthError,
    InvalidToken,
    JWTAuthMiddleware,
    MultiIssuerVerifier,
    SecretKey,
    TokenVerifier,
    VerificationKey,
)
from asgi_jwt.cache import DEFAULT_CACHE_SIZE
from asgi_jwt.credentials import HeaderTokens
from conftest import AUDIENCE, ISSUER, SECRET, Clock, TokenFactory

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"


class Recorder:
    """An inner app that remembers the scopes it was given."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        await PlainTextResponse("ok")(scope, receive, send)


class Tagging:
    """An outer middleware that edits the start message's header list in place, as some do."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tag(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-tag", b"1"))
            await send(message)

        await self.app(scope, receive, tag)


async def call(app: Any, token: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes, Scope]:
    return await call_with(app, [(b"authorization", f"Bearer {token}".encode())] if token else [])


async def call_with(app: Any, extra: list[tuple[bytes, bytes]]) -> tuple[int, list[tuple[bytes, bytes]], bytes, Scope]:
    headers = [(b"host", b"testserver"), *extra]
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": headers}
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages[0]["status"], list(messages[0]["headers"]), messages[1]["body"], scope


async def test_a_replayed_rejection_carries_nothing_from_the_previous_one(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = Tagging(JWTAuthMiddleware(Recorder(), verifier=verifier))
    forged = make_token(key=SecretKey(OTHER_SECRET))
    first = await call(app, forged)
    second = await call(app, forged)
    assert first[0] == second[0] == 401
    assert first[1] == second[1]
    assert first[1].count((b"x-tag", b"1")) == 1
    assert first[2] == second[2] == b'{"detail":"Invalid token signature","error":"invalid_token"}'
    assert (
        b"www-authenticate",
        b'Bearer realm="api", error="invalid_token", error_description="Invalid token signature"',
    ) in first[1]


async def test_each_kind_of_rejection_keeps_its_own_answer(
    verifier: TokenVerifier, clock: Clock, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    answers = {}
    for name, token in (
        ("forged", make_token(key=SecretKey(OTHER_SECRET))),
        ("expired", make_token(exp=int(clock.now) - 3600)),
        ("missing", None),
        ("forged again", make_token(key=SecretKey(OTHER_SECRET), sub="bob")),
    ):
        status, headers, body, _ = await call(app, token)
        answers[name] = (status, dict(headers).get(b"www-authenticate"), body)
    assert answers["forged"] == answers["forged again"]
    assert answers["expired"] == (
        401,
        b'Bearer realm="api", error="invalid_token", error_description="Token has expired"',
        b'{"detail":"Token has expired","error":"invalid_token"}',
    )
    assert answers["missing"][:2] == (401, b'Bearer realm="api"')


async def test_on_error_is_asked_for_every_rejection(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    seen: list[str] = []

    def on_error(conn: HTTPConnection, error: AuthError) -> Response:
        seen.append(error.reason)
        return PlainTextResponse("no", status_code=error.status_code)

    app = JWTAuthMiddleware(Recorder(), verifier=verifier, on_error=on_error)
    forged = make_token(key=SecretKey(OTHER_SECRET))
    for _ in range(2):
        status, _, body, _ = await call(app, forged)
        assert (status, body) == (401, b"no")
    assert seen == ["invalid_signature", "invalid_signature"]


async def test_the_app_gets_the_servers_scope_not_a_copy(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    recorder = Recorder()
    app = JWTAuthMiddleware(recorder, verifier=verifier)
    _, _, _, scope = await call(app, make_token())
    assert recorder.scopes[0] is scope
    assert scope["user"].identity == "alice"


async def test_a_cached_token_shares_its_auth_and_user_objects(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    recorder = Recorder()
    app = JWTAuthMiddleware(recorder, verifier=verifier)
    alice, bob = make_token(scope="a b"), make_token(sub="bob")
    for token in (alice, alice, bob, alice, alice):
        status, _, _, _ = await call(app, token)
        assert status == 200
    first, second, other, third, fourth = recorder.scopes
    assert second["auth"] is third["auth"] is fourth["auth"]  # kept from the token's second sight on
    assert second["user"] is third["user"] is fourth["user"]
    assert first["auth"] is not second["auth"]  # a first sight keeps nothing: most tokens are never seen again
    assert first["auth"].claims == second["auth"].claims
    assert first["auth"].token == second["auth"].token
    assert first["user"].identity == second["user"].identity == "alice"
    assert first["auth"].scopes == second["auth"].scopes == frozenset({"a", "b"})
    assert other["user"].identity == "bob"
    assert other["auth"] is not second["auth"]


@pytest.mark.parametrize("cache_size", [0, 10])
async def test_without_a_cache_every_request_gets_fresh_objects_with_the_same_answer(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory, cache_size: int
) -> None:
    verifier = TokenVerifier(secret_key, issuer=None, audience=None, clock=clock, cache_size=cache_size)
    recorder = Recorder()
    app = JWTAuthMiddleware(recorder, verifier=verifier)
    token = make_token(aud=None, iss=None)
    for _ in range(3):
        assert (await call(app, token))[0] == 200
    first, second, third = recorder.scopes
    assert first["user"].identity == second["user"].identity == third["user"].identity == "alice"
    assert first["auth"] is not second["auth"]  # the first sight keeps nothing, with or without a cache
    assert (second["auth"] is third["auth"]) is bool(cache_size)


# An Authorization header seen before maps straight to its token ----------------------------------


class ChangingKeys:
    """A resolver whose ``version`` moves when a key is removed, as a JWKS refresh's does."""

    def __init__(self, *keys: SecretKey) -> None:
        self.keys = list(keys)
        self.version = 0

    def remove(self, key: SecretKey) -> None:
        self.keys.remove(key)
        self.version += 1

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        return [found for key in self.keys for found in key.verification_keys]


class RecordingVerifier(TokenVerifier):
    """A TokenVerifier that records the token objects its synchronous lookup is given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked_up: list[str] = []

    def cached(self, token: str) -> Any:  # type: ignore[override]
        self.looked_up.append(token)
        return super().cached(token)


def recording_verifier(secret_key: SecretKey, clock: Clock, **options: Any) -> RecordingVerifier:
    return RecordingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, **options)


async def test_a_repeated_header_is_not_parsed_again(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    verifier = recording_verifier(secret_key, clock)
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    token = make_token()
    for _ in range(3):
        assert (await call(app, token))[0] == 200
    first, second, third = verifier.looked_up
    assert first == token
    assert second is third  # one str object for the header, its hash computed once


@pytest.mark.parametrize("spelling", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer   {}  ", "Bearer \t{}"])
async def test_every_spelling_of_the_header_reaches_the_same_cached_token(
    verifier: TokenVerifier, make_token: TokenFactory, spelling: str
) -> None:
    recorder = Recorder()
    app = JWTAuthMiddleware(recorder, verifier=verifier)
    token = make_token()
    for _ in range(2):  # verified, then kept on its second sight
        assert (await call(app, token))[0] == 200
    for _ in range(2):
        status, _, _, scope = await call_with(app, [(b"authorization", spelling.format(token).encode())])
        assert status == 200
        assert scope["auth"] is recorder.scopes[1]["auth"]


async def test_a_remembered_header_still_expires_with_its_token(
    verifier: TokenVerifier, clock: Clock, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    token = make_token(exp=int(clock.now) + 60)
    assert (await call(app, token))[0] == 200
    clock.now += 120  # past exp and the 30 s leeway
    for _ in range(2):
        status, _, body, _ = await call(app, token)
        assert (status, body) == (401, b'{"detail":"Token has expired","error":"invalid_token"}')


async def test_a_remembered_header_dies_with_the_key_that_signed_it(clock: Clock, make_token: TokenFactory) -> None:
    old, new = SecretKey(SECRET, kid="old"), SecretKey(OTHER_SECRET, kid="new")
    keys = ChangingKeys(old, new)
    app = JWTAuthMiddleware(Recorder(), verifier=TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=clock))
    token = make_token(key=old)
    for _ in range(2):
        assert (await call(app, token))[0] == 200
    keys.remove(old)
    status, _, body, _ = await call(app, token)
    assert (status, body) == (401, b'{"detail":"Invalid token signature","error":"invalid_token"}')


async def test_a_header_that_failed_is_checked_again_each_time(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    verifier = recording_verifier(secret_key, clock)
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    forged = make_token(key=SecretKey(OTHER_SECRET))
    for _ in range(3):
        assert (await call(app, forged))[0] == 401
    assert len({id(token) for token in verifier.looked_up}) == 3  # parsed afresh each time: never remembered


async def test_a_remembered_header_sent_twice_is_still_a_bad_request(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    value = f"Bearer {make_token()}".encode()
    assert (await call_with(app, [(b"authorization", value)]))[0] == 200
    status, _, body, _ = await call_with(app, [(b"authorization", value), (b"authorization", value)])
    assert (status, body) == (400, b'{"detail":"Only one Authorization header is allowed","error":"invalid_request"}')


async def test_remembered_headers_are_bounded_by_the_cache_size(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    verifier = recording_verifier(secret_key, clock, cache_size=3)
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    tokens = [make_token(sub=f"user-{number}") for number in range(10)]
    for token in tokens + tokens:  # the map's own bound is tested in test_credentials
        assert (await call(app, token))[0] == 200
    for _ in range(3):  # a hit: remembered, then served from the map
        assert (await call(app, tokens[-1]))[0] == 200
    assert verifier.looked_up[-1] is verifier.looked_up[-2]  # the newest header is remembered


async def test_only_the_plain_spelling_of_a_header_is_remembered(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    """Padding or re-casing one valid token cannot fill the map with copies of it."""
    verifier = recording_verifier(secret_key, clock)
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    token = make_token()
    for padding in range(1, 5):
        for scheme in ("Bearer", "bearer", "BEARER"):
            value = f"{scheme}{' ' * padding}{token}{' ' * padding}".encode()
            assert (await call_with(app, [(b"authorization", value)]))[0] == 200
    assert len({id(seen) for seen in verifier.looked_up}) == 12  # parsed afresh each time: never remembered
    for _ in range(3):
        assert (await call(app, token))[0] == 200
    first, second, third = verifier.looked_up[-3:]
    assert first is second is third  # the plain spelling is remembered once verified


async def test_nothing_is_remembered_when_the_verifier_keeps_no_cache(
    secret_key: SecretKey, clock: Clock, make_token: TokenFactory
) -> None:
    verifier = TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock, cache_size=0)
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    for _ in range(2):
        assert (await call(app, make_token()))[0] == 200
    assert HeaderTokens.for_verifier(verifier, serves_hits=False).max_size == 0  # what such a verifier gets


async def test_a_verifier_with_a_cache_of_its_own_kind_works(verifier: TokenVerifier, make_token: TokenFactory) -> None:
    class OwnCacheVerifier:
        cache = type("Cache", (), {"max_size": None})()  # not a VerifiedTokenCache: its size means nothing to us

        async def verify(self, token: str) -> Any:
            return await verifier.verify(token)

    app = JWTAuthMiddleware(Recorder(), verifier=OwnCacheVerifier())
    for _ in range(2):
        assert (await call(app, make_token()))[0] == 200


async def test_a_bytearray_header_value_is_read_not_a_server_error(
    verifier: TokenVerifier, make_token: TokenFactory
) -> None:
    """ASGI says bytes; a server that passes a bytearray still gets an answer, not a 500."""
    app = JWTAuthMiddleware(Recorder(), verifier=verifier)
    for _ in range(2):
        value = bytearray(f"Bearer {make_token()}".encode())
        assert (await call_with(app, [(b"authorization", value)]))[0] == 200


async def test_headers_are_remembered_for_a_verifier_with_caches_of_its_own(
    verifier: TokenVerifier, make_token: TokenFactory, clock: Clock
) -> None:
    """MultiIssuerVerifier answers hits from its issuers' caches: the map works for it too, and expiry still wins."""
    app = JWTAuthMiddleware(Recorder(), verifier=MultiIssuerVerifier([verifier]))
    token = make_token(exp=int(clock.now) + 60)
    for _ in range(2):
        assert (await call(app, token))[0] == 200
    assert HeaderTokens.for_verifier(app.verifier, serves_hits=True).max_size == DEFAULT_CACHE_SIZE
    clock.now += 120
    status, _, body, _ = await call(app, token)
    assert (status, body) == (401, b'{"detail":"Token has expired","error":"invalid_token"}')


# Verifier subclasses: the synchronous cache look-up never bypasses an overridden verify or cached ----


async def test_a_subclass_that_overrides_verify_sees_every_request(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    """A denylist in an overridden ``verify`` must not be bypassed by the verified-token cache."""
    revoked: set[str] = set()

    class RevokingVerifier(TokenVerifier):
        async def verify(self, token: str) -> Any:
            claims = await super().verify(token)
            if claims.get("jti") in revoked:
                raise InvalidToken("Token has been revoked")
            return claims

    app = JWTAuthMiddleware(
        Recorder(), verifier=RevokingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    )
    token = make_token(jti="j1")
    assert (await call(app, token))[0] == 200
    revoked.add("j1")
    status, _, body, _ = await call(app, token)
    assert (status, body) == (401, b'{"detail":"Token has been revoked","error":"invalid_token"}')


async def test_a_subclass_that_overrides_both_keeps_its_cache(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    calls: list[str] = []

    class CountingVerifier(TokenVerifier):
        async def verify(self, token: str) -> Any:
            calls.append("verify")
            return await super().verify(token)

        def cached(self, token: str) -> Any:
            return super().cached(token)

    app = JWTAuthMiddleware(
        Recorder(), verifier=CountingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    )
    token = make_token()
    for _ in range(3):
        assert (await call(app, token))[0] == 200
    assert calls == ["verify"]


async def test_a_subclass_checking_hits_in_its_own_cached_is_asked_for_every_hit(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    """A denylist in an overridden ``cached`` (and ``verify``) applies to repeated tokens too."""
    revoked: set[str] = set()

    class RevokingVerifier(TokenVerifier):
        def _refuse_revoked(self, claims: Any) -> Any:
            if claims is not None and claims.get("jti") in revoked:
                raise InvalidToken("Token has been revoked")
            return claims

        async def verify(self, token: str) -> Any:
            return self._refuse_revoked(await super().verify(token))

        def cached(self, token: str) -> Any:
            return self._refuse_revoked(super().cached(token))

    app = JWTAuthMiddleware(
        Recorder(), verifier=RevokingVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    )
    token = make_token(jti="j1")
    for _ in range(2):
        assert (await call(app, token))[0] == 200
    revoked.add("j1")
    status, _, body, _ = await call(app, token)
    assert (status, body) == (401, b'{"detail":"Token has been revoked","error":"invalid_token"}')


class DelegatingVerifier:
    """A wrapper that adds a denylist in its own ``verify`` and delegates everything else to a TokenVerifier."""

    def __init__(self, inner: TokenVerifier) -> None:
        self.inner = inner
        self.revoked: set[str] = set()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def verify(self, token: str) -> Any:
        self.calls += 1
        claims = await self.inner.verify(token)
        if claims.get("jti") in self.revoked:
            raise InvalidToken("Token has been revoked")
        return claims


async def test_a_wrapper_delegating_with_getattr_has_its_verify_run_on_every_request(
    secret_key: Any, make_token: TokenFactory, clock: Clock
) -> None:
    """The inner verifier's cached() reached through __getattr__ is not the wrapper's own: no shortcut."""
    wrapper = DelegatingVerifier(TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock))
    app = JWTAuthMiddleware(Recorder(), verifier=wrapper)
    token = make_token(jti="j1")
    for _ in range(3):
        assert (await call(app, token))[0] == 200
    assert wrapper.calls == 3
    wrapper.revoked.add("j1")
    status, _, body, _ = await call(app, token)
    assert (status, body) == (401, b'{"detail":"Token has been revoked","error":"invalid_token"}')
