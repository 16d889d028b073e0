"""`imagearena simulate`: option ranges are checked before any arena is played."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from imagearena.cli import app
from imagearena.errors import InputError

SMALL = ["simulate", "--votes", "20", "--seeds", "1", "--checkpoints", "10,20"]


def test_top_k_above_the_number_of_models_is_refused() -> None:
    result = CliRunner().invoke(app, [*SMALL, "--models", "4", "--top-k", "10"])
    assert result.exit_code == 1 and isinstance(result.exception, InputError)
    assert str(result.exception) == "--top-k 10 is more than --models 4: give a k of at most 4"


def test_default_top_k_shrinks_to_the_number_of_models() -> None:
    result = CliRunner().invoke(app, [*SMALL, "--models", "3", "--sampler", "uniform"])
    assert result.exit_code == 0, result.output
    assert "top-3 uniform" in result.output and "top-5" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--first-seed", "-1"],
        ["--spread", "inf"],
        ["--spread", "nan"],
        ["--spread", "5000"],
        ["--models", "1"],
        ["--tie-rate", "1"],
        ["--explore", "nan"],
        ["--top-k", "0"],
    ],
)
def test_out_of_range_options_are_usage_errors_without_traceback(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", *SMALL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Invalid value for" in proc.stderr and "Traceback" not in proc.stderr


def test_summary_lines_are_not_wrapped_when_redirected() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", *SMALL, "--models", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
    )
    assert proc.returncode == 0, proc.stderr
    summary = [line for line in proc.stdout.splitlines() if "median votes to Kendall tau" in line]
    assert len(summary) == 2
    assert all(len(line) > 80 and line.rstrip().endswith("%") for line in summary)
