"""The compact JWS serialization taken apart strictly, shared by the verifier and the issuer router.

RFC 7515 §7.1: exactly three segments of unpadded base64url; the header and payload
are UTF-8 JSON objects (RFC 7519 §7.2). Any other shape is a
:class:`~asgi_jwt.MalformedToken` (401), never a ``ValueError`` or ``RecursionError``.
"""

from __future__ import annotations

import binascii
import json
import re
import sys
from typing import Any

from asgi_jwt.errors import MalformedToken

__all__ = ["STRICT_JSON", "b64decode", "b64encode", "check_size", "json_object", "split_compact"]

# Canonical unpadded base64url only: a trailing character must leave its unused bits
# zero (RFC 4648 §3.5), or every signature would have several spellings that verify
# and a token could be replayed under a different string (defeating lists keyed by it).
_BASE64URL = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?")
# base64url → base64; "+", "/" and "=" become "*", which strict decoding refuses like any non-alphabet byte.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/***")
# By length modulo 4: the padding to add, and the characters a canonical segment may end with (None: any;
# RFC 4648 §3.5: the unused bits of the last character are zero). A remainder of 1 is never base64.
_PADDING = (b"", b"", b"==", b"=")
_CANONICAL_LAST: tuple[str | None, ...] = (None, "", "AQgw", "AEIMQUYcgkosw048")
_STRICT_DECODER = sys.version_info >= (3, 11)  # binascii.a2b_base64(strict_mode=True)
_FROM_STANDARD = bytes.maketrans(b"+/", b"-_")  # base64 → base64url


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)
"""Refuses ``NaN`` and ``Infinity``; built once (``json.loads(s, **options)`` builds one per call)."""
# The decoder's scanner: (value, end) of the JSON value at an index, StopIteration when there is none.
_SCAN: Any = STRICT_JSON.scan_once  # type: ignore[attr-defined]


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
    """Strict unpadded base64url (RFC 7515 §2): no padding, no other alphabet, no spaces, canonical last character.

    Decides exactly as a full match of ``_BASE64URL`` (the differential tests hold it to
    that), but in C: strict decoding refuses every byte outside the alphabet, and only
    the last character's unused bits need a look of our own.
    """
    if not _STRICT_DECODER:
        return _b64decode_matched(segment)
    remainder = len(segment) & 3
    last = _CANONICAL_LAST[remainder]
    if last is not None and segment[-1] not in last:  # "" for a remainder of 1: never base64
        raise MalformedToken()
    try:
        raw = segment.encode("ascii").translate(_TO_STANDARD) + _PADDING[remainder]
        return binascii.a2b_base64(raw, strict_mode=True)  # type: ignore[call-arg,unused-ignore]
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise MalformedToken() from exc


def _b64decode_matched(segment: str) -> bytes:
    """:func:`b64decode` for Python 3.10, whose decoder has no strict mode: the pattern decides."""
    if not _BASE64URL.fullmatch(segment):
        raise MalformedToken()
    try:  # the pattern admitted only the url-safe alphabet: translate it and decode in one C call
        return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STANDARD) + _PADDING[len(segment) & 3])
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken() from exc


def b64encode(data: bytes) -> str:
    """Unpadded base64url, as every segment of a compact JWS is written."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_FROM_STANDARD).decode("ascii")


def json_object(raw: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object (RFC 7519 §7.2), with NaN/Infinity and absurd nesting refused.

    A text that starts with ``{`` and is one object to its last character (every token's
    payload) goes straight to the decoder's scanner, sparing ``decode``'s two whitespace
    matches and two Python calls; anything else takes ``decode``, with the same verdict.
    """
    try:
        text = raw.decode("utf-8")
        if text[:1] == "{":
            value, end = _SCAN(text, 0)
            if end == len(text):
                return value  # type: ignore[no-any-return]
        value = STRICT_JSON.decode(text)
    except StopIteration as exc:  # the scanner found no JSON value at the start
        raise MalformedToken() from exc
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedToken() from exc
    if not isinstance(value, dict):
        raise MalformedToken()
    return value
