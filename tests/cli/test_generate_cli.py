"""`imagearena generate`: into a folder or a study, reruns, failures listed with exit status 3, and an API
key given through the environment that appears nowhere: not in the output, the logs or any file."""

from __future__ import annotations

import base64
import hashlib
import io
import logging

import pytest
from PIL import Image
from stub_server import Recorded, Reply, StubServer
from typer.testing import CliRunner

from imagearena.cli import app
from imagearena.errors import InputError

KEY = "sk-cli-gen-5b8e2f9c1a7d3e6b"
GENERATORS = """
[generators.crisp]
backend = "procedural"
style = "crisp"
size = "32x32"

[generators.blurry]
backend = "procedural"
style = "blurry"
size = "32x32"
"""


def write_generators(tmp_path, extra: str = ""):
    path = tmp_path / "gens.toml"
    path.write_text(GENERATORS + extra)
    return path


def invoke(*args: object):
    return CliRunner().invoke(app, ["generate", *map(str, args)])


def test_into_a_folder_and_again(tmp_path):
    gens, out = write_generators(tmp_path), tmp_path / "out"
    args = ("--generator", "crisp,blurry", "--prompt", "a red circle", "--prompt", "three stars")
    first = invoke(*args, "--out", out, "--generators", gens)
    assert first.exit_code == 0, first.output
    assert (
        f"Folder {out}: generated 4, already present 0, failed 0; made by generator: crisp 2, blurry 2"
        in (first.output)
    )
    assert len(list((out / "crisp").glob("*.png"))) == len(list((out / "crisp").glob("*.txt"))) == 2
    again = invoke(*args, "--n", 2, "--out", out, "--generators", gens)
    assert again.exit_code == 0 and "generated 4, already present 4, failed 0" in again.output


def test_into_a_study_from_a_prompts_file(tmp_path):
    gens, data = write_generators(tmp_path), tmp_path / "data"
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle\nthree stars\n\n")
    result = invoke("--generator", "crisp", "--prompts", prompts, "--n", 2, "--batch", 2, "--seed", 4, "--study", "gen", "--data-dir", data,
                    "--generators", gens)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Study gen: generated 4, already present 0, failed 0; made by generator: crisp 4" in result.output
    assert len(list((data / "media").rglob("*.png"))) == 4


def png_for(text: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), tuple(hashlib.sha256(text.encode()).digest()[:3])).save(out, "PNG")
    return out.getvalue()


def echoing(request: Recorded) -> Reply:
    """A careless service: it repeats the caller's key in its answers and in its errors."""
    prompt = request.json()["prompt"]
    if "forbidden" in prompt:
        message = f"Request with key {KEY} was rejected by the safety system"
        return Reply(400, {"error": {"message": message, "code": "content_policy_violation", "type": "x"}})
    data = base64.b64encode(png_for(prompt)).decode()
    return Reply(200, {"data": [{"b64_json": data, "revised_prompt": f"{prompt} (for {KEY})"}]})


def test_the_key_appears_nowhere(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CLI_GEN_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    with StubServer() as stub:
        stub.add("POST", "/v1/images/generations", echoing)
        gens = write_generators(
            tmp_path,
            f'\n[generators.hosted]\nbackend = "openai"\nmodel = "gpt-image-1"\nbase_url = "{stub.url}/v1"\n'
            'api_key_env = "CLI_GEN_KEY"\nmax_retries = 0\n',
        )
        result = invoke("--generator", "hosted,crisp", "--prompt", "a fox", "--prompt", "a forbidden fox",
                        "--study", "keys", "--data-dir", data, "--generators", gens)  # fmt: skip
        assert stub.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was in use
    assert result.exit_code == 3, result.output
    assert "FAILED hosted seed 0 'a forbidden fox': generator 'hosted'" in result.output
    assert "generated 3, already present 0, failed 1" in result.output
    assert KEY not in result.output
    assert caplog.records and KEY not in caplog.text
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "imagearena.db" for p in files) and len(files) > 3
    for path in files:  # the database (and its journal) and every stored image
        assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--generator", "nope", "--prompt", "a", "--out", "o"), "no generator 'nope' in"),
        (("--generator", "crisp", "--out", "o"), "pass either --prompt TEXT"),
        (
            ("--generator", "crisp", "--prompt", "a", "--prompts", "p.txt", "--out", "o"),
            "pass either --prompt",
        ),
        (("--generator", "crisp", "--prompt", "a"), "pass either --study NAME"),
        (("--generator", "crisp", "--prompt", "a", "--study", "s", "--out", "o"), "pass either --study NAME"),
        (("--generator", " , ", "--prompt", "a", "--out", "o"), "name at least one generator"),
        (("--generator", "crisp", "--prompt", "a", "--n", "0", "--out", "o"), "--n must be 1 to"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args, "--generators", write_generators(tmp_path))
    assert isinstance(result.exception, InputError), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "o").exists()
