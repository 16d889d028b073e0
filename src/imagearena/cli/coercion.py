"""Option values converted without pydantic where that changes nothing.

Typer 0.29 converts every non-flag value through a pydantic TypeAdapter, so each command run imports
pydantic's validation machinery and builds an adapter per parameter, defaults included (about 0.1 s
of CPU a process, more than parsing a small battle log). For the plain types this CLI declares (str,
int, float, Path, an Enum of choices) the conversion of a well-formed value is simple; here it is done
directly, with typer's own choice and path checks. Anything else (an unusual form such as ``+5``,
``1e3`` or ``1_000``, a value out of range, an unknown choice, a path that fails its checks) goes to
typer's own converter, so results and error messages are typer's: pydantic is imported only then.

This reads typer internals (`_TyperParameter._runtime_param`, its `type_descriptor`, the
`RuntimeParam` contract, `coerce_cli_choice`, `coerce_cli_path`). Where they are missing, `install`
changes nothing and typer converts as before; tests/cli/test_rate_option_coercion.py checks both the
results against typer's converter and that `imagearena rate` runs without importing pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from typer.core import TyperGroup

try:  # typer internals: absent in other versions, where typer keeps converting by itself
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - depends on the installed typer
    SUPPORTED = False
else:
    SUPPORTED = True

#: Integers and decimals in their plain form: what pydantic's lax mode turns into the same number as
#: int()/float() do. Other spellings (signs, exponents, underscores, spaces, non-ASCII digits, very long
#: numbers) are left to typer.
_INT = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")


class _Fallback(Exception):
    """The value is not one this module converts: typer does."""


Convert = Callable[[Any, Any, "Context"], Any]


def _str(value: Any, param: Any, ctx: Context) -> Any:
    if type(value) is str:
        return value
    raise _Fallback


def _bool(value: Any, param: Any, ctx: Context) -> Any:
    if type(value) is bool:
        return value
    raise _Fallback


def _number(kind: type[int] | type[float], pattern: re.Pattern[str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if type(value) is kind:
            return value
        if type(value) is str and pattern.fullmatch(value):
            return kind(value)
        raise _Fallback

    return convert


def _bounded(convert: Callable[[Any], Any], low: float | None, high: float | None) -> Convert:
    def bounded(value: Any, param: Any, ctx: Context) -> Any:
        number = convert(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise _Fallback  # typer says what the range is
        return number

    return bounded


def _choice(choices: tuple[Any, ...], case_sensitive: bool) -> Convert:
    def convert(value: Any, param: Any, ctx: Context) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            raise _Fallback from None

    return convert


def _path(info: Any) -> Convert:
    def convert(value: Any, param: Any, ctx: Context) -> Any:
        if type(value) is str:
            value = Path(value)  # what pydantic's Path validator makes of a str
        elif not isinstance(value, Path):
            raise _Fallback
        try:
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
        except BadParameter:
            raise _Fallback from None  # typer's message names the value as it was given

    return convert


def converter(annotation: Any, info: Any) -> Convert | None:
    """The direct conversion for one parameter's annotation and declaration, or None: typer's own."""
    if info.parser is not None:
        return None
    if annotation is str:
        return _str
    if annotation is bool:
        return _bool
    if annotation in (int, float) and not info.clamp:
        pattern = _INT if annotation is int else _DECIMAL
        return _bounded(_number(annotation, pattern), info.min, info.max)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(tuple(annotation), info.case_sensitive)
    if annotation is Path and info.path_type is None:
        return _path(info)
    return None


if SUPPORTED:

    @dataclass(frozen=True)
    class NativeParam(RuntimeParam):
        """Typer's runtime conversion contract, filled by `converter`; typer's own on a fallback."""

        convert: Convert

        def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
            try:
                return self.convert(value, param, ctx)
            except _Fallback:
                return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)


def install_param(param: Any) -> None:
    """Give one parameter a direct conversion where `converter` has one; otherwise it keeps typer's."""
    if not isinstance(param, _TyperParameter) or getattr(param, "_runtime_param", False) is not None:
        return
    if param.multiple or param.nargs != 1:
        return
    descriptor = param.type_descriptor
    convert = converter(descriptor.annotation, descriptor.parameter_info)
    if convert is not None:
        param._runtime_param = NativeParam(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, convert=convert
        )


def install(command: Any) -> None:
    """Direct conversions for the parameters of ``command`` and its subcommands, the ``--help`` option
    included (made per context, on first use). A no-op where typer's internals differ."""
    if not SUPPORTED:
        return  # pragma: no cover
    for param in command.params:
        install_param(param)
    help_option = command.get_help_option

    def get_help_option(ctx: Context) -> Any:
        option = help_option(ctx)
        if option is not None:  # typer builds a bool adapter for its None value (--help not given)
            install_param(option)
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        install(sub)


class Group(TyperGroup):
    """The root command group: it installs the direct conversions on the whole command tree."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        install(self)
