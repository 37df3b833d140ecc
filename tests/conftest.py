"""Shared fixtures: a secret, a verifier, and a factory for signed tokens."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from asgi_jwt import SecretKey, TokenVerifier

SECRET = "test-secret-that-is-long-enough-for-hs256!"
ISSUER = "https://auth.example.com"
AUDIENCE = "orders-api"

TokenFactory = Callable[..., str]

# Property tests run a quick budget in `make test`; `make fuzz` sets HYPOTHESIS_PROFILE=nightly for a long one.
settings.register_profile("nightly", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"


def examples(quick: int) -> int:
    """A property test's example count: ``quick`` in the test suite, 20 times that in the nightly fuzz run."""
    return quick * 20 if NIGHTLY else quick


class Clock:
    """A settable clock for verifiers: no sleeping in expiry tests."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def secret_key() -> SecretKey:
    return SecretKey(SECRET)


@pytest.fixture
def verifier(secret_key: SecretKey, clock: Clock) -> TokenVerifier:
    return TokenVerifier(secret_key, issuer=ISSUER, audience=AUDIENCE, clock=clock)


@pytest.fixture
def make_token(secret_key: SecretKey, clock: Clock) -> TokenFactory:
    """``make_token(sub="alice", scope="orders:read")``: valid for the ``verifier`` fixture.

    Pass ``key=`` to sign with another key, ``headers=`` for extra JOSE headers,
    and a claim set to ``None`` to leave it out.
    """

    def factory(*, key: Any = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        payload: dict[str, Any] = {
            "sub": "alice",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(clock.now),
            "exp": int(clock.now) + 300,
        }
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        return str((key or secret_key).encode(payload, headers=headers))

    return factory
