"""Text a token may not carry: lone UTF-16 surrogates.

JSON's ``\\ud800`` escape decodes to a Python string holding a lone surrogate, which
is not Unicode text: it cannot be encoded as UTF-8, so an app that echoes such a
claim (``JSONResponse(claims)``, a log line, a database column) fails with a 500
long after the token was accepted. A well-formed pair (``\\ud83d\\ude00``) decodes
to one character outside U+D800-U+DFFF, so any code point left in that range is
unpaired (or paired backwards) and the token is malformed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["has_lone_surrogate"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: Any) -> bool:
    """Whether ``value`` (a decoded JSON value: keys, strings, lists, objects) holds a lone surrogate.

    Walks nested containers without recursion; ASCII strings (nearly all claims)
    cost one ``isascii()`` call each.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict | Mapping):  # dict first: the decoder's own type, and a fast check
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False
