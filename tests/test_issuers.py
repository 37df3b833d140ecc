"""Several issuers behind one verifier: routing on the unverified ``iss``, then checking it again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_jwt import (
    ConfigurationError,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    JWTAuthMiddleware,
    MalformedToken,
    MissingClaim,
    MultiIssuerVerifier,
    SecretKey,
    TokenExpired,
    TokenVerifier,
    UnknownKey,
    Verifier,
)
from conftest import AUDIENCE, SECRET, Clock
from jwks_support import FakeIdP, claims_for, ec_key, jwk_set, resolver, rsa_key, unsigned_token

A = "https://a.example.com/"
B = "https://login.b.example.org/tenant-b/v2.0"


class Tenants:
    """Two identity providers, each with its own keys and its own verifier."""

    def __init__(self, clock: Clock) -> None:
        self.idp_a = FakeIdP(jwk_set(rsa_key("a1")), url="https://a.example.com/.well-known/jwks.json")
        self.idp_b = FakeIdP(jwk_set(ec_key("b1")), url="https://login.b.example.org/tenant-b/discovery/keys")
        self.keys_a = resolver(self.idp_a, clock)
        self.keys_b = resolver(self.idp_b, clock)
        self.verifier_a = TokenVerifier(self.keys_a, issuer=A, audience=AUDIENCE, clock=clock)
        self.verifier_b = TokenVerifier(self.keys_b, issuer=B, audience="api://b", clock=clock)
        self.verifier = MultiIssuerVerifier([self.verifier_a, self.verifier_b])
        self.clock = clock

    def token_a(self, **claims: Any) -> str:
        return rsa_key("a1").encode(claims_for(self.clock.now, iss=A, **claims))

    def token_b(self, **claims: Any) -> str:
        return ec_key("b1").encode(claims_for(self.clock.now, iss=B, aud="api://b", **claims))

    @property
    def requests(self) -> int:
        return len(self.idp_a.requests) + len(self.idp_b.requests)


@pytest.fixture
def tenants(clock: Clock) -> Tenants:
    return Tenants(clock)


async def test_each_issuer_is_verified_with_its_own_keys_and_rules(tenants: Tenants) -> None:
    assert tenants.verifier.issuers == {A, B}
    claims_a = await tenants.verifier.verify(tenants.token_a(sub="alice"))
    claims_b = await tenants.verifier.verify(tenants.token_b(sub="bob"))
    assert (claims_a["sub"], claims_a["iss"]) == ("alice", A)
    assert (claims_b["sub"], claims_b["iss"]) == ("bob", B)
    assert (tenants.idp_a.fetches, tenants.idp_b.fetches) == (1, 1)


async def test_a_token_signed_by_a_but_claiming_b_fails(tenants: Tenants) -> None:
    forged = rsa_key("a1").encode(claims_for(tenants.clock.now, iss=B, aud="api://b"))
    with pytest.raises(UnknownKey):  # checked against B's keys, which do not include A's
        await tenants.verifier.verify(forged)
    assert tenants.idp_a.requests == []


async def test_audience_rules_stay_per_issuer(tenants: Tenants) -> None:
    with pytest.raises(InvalidAudience) as caught:
        await tenants.verifier.verify(rsa_key("a1").encode(claims_for(tenants.clock.now, iss=A, aud="api://b")))
    assert caught.value.args == ("Token audience is not accepted",)


async def test_an_unknown_issuer_fails_without_any_request(tenants: Tenants) -> None:
    token = unsigned_token({"alg": "RS256", "kid": "a1"}, {"iss": "https://evil.example/", "sub": "mallory"})
    with pytest.raises(InvalidIssuer) as caught:
        await tenants.verifier.verify(token)
    assert (caught.value.status_code, caught.value.error) == (401, "invalid_token")
    assert tenants.requests == 0


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"sub": "x"}, MissingClaim, "Token is missing the 'iss' claim"),
        ({"iss": ["https://a.example.com/"]}, InvalidClaim, "Token has an invalid 'iss' claim"),
        ({"iss": "https://a.example.com"}, InvalidIssuer, "Token issuer is not accepted"),  # exact match only
    ],
)
async def test_missing_or_odd_issuers(
    claims: dict[str, Any], error: type[Exception], description: str, tenants: Tenants
) -> None:
    with pytest.raises(error) as caught:
        await tenants.verifier.verify(unsigned_token({"alg": "RS256"}, claims))
    assert str(caught.value) == description
    assert tenants.requests == 0


@pytest.mark.parametrize("token", ["a.b", "not-a-token", "x" * 9000, "é.é.é", "a.!!!.c", "a.WzFd.c"])
async def test_malformed_tokens_fail_before_routing(token: str, tenants: Tenants) -> None:
    with pytest.raises(MalformedToken):
        await tenants.verifier.verify(token)
    assert tenants.requests == 0


async def test_the_verified_issuer_must_equal_the_routing_one(clock: Clock) -> None:
    class Careless:
        """A custom verifier that checks signatures but not ``iss``."""

        async def verify(self, token: str) -> Mapping[str, Any]:
            return {"sub": "alice", "iss": "https://somewhere-else.example/"}

    verifier = MultiIssuerVerifier({A: Careless()})
    token = unsigned_token({"alg": "HS256"}, {"iss": A})
    with pytest.raises(InvalidIssuer):
        await verifier.verify(token)


async def test_a_mapping_may_route_several_issuers_to_any_verifier(clock: Clock, make_token: Any) -> None:
    shared = TokenVerifier(SecretKey(SECRET), audience=AUDIENCE, clock=clock)
    verifier = MultiIssuerVerifier({"https://one.example/": shared, "https://two.example/": shared})
    assert verifier.verifier_for("https://two.example/") is shared
    assert verifier.verifier_for(A) is None
    claims = await verifier.verify(make_token(iss="https://two.example/"))
    assert claims["iss"] == "https://two.example/"
    assert isinstance(verifier, Verifier)


@pytest.mark.parametrize(
    ("verifiers", "message"),
    [
        ([], "needs at least one issuer"),
        ({}, "needs at least one issuer"),
        (["not a verifier"], "pass TokenVerifier objects"),
        ({"": object()}, "issuers must be non-empty strings"),
        ({A: object()}, "has no verify(token) method"),
    ],
)
def test_configuration_errors(verifiers: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        MultiIssuerVerifier(verifiers)
    assert message in str(caught.value)


def test_configuration_errors_with_token_verifiers(clock: Clock) -> None:
    keys = SecretKey(SECRET)
    without_issuer = TokenVerifier(keys, audience=AUDIENCE)
    with pytest.raises(ConfigurationError, match="has no issuer to route tokens to it by"):
        MultiIssuerVerifier([without_issuer])
    first = TokenVerifier(keys, issuer=[A, B], audience=AUDIENCE)
    second = TokenVerifier(keys, issuer=B, audience=AUDIENCE)
    with pytest.raises(ConfigurationError, match=r"issuer '[^']+/tenant-b/v2\.0' is configured on two"):
        MultiIssuerVerifier([first, second])
    with pytest.raises(ConfigurationError, match="is configured for other issuers"):
        MultiIssuerVerifier({"https://c.example/": second})
    with pytest.raises(ConfigurationError, match="max_token_size"):
        MultiIssuerVerifier([first], max_token_size=10)


def _whoami() -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity, "iss": request.auth.claims["iss"]})

    return Starlette(routes=[Route("/", whoami)])


async def test_behind_the_middleware(tenants: Tenants) -> None:
    app = JWTAuthMiddleware(_whoami(), verifier=tenants.verifier)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        for token, expected in ((tenants.token_a(), A), (tenants.token_b(), B)):
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
            assert response.json() == {"sub": "alice", "iss": expected}
        stranger = unsigned_token({"alg": "RS256"}, {"iss": "https://evil.example/"})
        response = await client.get("/", headers={"Authorization": f"Bearer {stranger}"})
        assert response.status_code == 401
        assert response.json() == {"detail": "Token issuer is not accepted", "error": "invalid_token"}
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_start_up_warms_every_issuer_once(tenants: Tenants) -> None:
    assert not tenants.keys_a.ready
    await tenants.verifier.startup()
    assert tenants.keys_a.ready
    assert tenants.keys_b.ready
    assert (tenants.idp_a.fetches, tenants.idp_b.fetches) == (1, 1)
    await tenants.verifier.shutdown()
    both = TokenVerifier(tenants.keys_a, issuer=[A, "https://alias.example/"], audience=AUDIENCE)
    shared = MultiIssuerVerifier([both])
    assert shared.issuers == {A, "https://alias.example/"}
    await shared.startup()
    assert tenants.idp_a.fetches == 2  # one verifier behind two issuers is warmed once


async def test_repeated_tokens_are_served_from_the_issuers_caches_without_routing(tenants: Tenants) -> None:
    await tenants.keys_b.refresh()  # keys fetched first: a token verified while they change is not cached
    token = tenants.token_b(sub="bob")
    assert tenants.verifier.cached(token) is None  # never seen
    await tenants.verifier.verify(token)
    hit = tenants.verifier.cached(token)
    assert hit is not None
    assert (hit["sub"], hit["iss"]) == ("bob", B)
    tenants.clock.now += 3600  # the cached token has expired since: the hit path says so, precisely
    with pytest.raises(TokenExpired):
        tenants.verifier.cached(token)


async def test_a_cached_hit_must_route_to_the_verifier_that_verified_it(clock: Clock, make_token: Any) -> None:
    """A verifier without an issuer of its own may hold tokens of any ``iss``: only its routes count."""
    shared = TokenVerifier(SecretKey(SECRET), audience=AUDIENCE, clock=clock)
    verifier = MultiIssuerVerifier({"https://one.example/": shared})
    elsewhere = make_token(iss="https://elsewhere.example/")
    await shared.verify(elsewhere)  # verified directly, outside the dispatcher
    assert verifier.cached(elsewhere) is None
    with pytest.raises(InvalidIssuer):
        await verifier.verify(elsewhere)


async def test_behind_the_middleware_a_repeated_token_skips_verify(tenants: Tenants) -> None:
    calls: list[str] = []
    original = tenants.verifier_a.verify

    async def counting(token: str) -> Any:
        calls.append(token)
        return await original(token)

    tenants.verifier_a.verify = counting  # type: ignore[method-assign]
    await tenants.keys_a.refresh()
    app = JWTAuthMiddleware(_whoami(), verifier=tenants.verifier)
    token = tenants.token_a(sub="alice")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for _ in range(3):
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
    assert calls == [token]
