"""Small checks for configuration values, shared by every constructor that validates its arguments."""

from __future__ import annotations

__all__ = ["is_int"]


def is_int(value: object) -> bool:
    """True for an ``int`` that is not a ``bool``: ``True`` is an ``int`` to Python, never a count to us."""
    return isinstance(value, int) and not isinstance(value, bool)
