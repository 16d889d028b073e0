"""The generators file: entries are checked against the common keys and each backend's OPTIONS, errors
name the file, the entry and the key (never a value that may be a secret), and the docs' examples load."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from imagearena.errors import InputError
from imagearena.generators import list_generators
from imagearena.generators.config import (
    COMMON_KEYS,
    GeneratorConfig,
    backend_options,
    create,
    load_generators,
    parse_entry,
    parse_generators,
    request_batches,
)
from imagearena.generators.errors import GeneratorAuthError
from imagearena.settings import Settings
from imagearena.types import GenerationRequest

ROOT = Path(__file__).resolve().parents[2]


def test_an_entry_with_every_common_key(tmp_path):
    path = tmp_path / "generators.toml"
    path.write_text(
        """
[generators.dalle-3]
backend = "openai"
model = "dall-e-3"
base_url = "https://api.example.com/v1/"
api_key_env = "OPENAI_API_KEY"
size = "1792x1024"
steps = 30
guidance = 7
timeout_s = 60
max_concurrency = 2
quality = "hd"

[generators."sd 1.5"]
backend = "a1111"
"""
    )
    configs = load_generators(path)
    assert list(configs) == ["dalle-3", "sd 1.5"]
    assert configs["dalle-3"] == GeneratorConfig(
        name="dalle-3",
        backend="openai",
        model="dall-e-3",
        base_url="https://api.example.com/v1",
        api_key_env="OPENAI_API_KEY",
        width=1792,
        height=1024,
        steps=30,
        guidance=7.0,
        timeout_s=60.0,
        max_concurrency=2,
        options={"quality": "hd"},
        root=tmp_path,
    )
    plain = configs["sd 1.5"]
    assert (plain.model, plain.width, plain.timeout_s, plain.max_concurrency, plain.options) == (
        None, None, 120.0, 4, {}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"backend": "dalle"}, r"unknown backend 'dalle'; available: .*openai"),
        ({}, "set backend = one of"),
        (
            {"backend": "openai", "sampler": "euler"},
            r"unknown key\(s\) 'sampler'; openai reads: backend, model",
        ),
        ({"backend": "procedural", "quality": "hd"}, r"unknown key\(s\) 'quality'"),
        ({"backend": "openai", "size": "1024"}, 'size must be "WIDTHxHEIGHT"'),
        ({"backend": "openai", "size": "0x512"}, "size sides must be 1 to 16384"),
        ({"backend": "openai", "steps": 2.5}, "steps must be a whole number"),
        ({"backend": "openai", "steps": True}, "steps must be a whole number"),
        ({"backend": "openai", "guidance": "high"}, "guidance must be a number"),
        ({"backend": "openai", "timeout_s": 0}, "timeout_s must be a number from 0.001"),
        ({"backend": "openai", "max_concurrency": 0}, "max_concurrency must be a whole number from 1"),
        ({"backend": "openai", "base_url": "api.openai.com"}, "base_url must start with http:// or https://"),
        ({"backend": "openai", "model": ""}, "model must be a non-empty string"),
        ({"backend": "openai", "model": "x\x00"}, "NUL"),
    ],
)
def test_bad_entries_name_the_file_entry_and_key(table, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_generators({"generators": {"gen-1": table}}, "my.toml")
    assert str(caught.value).startswith("my.toml: generator 'gen-1'") or "NUL" in message


@pytest.mark.parametrize(
    "table",
    [
        {"backend": "openai", "api_key": "sk-live-secret-123"},
        {"backend": "openai", "api_key_env": "sk-live-secret-123"},
    ],
)
def test_a_key_written_into_the_file_is_refused_without_being_echoed(table):
    with pytest.raises(InputError, match="environment variable") as caught:
        parse_entry("hosted", table, "g.toml")
    assert "sk-live-secret-123" not in str(caught.value)


def test_an_unknown_key_is_named_but_its_value_is_not():
    with pytest.raises(InputError) as caught:
        parse_entry("hosted", {"backend": "openai", "token": "tok-secret-999"}, "g.toml")
    assert "'token'" in str(caught.value) and "tok-secret-999" not in str(caught.value)


def test_file_level_errors(tmp_path):
    with pytest.raises(InputError, match="no generators file at .*pass --generators FILE"):
        load_generators(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[generators.x\nbackend=")
    with pytest.raises(InputError, match="bad.toml is not valid TOML"):
        load_generators(tmp_path / "bad.toml")
    with pytest.raises(InputError, match=r"unknown top-level key\(s\) 'generator'"):
        parse_generators({"generator": {"x": {"backend": "procedural"}}})
    with pytest.raises(InputError, match="expected a table"):
        parse_generators({"generators": {"x": "procedural"}})
    assert parse_generators({}) == {}


def test_backend_options_come_from_the_backend_class():
    assert backend_options("procedural") == {"style"}
    assert {"max_retries", "retry_cap_s", "extra_body", "sampler"} <= backend_options("a1111")
    assert not set(COMMON_KEYS) & backend_options("openai")


def test_the_api_key_is_read_from_the_named_variable_only_when_asked(monkeypatch):
    config = parse_entry("hosted", {"backend": "openai", "api_key_env": "GEN_TEST_KEY"})
    monkeypatch.delenv("GEN_TEST_KEY", raising=False)
    with pytest.raises(GeneratorAuthError, match=r"\$GEN_TEST_KEY, which is not set: export GEN_TEST_KEY="):
        config.api_key()
    monkeypatch.setenv("GEN_TEST_KEY", " sk-abc \n")
    assert config.api_key() == "sk-abc"
    assert "sk-abc" not in repr(config)
    assert parse_entry("local", {"backend": "a1111"}).api_key() is None


def test_complete_fills_what_the_request_leaves_out():
    config = parse_entry("x", {"backend": "a1111", "size": "640x480", "steps": 20, "guidance": 5.5})
    request = config.complete(GenerationRequest("a cat", seed=1, steps=4))
    assert (request.width, request.height, request.steps, request.guidance) == (640, 480, 4, 5.5)
    with pytest.raises(InputError, match="non-empty prompt"):
        config.complete(GenerationRequest("  ", seed=1))
    with pytest.raises(InputError, match="1 to 64 images"):
        config.complete(GenerationRequest("a cat", seed=1, n=65))
    with pytest.raises(InputError, match="width must be 1 to 16384"):
        config.complete(GenerationRequest("a cat", seed=1, width=0))


def test_the_default_file_is_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("IMAGEARENA_GENERATORS_FILE", raising=False)
    assert Settings(data_dir=tmp_path).generators_path == tmp_path / "generators.toml"
    monkeypatch.setenv("IMAGEARENA_GENERATORS_FILE", str(tmp_path / "elsewhere.toml"))
    assert Settings(data_dir=tmp_path).generators_path == tmp_path / "elsewhere.toml"


def _toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("doc", ["docs/generators.md", "README.md"])
def test_the_documented_examples_load(doc):
    """Every example entry whose backend is installed here parses; those that read no file and load no
    model are built too (building touches no network)."""
    blocks = _toml_blocks(ROOT / doc)
    assert blocks
    installed = set(list_generators())
    for block in blocks:
        parsed = tomllib.loads(block)
        if "project" in parsed:  # a pyproject.toml snippet (a plug-in's entry points), not a generators file
            continue
        entries = {n: t for n, t in parsed["generators"].items() if t["backend"] in installed}
        for config in parse_generators({"generators": entries}, doc).values():
            if config.backend in ("procedural", "openai", "a1111"):
                assert create(config).name == config.name


@pytest.mark.parametrize(
    ("n", "per_call", "seeded", "batches"),
    [(5, 2, False, [(2, None), (2, None), (1, None)]), (4, 4, False, [(4, None)]),
     (1, 10, False, [(1, None)]), (3, 2, True, [(1, 7), (1, 8), (1, 9)])],
)  # fmt: skip
def test_a_request_is_split_into_calls(n, per_call, seeded, batches):
    from imagearena.types import GenerationRequest

    assert request_batches(GenerationRequest("a cat", seed=7, n=n), per_call, seeded=seeded) == batches
