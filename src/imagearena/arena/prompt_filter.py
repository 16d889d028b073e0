"""Prompt filters: what a voter's prompt must pass before any generator is called for a live round.

A filter is built from the settings (``Factory(settings)``) and answers ``check(prompt)`` with None
(allowed) or a short reason shown to the voter. The built-in ``deny-list`` refuses a prompt holding any
term of ``IMAGEARENA_PROMPT_DENY_TERMS`` (whole words, case-insensitive); a moderation service plugs in
as a package registering a factory in the ``imagearena.prompt_filters`` entry point group and is chosen
with ``IMAGEARENA_PROMPT_FILTER``.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from imagearena.errors import InputError
from imagearena.registry import Registry
from imagearena.settings import Settings


@runtime_checkable
class PromptFilter(Protocol):
    name: str

    def check(self, prompt: str) -> str | None:
        """None when ``prompt`` may be generated, else why not (one line, shown to the voter)."""
        ...


prompt_filters: Registry[PromptFilter] = Registry("prompt filter", "imagearena.prompt_filters")


def deny_terms(text: str) -> list[str]:
    """The terms of a deny list written one per line or separated by commas, trimmed, each once."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\n]", text or ""):
        term = " ".join(part.split()).casefold()
        if term:
            seen.setdefault(term, None)
    return list(seen)


class DenyListFilter:
    """Refuses prompts that contain a denied term as whole words (``cat`` refuses "a cat" and "CAT!",
    not "category"); the terms come from the settings."""

    name = "deny-list"

    def __init__(self, settings: Settings) -> None:
        self.terms = deny_terms(settings.prompt_deny_terms)
        words = sorted(self.terms, key=len, reverse=True)
        pattern = "|".join(r"\s+".join(map(re.escape, t.split())) for t in words)
        self._pattern = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE) if words else None

    def check(self, prompt: str) -> str | None:
        if self._pattern is None:
            return None
        found = self._pattern.search(prompt)
        if found is None:
            return None
        return f"it contains the denied term {found.group(0)!r}"


prompt_filters.register("deny-list", DenyListFilter)


def build_filter(settings: Settings) -> PromptFilter:
    """The filter ``IMAGEARENA_PROMPT_FILTER`` names (UnknownNameError lists the registered ones)."""
    filter_: PromptFilter = prompt_filters.factory(settings.prompt_filter)(settings)
    return filter_


def check_prompt(filter_: PromptFilter, prompt: str) -> None:
    """InputError (400) when the filter refuses ``prompt``, saying to write another one."""
    reason = filter_.check(prompt)
    if reason:
        raise InputError(f"this prompt cannot be generated here ({reason}): write another prompt")
