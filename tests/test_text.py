import pytest

from imagearena.errors import InputError
from imagearena.text import bad_character, check_text


@pytest.mark.parametrize(
    ("value", "problem"),
    [("a\x00b", "NUL"), ("x\ud800", "surrogate"), ("bell\x07", "control"), ("ok\u200b", None)],
)
def test_bad_character_names_what_no_database_stores(value, problem):
    found = bad_character(value)
    assert (found is None) if problem is None else (problem in found)


def test_check_text_keeps_good_text_and_refuses_the_rest():
    assert check_text("Ünïcode ✓ tab\tnewline\n", "voter") == "Ünïcode ✓ tab\tnewline\n"
    with pytest.raises(InputError, match="voter contains a NUL"):
        check_text("a\x00", "voter")
    with pytest.raises(InputError, match="longer than 3"):
        check_text("abcd", "voter", max_length=3)
