"""Checks for text that users send (names, titles, voter ids, prompts) before it reaches a database.

A NUL is refused by PostgreSQL and a lone surrogate cannot be encoded by either database, so such text
would fail the whole transaction it joins; it is refused at the edge with a message instead.
"""

from __future__ import annotations

import unicodedata

from imagearena.errors import InputError


def bad_character(value: str) -> str | None:
    """A description of the first character no database can store or a user cannot see, or None."""
    for ch in value:
        if ch == "\x00":
            return "a NUL character"
        category = unicodedata.category(ch)
        if category == "Cs":
            return f"a lone surrogate (U+{ord(ch):04X})"
        if category == "Cc" and ch not in "\t\n\r":
            return f"a control character (U+{ord(ch):04X})"
    return None


def check_text(value: str, what: str, max_length: int | None = None) -> str:
    """Return ``value`` unchanged, or raise InputError naming ``what`` when it cannot be stored."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be text")
    problem = bad_character(value)
    if problem is not None:
        raise InputError(f"{what} contains {problem}: remove it and try again")
    if max_length is not None and len(value) > max_length:
        raise InputError(f"{what} is longer than {max_length} characters")
    return value
