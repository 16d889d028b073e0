"""`imagearena generators [--check]`: lists the file's entries, checks each service, never shows a key."""

from __future__ import annotations

import os
import subprocess
import sys

from stub_server import Reply
from typer.testing import CliRunner

from imagearena.cli import app

KEY = "sk-cli-0123456789abcdef"


def write(path, text: str):
    path.write_text(text)
    return path


def test_lists_entries_without_touching_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("CLI_TEST_KEY", KEY)
    data = tmp_path / "data"
    data.mkdir()
    write(
        data / "generators.toml",
        '[generators.demo]\nbackend = "procedural"\n\n'
        '[generators.hosted]\nbackend = "openai"\nmodel = "gpt-image-1"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "CLI_TEST_KEY"\n\n'
        '[generators.other]\nbackend = "openai"\napi_key_env = "CLI_TEST_UNSET_KEY"\n',
    )
    result = CliRunner().invoke(app, ["generators", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("demo" in line and "procedural" in line for line in lines)
    assert any("hosted" in line and "gpt-image-1" in line and "$CLI_TEST_KEY (set)" in line for line in lines)
    assert any(
        "$CLI_TEST_UNSET_KEY (NOT SET)" in line and "https://api.openai.com/v1" in line for line in lines
    )
    assert KEY not in result.output


def test_check_asks_each_service_and_fails_when_one_does_not_answer(tmp_path, stub, monkeypatch):
    monkeypatch.setenv("CLI_TEST_KEY", KEY)
    stub.add("GET", "/v1/models", Reply(200, {"data": [{"id": "gpt-image-1"}]}))
    stub.add("GET", "/sdapi/v1/sd-models", Reply(401, {"detail": f"bad credentials {KEY}"}))
    file = write(
        tmp_path / "gens.toml",
        f'[generators.hosted]\nbackend = "openai"\nmodel = "gpt-image-1"\nbase_url = "{stub.url}/v1"\n'
        'api_key_env = "CLI_TEST_KEY"\n\n'
        f'[generators.sd]\nbackend = "a1111"\nbase_url = "{stub.url}"\napi_key_env = "CLI_TEST_KEY"\n',
    )
    result = CliRunner().invoke(app, ["generators", "--check", "--generators", str(file)])
    assert result.exit_code == 1
    assert f"hosted: {stub.url}/v1 answers; model 'gpt-image-1' listed" in result.output
    assert "sd: generator 'sd':" in result.output and "refused the credentials" in result.output
    assert "1 of 2 generators failed the check" in result.output
    assert KEY not in result.output
    assert sorted(r.path for r in stub.requests) == ["/sdapi/v1/sd-models", "/v1/models"]  # nothing generated


def test_a_missing_file_or_a_bad_entry_is_one_line_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEARENA_")}
    missing = subprocess.run(
        [sys.executable, "-m", "imagearena", "generators", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == (
        f"Error: no generators file at {tmp_path / 'generators.toml'}: write one (see docs/generators.md) "
        "or pass --generators FILE"
    )
    bad = write(tmp_path / "bad.toml", '[generators.sd]\nbackend = "a1111"\nseed = 3\n')
    result = CliRunner().invoke(app, ["generators", "--generators", str(bad)])
    assert result.exit_code == 1
    assert str(result.exception).startswith(
        f"{bad}: generator 'sd': unknown key(s) 'seed'; a1111 reads: backend,"
    )
