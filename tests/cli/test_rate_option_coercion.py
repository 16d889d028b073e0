"""cli/coercion.py: the options typer would convert through pydantic are converted directly, to the same
values, and every value it does not take reaches typer's own converter and error message."""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param
from typer.testing import CliRunner

from imagearena.cli import app
from imagearena.cli.coercion import NativeParam

#: Plain forms (converted directly) and the others (typer's), spaces, non-ASCII digits, too long
INTS = ["5", "-5", "0", "-0", "007", "9" * 18, "+5", "1_000", "5.0", "1e3", "٣", "x", " 5", "", "9" * 19]
FLOATS = ["1", "1.5", "-1.5", "0.10", "-0", ".5", "1.", "1e3", "-inf", "nan", "1_0", "٣", " 1", "", "1" * 19]


def _commands(command: Any, path: str = "imagearena") -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_commands(sub, f"{path} {name}"))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _samples(param: Any, tmp_path: Path) -> list[Any]:
    annotation = param.type_descriptor.annotation
    if annotation is int:
        return [*INTS, 5, 0, -3, 100, True, 5.0, param.default]
    if annotation is float:
        return [*FLOATS, 1.5, 0.0, 1, True, param.default]
    if annotation is bool:
        return [True, False, "true"]
    if annotation is str:
        return ["x", "", "ünï", " padded ", param.default]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = [str(member.value) for member in annotation]
        return [*values, *(v.upper() for v in values), *annotation, "nope", "", param.default]
    if annotation is Path:
        (tmp_path / "file.csv").write_text("x")
        (tmp_path / "folder").mkdir(exist_ok=True)
        names = ["x.csv", "", "a//b/", "-", "file.csv", "folder", "missing/x"]
        return [*names, *(str(tmp_path / n) for n in names), tmp_path / "file.csv", param.default]
    raise AssertionError(f"no samples for {annotation!r}")


def _outcome(convert: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        result = convert.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()
    if isinstance(result, float) and math.isnan(result):
        return "nan", type(result)
    return "value", (type(result), result)


def test_the_rate_command_converts_every_option_directly() -> None:
    """Every parameter of `rate`, and its --help flag, has the direct conversion: none builds pydantic's."""
    rate = dict(COMMANDS)["imagearena rate"]
    params = [*rate.params, rate.get_help_option(Context(rate))]
    assert [p.name for p in params if not isinstance(p._runtime_param, NativeParam)] == []


def test_direct_conversion_matches_typer(tmp_path: Path) -> None:
    """For every directly converted parameter of every command: the same value, of the same type, as
    typer's own converter, or the same error message."""
    checked, differences = 0, []
    for path, command in COMMANDS:
        ctx = Context(command, info_name=path)
        for param in [*command.params, command.get_help_option(ctx)]:
            native = getattr(param, "_runtime_param", None)
            if not isinstance(native, NativeParam):
                continue
            typer_own = build_runtime_param(param.type_descriptor)
            for value in _samples(param, tmp_path):
                ours, theirs = (_outcome(c, value, param, ctx) for c in (native, typer_own))
                checked += 1
                if ours != theirs:
                    differences.append((path, param.name, value, ours, theirs))
    assert checked > 1000
    assert differences == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rounds", "0"], "Invalid value for '--rounds': Input should be greater than or equal to 1"),
        (["--k", "1e1x"], "Invalid value for '--k': Input should be a valid number"),
        (["--ci", "nope"], "'--ci': Value error, 'nope' is not one of 'sandwich', 'bootstrap'"),
        (["--seed", "1.5"], "Invalid value for '--seed': Input should be a valid integer"),
    ],
)
def test_values_typer_refuses_get_its_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["rate", str(tmp_path / "votes.csv"), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.output


def test_unusual_spellings_reach_the_command_as_typer_makes_them(tmp_path: Path) -> None:
    """`--k 1e1` is 10.0 and `--rounds 1_0` is 10, as typer has them (they go to typer's converter)."""
    log = tmp_path / "votes.csv"
    log.write_text("model_a,model_b,winner\na,b,model_a\nb,c,tie\nc,a,model_b\na,c,model_a\n")

    def rate(*args: str) -> Any:
        result = CliRunner().invoke(app, ["rate", str(log), "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert rate("--method", "elo", "--k", "1e1") == rate("--method", "elo", "--k", "10") != rate("--k", "16")
    bootstrap = ("--method", "bt", "--ci", "bootstrap", "--seed", "3")
    assert rate(*bootstrap, "--rounds", "1_0") == rate(*bootstrap, "--rounds", "10")
