"""The compact JWS serialization taken apart strictly, shared by the verifier and the issuer router.

RFC 7515 §7.1: exactly three segments of unpadded base64url; the header and payload
are UTF-8 JSON objects (RFC 7519 §7.2). Any other shape is a
:class:`~asgi_jwt.MalformedToken` (401), never a ``ValueError`` or ``RecursionError``.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from asgi_jwt.errors import MalformedToken

__all__ = ["STRICT_JSON", "b64decode", "b64encode", "check_size", "json_object", "split_compact"]

# Canonical unpadded base64url only: a trailing character must leave its unused bits
# zero (RFC 4648 §3.5), or every signature would have several spellings that verify
# and a token could be replayed under a different string (defeating lists keyed by it).
_BASE64URL = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")  # base64url → base64
_FROM_STANDARD = bytes.maketrans(b"+/", b"-_")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)
"""Refuses ``NaN`` and ``Infinity``; built once (``json.loads(s, **options)`` builds one per call)."""


def check_size(token: object, max_size: int) -> None:
    """Refuse a token that is not a string or is longer than ``max_size`` characters, before any decoding."""
    if not isinstance(token, str) or len(token) > max_size:
        raise MalformedToken("Token is too large" if isinstance(token, str) else None)


def split_compact(token: str) -> list[str]:
    """The header, payload and signature segments of a compact JWS (still encoded)."""
    if not token.isascii():
        raise MalformedToken()
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken()
    return parts


def b64decode(segment: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2): no padding, no other alphabet, no spaces."""
    if not _BASE64URL.fullmatch(segment):
        raise MalformedToken()
    try:  # the pattern admitted only the url-safe alphabet: translate it and decode in one C call
        return binascii.a2b_base64((segment + "=" * (-len(segment) % 4)).encode("ascii").translate(_TO_STANDARD))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken() from exc


def b64encode(data: bytes) -> str:
    """Unpadded base64url, as every segment of a compact JWS is written."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_FROM_STANDARD).decode("ascii")


def json_object(raw: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object (RFC 7519 §7.2), with NaN/Infinity and absurd nesting refused."""
    try:
        value = STRICT_JSON.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise MalformedToken() from exc
    if not isinstance(value, dict):
        raise MalformedToken()
    return value
