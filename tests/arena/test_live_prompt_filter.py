"""The prompt filters of live rounds: the built-in deny list (whole words and phrases, any case, terms
from the settings) and a filter a package registers, chosen by name in the settings."""

from __future__ import annotations

import pytest

from imagearena.arena.prompt_filter import (
    DenyListFilter,
    build_filter,
    check_prompt,
    deny_terms,
    prompt_filters,
)
from imagearena.errors import InputError, UnknownNameError
from imagearena.settings import Settings


def deny(terms: str) -> DenyListFilter:
    return DenyListFilter(Settings(prompt_deny_terms=terms))


def test_terms_are_split_trimmed_and_kept_once():
    assert deny_terms(" Gore, blood  bath,\n,gore\nNSFW ") == ["gore", "blood bath", "nsfw"]
    assert deny_terms("") == []


@pytest.mark.parametrize(
    ("prompt", "refused"),
    [
        ("a GORE scene", True),
        ("gore!", True),
        ("a blood   bath in a tub", True),  # a phrase across any spaces
        ("gorest mountain", False),  # whole words only
        ("bloodbath", False),
        ("a red fox", False),
        ("c++ code on a screen", True),  # terms are text, not patterns
    ],
)
def test_deny_list_refuses_whole_words_and_phrases(prompt, refused):
    found = deny("gore, blood bath, c++").check(prompt)
    assert (found is not None) == refused
    if refused:
        with pytest.raises(InputError, match="write another prompt"):
            check_prompt(deny("gore, blood bath, c++"), prompt)


def test_no_terms_refuses_nothing():
    assert deny("").check("anything at all") is None
    assert isinstance(build_filter(Settings()), DenyListFilter)


class OnlyCats:
    """A moderation filter as a package would register it."""

    name = "only-cats"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, prompt: str) -> str | None:
        return None if "cat" in prompt else "only cats today"


def test_a_registered_filter_is_chosen_by_name():
    prompt_filters.register("only-cats", OnlyCats)
    try:
        chosen = build_filter(Settings(prompt_filter="only-cats"))
        assert isinstance(chosen, OnlyCats)
        check_prompt(chosen, "a cat on a mat")
        with pytest.raises(InputError, match="only cats today"):
            check_prompt(chosen, "a dog")
    finally:
        prompt_filters._factories.pop("only-cats", None)
    with pytest.raises(UnknownNameError, match="deny-list"):
        build_filter(Settings(prompt_filter="nope"))


def test_the_builtin_is_declared_as_an_entry_point():
    """The built-in filter a third-party package would see under the entry point group."""
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["imagearena.prompt_filters"]
    assert declared == {"deny-list": "imagearena.arena.prompt_filter:DenyListFilter"}
    assert prompt_filters.factory("deny-list") is DenyListFilter
