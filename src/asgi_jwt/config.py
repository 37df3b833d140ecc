"""Configuration from ``JWT_*`` environment variables, read once into ordinary objects.

Every problem raises one :class:`~asgi_jwt.ConfigurationError` naming the variable
and what is wrong with it, never the secret itself, so a misconfigured app fails
at start-up instead of answering 500 later.

==========================  ===========================================================
``JWT_SECRET_KEY``          HMAC secret (at least 32/48/64 bytes for HS256/384/512)
``JWT_PREVIOUS_SECRET_KEY`` the secret before the last rotation, still accepted
``JWT_PUBLIC_KEY_PATH``     PEM public key or certificate file (instead of a secret)
``JWT_JWKS_URL``            the identity provider's JWK Set URL (instead of a secret)
``JWT_ALGORITHM``           HS256 (default with a secret), HS384, HS512, RS256, PS256, …
``JWT_ISSUER``              accepted ``iss``; several separated by commas. Alone (no
                            secret, key file or JWKS URL), the one issuer's keys are
                            discovered from its OpenID configuration
``JWT_AUDIENCE``            accepted ``aud``; several separated by commas
``JWT_LEEWAY``              seconds of clock skew allowed (default 30)
==========================  ===========================================================

With ``JWT_JWKS_URL`` or discovery the keys are a :class:`~asgi_jwt.JWKSResolver`
(cached, refreshed, kept through outages); the middleware fetches them on
start-up, and each JWK names its own algorithm, so ``JWT_ALGORITHM`` is refused there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from asgi_jwt.errors import ConfigurationError
from asgi_jwt.jwks import JWKSResolver
from asgi_jwt.keys import KeyResolver, PublicKey, RotatingKeys, SecretKey

__all__ = ["keys_from_env", "verifier_options_from_env"]

_T = TypeVar("_T")


def keys_from_env(environ: Mapping[str, str] | None = None) -> KeyResolver:
    """The key resolver the ``JWT_*`` variables describe."""
    env = os.environ if environ is None else environ
    secret = env.get("JWT_SECRET_KEY", "")
    previous = env.get("JWT_PREVIOUS_SECRET_KEY", "")
    public_key_path = env.get("JWT_PUBLIC_KEY_PATH", "")
    jwks_url = env.get("JWT_JWKS_URL", "").strip()
    algorithm = env.get("JWT_ALGORITHM", "").strip() or None
    if secret and public_key_path:
        raise ConfigurationError("set either JWT_SECRET_KEY or JWT_PUBLIC_KEY_PATH, not both")
    if jwks_url and (secret or public_key_path or previous):
        raise ConfigurationError("set JWT_JWKS_URL alone, not with JWT_SECRET_KEY or JWT_PUBLIC_KEY_PATH")
    if jwks_url or (not (secret or public_key_path or previous) and _issuers(env)):
        return _remote_keys(jwks_url, _issuers(env), algorithm)
    if public_key_path:
        if previous:
            raise ConfigurationError("JWT_PREVIOUS_SECRET_KEY needs JWT_SECRET_KEY, not JWT_PUBLIC_KEY_PATH")
        return _named("JWT_PUBLIC_KEY_PATH", lambda: PublicKey.from_file(public_key_path, algorithm=algorithm))
    if not secret:
        raise ConfigurationError(
            "JWT_SECRET_KEY is not set (or set JWT_PUBLIC_KEY_PATH for a public key, JWT_JWKS_URL for a JWK Set,"
            " or JWT_ISSUER alone to discover the issuer's keys)"
        )
    hmac_algorithm = algorithm or "HS256"
    if hmac_algorithm not in ("HS256", "HS384", "HS512"):
        raise ConfigurationError(
            f"JWT_ALGORITHM {hmac_algorithm!r} does not go with JWT_SECRET_KEY (use HS256, HS384 or HS512),"
            " or set JWT_PUBLIC_KEY_PATH for an asymmetric key"
        )
    current = _named("JWT_SECRET_KEY", lambda: SecretKey(secret, algorithm=hmac_algorithm))
    if not previous:
        return current
    if previous == secret:
        raise ConfigurationError("JWT_PREVIOUS_SECRET_KEY is the same as JWT_SECRET_KEY")
    old = _named("JWT_PREVIOUS_SECRET_KEY", lambda: SecretKey(previous, algorithm=hmac_algorithm))
    return RotatingKeys(current, old)


def _issuers(env: Mapping[str, str]) -> list[str]:
    return _list(env, "JWT_ISSUER")


def _list(env: Mapping[str, str], variable: str) -> list[str]:
    return [item.strip() for item in env.get(variable, "").split(",") if item.strip()]


def _remote_keys(jwks_url: str, issuers: list[str], algorithm: str | None) -> JWKSResolver:
    """Keys from a JWK Set URL, or discovered from the one issuer's metadata."""
    if algorithm is not None:
        variable = "JWT_JWKS_URL" if jwks_url else "JWT_ISSUER"
        raise ConfigurationError(f"JWT_ALGORITHM does not apply to {variable}: each key of a JWK Set names its own")
    if jwks_url:
        return _named("JWT_JWKS_URL", lambda: JWKSResolver(jwks_url))
    if len(issuers) != 1:
        raise ConfigurationError(
            "JWT_ISSUER names several issuers: discovery needs exactly one (or set JWT_JWKS_URL, or use a"
            " MultiIssuerVerifier)"
        )
    return _named("JWT_ISSUER", lambda: JWKSResolver(issuer=issuers[0]))


def verifier_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for :class:`~asgi_jwt.TokenVerifier` from the environment."""
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {"keys": keys_from_env(env)}
    for variable, option in (("JWT_ISSUER", "issuer"), ("JWT_AUDIENCE", "audience")):
        values = _list(env, variable)
        if values:
            options[option] = values
    leeway = env.get("JWT_LEEWAY", "").strip()
    if leeway:
        try:
            seconds = float(leeway)
        except ValueError:
            raise ConfigurationError(f"JWT_LEEWAY must be a number of seconds, not {leeway!r}") from None
        if not 0 <= seconds <= 3600:
            raise ConfigurationError("JWT_LEEWAY must be between 0 and 3600 seconds")
        options["leeway"] = seconds
    return options


def _named(variable: str, build: Callable[[], _T]) -> _T:
    """Run ``build`` and prefix any configuration error with the variable's name."""
    try:
        return build()
    except ConfigurationError as exc:
        raise ConfigurationError(f"{variable}: {exc}") from None
