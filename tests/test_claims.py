"""Claims (the read-only mapping) and ClaimRules (the checks), without any token parsing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from asgi_jwt import (
    Claims,
    ConfigurationError,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
    WrongTokenType,
)
from asgi_jwt.claims import TOKEN_KINDS, ClaimRules, Scopes, scopes_of

NOW = 1_800_000_000.0


def rules(**options: Any) -> ClaimRules:
    return ClaimRules(clock=lambda: NOW, **options)


# ---------------------------------------------------------------------------------------------- Claims


def test_claims_is_a_read_only_mapping() -> None:
    source = {"sub": "alice", "exp": NOW, "iss": "https://auth.example.com", "roles": ["admin"]}
    claims = Claims(source)
    assert isinstance(claims, Mapping)
    assert claims == source
    assert dict(claims) == source
    assert len(claims) == 4
    assert list(claims) == ["sub", "exp", "iss", "roles"]
    assert "sub" in claims
    assert "aud" not in claims
    assert claims.get("aud") is None
    assert claims.get("aud", "-") == "-"
    with pytest.raises(KeyError):
        claims["aud"]
    with pytest.raises(TypeError):
        claims["sub"] = "mallory"  # type: ignore[index]
    with pytest.raises(TypeError):
        del claims["sub"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        claims.extra = 1  # type: ignore[attr-defined]
    source["sub"] = "mallory"  # the mapping took a copy
    assert claims["sub"] == "alice"
    assert repr(claims).startswith("Claims({'sub': 'alice'")


def test_claims_helpers() -> None:
    claims = Claims({"sub": "alice", "iss": "https://a.example", "exp": 1_900_000_000, "scope": "a b"})
    assert claims.subject == "alice"
    assert claims.issuer == "https://a.example"
    assert claims.expires_at == 1_900_000_000
    assert claims.scopes == frozenset({"a", "b"})
    empty = Claims({})
    assert (empty.subject, empty.issuer, empty.expires_at, empty.scopes) == (None, None, None, frozenset())


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "orders:read orders:write"}, {"orders:read", "orders:write"}),
        ({"scope": "  a\tb\n c  "}, {"a", "b", "c"}),
        ({"scope": ""}, set()),
        ({"scp": ["a", "b"]}, {"a", "b"}),
        ({"scp": "a b"}, {"a", "b"}),
        ({"scp": ["a", 1, None, ["b"]]}, {"a"}),
        ({"scope": "a", "scp": ["b"]}, {"a"}),  # RFC 9068 ``scope`` wins
        ({"scope": 7}, set()),
        ({"scope": None, "scp": ["b"]}, set()),
        ({"scope": {"a": True}}, set()),
        ({}, set()),
    ],
)
def test_scopes_of(claims: dict[str, Any], scopes: set[str]) -> None:
    assert scopes_of(claims) == frozenset(scopes)
    assert Claims(claims).scopes == frozenset(scopes)


@pytest.mark.parametrize(
    ("claims", "order"),
    [
        ({"scope": "openid orders:write orders:read admin"}, ["openid", "orders:write", "orders:read", "admin"]),
        ({"scope": "z y x y z"}, ["z", "y", "x"]),  # a repeat keeps its first place
        ({"scp": ["write", "read", "delete"]}, ["write", "read", "delete"]),
    ],
)
def test_scopes_keep_the_order_of_the_token(claims: dict[str, Any], order: list[str]) -> None:
    for scopes in (scopes_of(claims), Claims(claims).scopes):
        assert list(scopes) == order
        assert sorted(scopes) == sorted(order)
        assert repr(scopes) == f"Scopes({order!r})"
        assert scopes == frozenset(order)  # still a set: equality, membership, set operations
        assert all(name in scopes for name in order)
        assert "other" not in scopes
        assert scopes & {order[0], "other"} == {order[0]}
        assert len(scopes) == len(order)
        assert hash(scopes) == hash(frozenset(order))


def test_scopes_are_immutable_and_slotted() -> None:
    scopes = Scopes(["a", "b"])
    assert isinstance(scopes, frozenset)
    with pytest.raises(AttributeError):
        scopes.extra = 1  # type: ignore[attr-defined]
    assert list(Scopes()) == []


# ---------------------------------------------------------------------------------------------- ClaimRules set-up


def test_rules_normalise_settings() -> None:
    configured = rules(issuer="https://a", audience=["x", "y", "x"], leeway=5, require=("jti", "exp"))
    assert configured.issuers == frozenset({"https://a"})
    assert configured.audiences == frozenset({"x", "y"})
    assert configured.leeway == 5.0
    assert configured.required == ("aud", "exp", "iss", "jti")
    assert rules().required == ("exp",)
    assert rules().issuers is None
    assert rules().audiences is None
    assert rules().leeway == 30.0


@pytest.mark.parametrize("leeway", [-0.1, 3600.5, True, "5", None, float("inf"), float("nan"), [1]])
def test_rules_refuse_bad_leeway(leeway: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        rules(leeway=leeway)
    assert str(caught.value) == "leeway must be a number of seconds between 0 and 3600"


@pytest.mark.parametrize("value", ["", [], (), ["a", ""], ["a", None], [1], {""}])
@pytest.mark.parametrize("option", ["issuer", "audience"])
def test_rules_refuse_bad_issuer_or_audience(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        rules(**{option: value})
    assert str(caught.value) == f"{option} must be a non-empty string or a list of non-empty strings"


# ---------------------------------------------------------------------------------------------- checks

VALID = {"sub": "alice", "iss": "https://a", "aud": "x", "exp": NOW + 60, "nbf": NOW - 60, "iat": NOW - 60}


def test_a_valid_claim_set_passes() -> None:
    rules(issuer="https://a", audience="x").check(VALID)
    rules().check({"exp": NOW + 1})
    rules(require=()).check({})


@pytest.mark.parametrize(
    ("change", "error", "fields"),
    [
        ({"exp": None}, MissingClaim, {"claim": "exp"}),
        ({"iss": None}, MissingClaim, {"claim": "iss"}),
        ({"aud": None}, MissingClaim, {"claim": "aud"}),
        ({"exp": "soon"}, InvalidClaim, {"claim": "exp"}),
        ({"nbf": [1]}, InvalidClaim, {"claim": "nbf"}),
        ({"iat": True}, InvalidClaim, {"claim": "iat"}),
        ({"exp": float("nan")}, InvalidClaim, {"claim": "exp"}),
        ({"exp": float("inf")}, InvalidClaim, {"claim": "exp"}),
        ({"exp": 2**63}, InvalidClaim, {"claim": "exp"}),
        ({"sub": 1}, InvalidClaim, {"claim": "sub"}),
        ({"iss": ["https://a"]}, InvalidClaim, {"claim": "iss"}),
        ({"jti": 1}, InvalidClaim, {"claim": "jti"}),
        ({"aud": ["x", 1]}, InvalidClaim, {"claim": "aud"}),
        ({"aud": []}, InvalidClaim, {"claim": "aud"}),
        ({"aud": 1}, InvalidClaim, {"claim": "aud"}),
        ({"exp": NOW - 30}, TokenExpired, {"description": "Token has expired"}),
        ({"nbf": NOW + 31}, TokenNotYetValid, {"description": "Token is not yet valid"}),
        ({"iat": NOW + 31}, TokenNotYetValid, {"description": "Token was issued in the future"}),
        ({"iss": "https://b"}, InvalidIssuer, {"description": "Token issuer is not accepted"}),
        ({"aud": ["y"]}, InvalidAudience, {"description": "Token audience is not accepted"}),
        ({"type": "Refresh"}, WrongTokenType, {"description": "Refresh tokens cannot be used for access"}),
        ({"token_type": "refresh"}, WrongTokenType, {"reason": "wrong_token_type"}),
        # Keycloak names each token's kind in a payload "typ"; its access tokens say "Bearer"
        ({"typ": "Refresh"}, WrongTokenType, {"description": "Refresh tokens cannot be used for access"}),
        ({"typ": "Offline"}, WrongTokenType, {"description": "Refresh tokens cannot be used for access"}),
        ({"typ": "ID"}, WrongTokenType, {"description": "ID tokens cannot be used for access"}),
        ({"typ": "Serialized-ID"}, WrongTokenType, {"description": "ID tokens cannot be used for access"}),
        ({"typ": "Logout"}, WrongTokenType, {"description": "Logout tokens cannot be used for access"}),
        # Amazon Cognito: token_use is "access" or "id"
        ({"token_use": "id"}, WrongTokenType, {"description": "ID tokens cannot be used for access"}),
        ({"sub": "\ud800"}, MalformedToken, {"description": "Malformed token"}),
        ({"name": "a\udfffb"}, MalformedToken, {"reason": "malformed_token"}),
        ({"groups": [{"x": ["ok", "\udc00"]}]}, MalformedToken, {"reason": "malformed_token"}),
        ({"\ud800": 1}, MalformedToken, {"reason": "malformed_token"}),  # a key, too
    ],
)
def test_each_check(change: dict[str, Any], error: type[Exception], fields: dict[str, Any]) -> None:
    claims = {name: value for name, value in {**VALID, **change}.items() if value is not None}
    with pytest.raises(error) as caught:
        rules(issuer="https://a", audience="x").check(claims)
    assert type(caught.value) is error
    for name, value in fields.items():
        assert getattr(caught.value, name) == value


@pytest.mark.parametrize(
    "change",
    [
        {"typ": "Bearer"},  # Keycloak access token
        {"token_use": "access"},  # Cognito access token
        {"type": "access"},
        {"typ": 1},
        {"name": "Zoë 😀"},  # astral characters decode to one code point: no surrogate left
        {"name": "\U0001f600", "tags": ["e\u0301", "中文"]},
    ],
)
def test_access_tokens_and_proper_text_pass(change: dict[str, Any]) -> None:
    rules(issuer="https://a", audience="x").check({**VALID, **change})


def test_token_kinds_can_be_accepted_one_by_one() -> None:
    check = rules()
    check.accept_token_kinds("id")
    check.check({"exp": NOW + 60, "token_use": "id"})
    check.check({"exp": NOW + 60, "typ": "ID"})
    with pytest.raises(WrongTokenType, match="Refresh tokens"):
        check.check({"exp": NOW + 60, "typ": "Refresh"})
    with pytest.raises(WrongTokenType, match="ID tokens"):  # another verifier's rules are untouched
        rules().check({"exp": NOW + 60, "token_use": "id"})
    assert {"id", "refresh", "logout"} == TOKEN_KINDS


@pytest.mark.parametrize(
    ("kinds", "given"), [((), "none"), (("access",), "'access'"), (("id", "Refresh", "ID"), "'ID', 'Refresh'")]
)
def test_accepting_an_unknown_token_kind_is_a_configuration_error(kinds: tuple[str, ...], given: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        rules().accept_token_kinds(*kinds)
    assert str(caught.value) == f"token kinds are 'id', 'logout' and 'refresh', not {given}"


def test_missing_claims_are_reported_before_wrong_values() -> None:
    with pytest.raises(MissingClaim) as caught:
        rules(issuer="https://a", audience="x").check({"iss": "https://b", "aud": "x"})
    assert caught.value.claim == "exp"


def test_type_errors_are_reported_before_time_errors() -> None:
    with pytest.raises(InvalidClaim) as caught:
        rules().check({"exp": NOW - 3600, "sub": 5})
    assert caught.value.claim == "sub"


@pytest.mark.parametrize(
    ("leeway", "exp", "expired"),
    [
        (0, NOW + 1, False),
        (0, NOW, True),
        (0.5, NOW, False),
        (0.5, NOW - 1, True),
        (30, NOW - 29, False),
        (30, NOW - 30, True),
    ],
)
def test_check_times_boundaries(leeway: float, exp: float, expired: bool) -> None:
    check = rules(leeway=leeway)
    if expired:
        with pytest.raises(TokenExpired):
            check.check_times({"exp": exp})
    else:
        check.check_times({"exp": exp})


def test_check_times_reads_the_clock_each_time() -> None:
    now = [NOW]
    moving = ClaimRules(clock=lambda: now[0], leeway=0)
    moving.check_times({"exp": NOW + 10, "nbf": NOW})
    now[0] = NOW + 10
    with pytest.raises(TokenExpired):
        moving.check_times({"exp": NOW + 10})
    now[0] = NOW - 1
    with pytest.raises(TokenNotYetValid):
        moving.check_times({"nbf": NOW})
