"""Type checks shared by the constructors and claim checks: small, so every module spells them the same way."""

from __future__ import annotations

from typing import TypeGuard

__all__ = ["is_int", "is_number"]


def is_int(value: object) -> TypeGuard[int]:
    """An ``int`` that is not a ``bool``: ``True`` is an ``int`` to ``isinstance``, never a count or a size."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """An ``int`` or ``float`` that is not a ``bool`` (JSON ``true`` is not a NumericDate, nor a leeway)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
