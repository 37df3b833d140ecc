"""Signing compact JWS tokens for the key types that sign (:class:`~asgi_jwt.SecretKey`, :class:`~asgi_jwt.KeyPair`).

PyJWT signs every algorithm it knows; RFC 9864's fully specified ``Ed25519`` and
``Ed448`` it does not, so those are signed here (the signature is plain EdDSA).
"""

from __future__ import annotations

import calendar
import datetime
import json
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from asgi_jwt._algorithms import FULLY_SPECIFIED_EDDSA, PrivateKeyType
from asgi_jwt._jose import b64encode

__all__ = ["sign_compact"]


def sign_compact(
    claims: Mapping[str, Any],
    key: bytes | PrivateKeyType,
    algorithm: str,
    kid: str | None,
    headers: Mapping[str, Any] | None,
) -> str:
    """``claims`` as a compact JWS signed with ``key`` under ``algorithm``; ``headers`` join ``typ`` and ``kid``."""
    header = {"typ": "JWT", **(headers or {})}
    if kid is not None:
        header["kid"] = kid
    if algorithm in FULLY_SPECIFIED_EDDSA and isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return _encode_edwards(claims, key, {"alg": algorithm, **header})
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers=header)


def _encode_edwards(
    claims: Mapping[str, Any], key: ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey, header: dict[str, Any]
) -> str:
    """Sign under RFC 9864's ``Ed25519``/``Ed448``, which PyJWT does not know: the signature is plain EdDSA."""
    payload = dict(claims)
    for name in ("exp", "iat", "nbf"):  # datetimes become NumericDates, as jwt.encode does
        value = payload.get(name)
        if isinstance(value, datetime.datetime):
            payload[name] = calendar.timegm(value.utctimetuple())
    signing_input = f"{b64encode(_json(header))}.{b64encode(_json(payload))}"
    return f"{signing_input}.{b64encode(key.sign(signing_input.encode('ascii')))}"


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
