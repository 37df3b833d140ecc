"""Where the token comes from: the Authorization header's value, the cookie, the query parameter, the header map."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Scope

from asgi_jwt import ConfigurationError, InvalidRequest, MultiIssuerVerifier, SecretKey, TokenVerifier
from asgi_jwt.cache import DEFAULT_CACHE_SIZE
from asgi_jwt.credentials import HeaderTokens, TokenSources, bearer_token
from conftest import AUDIENCE, ISSUER, SECRET, Clock


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (b"Bearer abc", "abc"),
        (b"bearer abc", "abc"),
        (b"BEARER \tabc \t", "abc"),
        (b"Basic dXNlcjpwYXNz", None),
        (b"Bearerabc", None),  # the scheme runs up to the first space
        (b"Token abc", None),
    ],
)
def test_bearer_token_reads_only_the_bearer_scheme(value: bytes, token: str | None) -> None:
    assert bearer_token(value) == token


@pytest.mark.parametrize("value", [b"Bearer", b"bearer ", b"Bearer \t  "])
def test_an_empty_bearer_token_is_an_invalid_request(value: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bearer_token(value)
    assert (caught.value.status_code, caught.value.description) == (400, "The Bearer token is empty")


def scope(headers: list[tuple[bytes, bytes]] = (), query: bytes = b"") -> Scope:  # type: ignore[assignment]
    return {"type": "http", "method": "GET", "path": "/", "headers": list(headers), "query_string": query}


def test_without_places_configured_the_sources_are_empty() -> None:
    sources = TokenSources()
    assert not sources
    assert (sources.cookie, sources.query_param) == (None, None)
    assert TokenSources(query_param=False).query_param is None
    assert TokenSources(query_param=True).query_param == "access_token"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cookie": ""}, "cookie must be a cookie name"),
        ({"cookie": 3}, "cookie must be a cookie name"),
        ({"query_param": ""}, "query_param must be a parameter name or True"),
        ({"query_param": 1}, "query_param must be a parameter name or True"),
    ],
)
def test_misconfigured_sources_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TokenSources(**options)


def test_the_one_token_of_all_places() -> None:
    sources = TokenSources(cookie="session", query_param=True, query_param_http=True)
    assert sources.token(scope(), None) is None
    assert sources.token(scope(), "from-header") == "from-header"
    assert sources.token(scope([(b"cookie", b"theme=dark; session=from-cookie")]), None) == "from-cookie"
    assert sources.token(scope([(b"cookie", b"theme=dark"), (b"cookie", b"session=split")]), None) == "split"
    assert sources.token(scope(query=b"page=2&access_token=from-url"), None) == "from-url"
    assert sources.token(scope(query=b"my_access_token=x"), None) is None  # a look-alike is not the parameter


@pytest.mark.parametrize(
    ("headers", "query", "header_token", "description"),
    [
        ([(b"cookie", b"session=a")], b"", "b", "The token must be sent in one place only"),
        ([], b"access_token=a", "b", "The token must be sent in one place only"),
        ([(b"cookie", b"session=a")], b"access_token=b", None, "The token must be sent in one place only"),
        ([], b"access_token=a&access_token=b", None, "Only one access token query parameter is allowed"),
        ([], b"access_token=&page=2", None, "The access token query parameter is empty"),
    ],
)
def test_ambiguity_is_an_invalid_request(
    headers: list[tuple[bytes, bytes]], query: bytes, header_token: str | None, description: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        TokenSources(cookie="session", query_param=True, query_param_http=True).token(
            scope(headers, query), header_token
        )
    assert caught.value.description == description


def test_in_url_says_whether_the_answer_must_not_be_cached() -> None:
    sources = TokenSources(query_param="jwt", query_param_http=True)
    assert sources.in_url(scope(query=b"jwt=abc"))
    assert not sources.in_url(scope(query=b"page=2"))
    assert not TokenSources(cookie="session").in_url(scope(query=b"access_token=abc"))


def test_the_header_map_keeps_only_the_plain_spelling_of_its_token() -> None:
    headers = HeaderTokens(8)
    for spelling in (b"bearer abc", b"Bearer  abc", b"Bearer abc ", b"BEARER abc"):
        headers.remember(spelling, "abc")
    headers.remember(bytearray(b"Bearer abc"), "abc")  # type: ignore[arg-type]
    headers.remember(None, "abc")
    headers.remember(b"Bearer abd", "abc")  # same length, yet another token: never mapped to this one
    assert dict(headers) == {}
    headers.remember(b"Bearer abc", "abc")
    assert dict(headers) == {b"Bearer abc": "abc"}


def test_the_header_map_is_bounded_and_starts_over_when_full() -> None:
    headers = HeaderTokens(3)
    for number in range(10):
        headers.remember(f"Bearer t{number}".encode(), f"t{number}")
        assert len(headers) <= 3
    assert b"Bearer t9" in headers
    nothing = HeaderTokens(0)
    nothing.remember(b"Bearer t1", "t1")
    assert len(nothing) == 0


def test_the_header_map_is_as_large_as_the_verifiers_cache(clock: Clock) -> None:
    key = SecretKey(SECRET)
    sized = TokenVerifier(key, issuer=ISSUER, audience=AUDIENCE, clock=clock, cache_size=5)
    assert HeaderTokens.for_verifier(sized, serves_hits=True).max_size == 5
    uncached = TokenVerifier(key, issuer=ISSUER, audience=AUDIENCE, clock=clock, cache_size=0)
    assert HeaderTokens.for_verifier(uncached, serves_hits=False).max_size == 0
    assert HeaderTokens.for_verifier(uncached, serves_hits=True).max_size == 0
    multi = MultiIssuerVerifier([sized])  # answers hits from caches of its own
    assert HeaderTokens.for_verifier(multi, serves_hits=True).max_size == DEFAULT_CACHE_SIZE
    assert HeaderTokens.for_verifier(object(), serves_hits=False).max_size == 0
