"""The comfyui backend against a local stub of the ComfyUI server API (/prompt, /history/{id}, /view,
/system_stats, /object_info): placeholders filled, runs queued and awaited, errors named."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from stub_server import Recorded, Reply

from imagearena.errors import InputError
from imagearena.generators.comfyui import ComfyUIGenerator
from imagearena.generators.config import create, parse_entry
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.types import GenerationRequest

WORKFLOW = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "{{model}}"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": "{{batch_size}}"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}, best quality", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": "{{ seed }}", "steps": "{{steps}}", "cfg": "{{guidance}}", "sampler_name": "euler",
                   "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]},
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "arena", "images": ["8", 0]}},
    "10": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
}  # fmt: skip


def history(prompt_id: str, filename: str) -> dict:
    return {
        prompt_id: {
            "prompt": [],
            "outputs": {
                "10": {"images": [{"filename": "preview.png", "subfolder": "", "type": "temp"}]},
                "9": {"images": [{"filename": filename, "subfolder": "arena", "type": "output"}]},
            },
            "status": {"status_str": "success", "completed": True, "messages": []},
        }
    }


@pytest.fixture
def workflow_file(tmp_path):
    path = tmp_path / "sd15.json"
    path.write_text(json.dumps(WORKFLOW))
    return path


@pytest.fixture
def make(stub, tmp_path, workflow_file):
    waits: list[float] = []

    def build(workflow: object = "sd15.json", **table: object) -> ComfyUIGenerator:
        entry = {
            "backend": "comfyui",
            "base_url": stub.url,
            "model": "v1-5.safetensors",
            "size": "512x768",
            "steps": 20,
            "guidance": 7.0,
            "workflow": workflow,
            "max_retries": 2,
            "poll_s": 0.05,
            **table,
        }
        generator = create(parse_entry("comfy", entry, root=tmp_path))
        assert isinstance(generator, ComfyUIGenerator)
        generator.client.sleep = waits.append
        return generator

    build.waits = waits  # type: ignore[attr-defined]
    return build


def serve_runs(stub, png, *, pending_polls: int = 1) -> Callable[[Recorded], Reply]:
    """/prompt queues run-1, run-2, ...; each run's history is empty ``pending_polls`` times, then done.
    Returns the /prompt answer, to script other answers before it."""
    polls: dict[str, int] = {}

    def queue(request: Recorded) -> Reply:
        number = len(stub.hits("POST", "/prompt"))
        return Reply(200, {"prompt_id": f"run-{number}", "number": number, "node_errors": {}})

    def status(request: Recorded) -> Reply:
        run = request.path.rsplit("/", 1)[1]
        polls[run] = polls.get(run, 0) + 1
        return Reply(200, {} if polls[run] <= pending_polls else history(run, f"{run}.png"))

    stub.add("POST", "/prompt", queue)
    stub.add("GET", "/history/*", status)
    stub.add("GET", "/view", Reply(200, body=png, headers={"Content-Type": "image/png"}))
    return queue


def test_a_run_fills_the_workflow_queues_it_and_reads_the_saved_image(make, stub, png):
    serve_runs(stub, png)
    gen = make()
    out = gen.generate(GenerationRequest("a castle", seed=7, n=2, negative_prompt="blurry"))
    queued = [r.json() for r in stub.hits("POST", "/prompt")]
    assert [q["prompt"]["3"]["inputs"]["seed"] for q in queued] == [7, 8]  # typed, one run per image
    nodes = queued[0]["prompt"]
    assert nodes["6"]["inputs"]["text"] == "a castle, best quality"
    assert nodes["7"]["inputs"]["text"] == "blurry"
    assert nodes["5"]["inputs"] == {"width": 512, "height": 768, "batch_size": 1}
    assert (nodes["3"]["inputs"]["steps"], nodes["3"]["inputs"]["cfg"]) == (20, 7.0)
    assert nodes["4"]["inputs"]["ckpt_name"] == "v1-5.safetensors"
    assert nodes["3"]["inputs"]["model"] == ["4", 0]  # links untouched
    assert queued[0]["client_id"] == gen.client_id
    views = stub.hits("GET", "/view")
    assert [v.query for v in views] == [
        {"filename": f"run-{k}.png", "subfolder": "arena", "type": "output"} for k in (1, 2)
    ]  # the saved image, not the preview
    assert make.waits == [0.05, 0.05]  # one poll each found the run still pending
    assert [i.data for i in out] == [png, png] and [i.seed for i in out] == [7, 8]
    assert out[0].params == {
        "backend": "comfyui",
        "file": "arena/run-1.png",
        "width": 512,
        "height": 768,
        "steps": 20,
        "guidance": 7.0,
        "model": "v1-5.safetensors",
    }


def test_an_unknown_checkpoint_is_named(make, stub):
    refusal = {
        "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation"},
        "node_errors": {
            "4": {
                "errors": [{"type": "value_not_in_list", "message": "Value not in list",
                            "details": "ckpt_name: 'flux.safetensors' not in ['v1-5.safetensors']"}],
                "class_type": "CheckpointLoaderSimple",
            }
        },
    }  # fmt: skip
    stub.add("POST", "/prompt", Reply(400, refusal))
    with pytest.raises(
        UnknownModelError, match="does not have the model.*ckpt_name: 'flux.safetensors' not in"
    ):
        make(model="flux.safetensors").generate(GenerationRequest("a castle", seed=0))
    assert len(stub.requests) == 1


def test_a_run_stopped_by_a_safety_check_is_refused(make, stub):
    failed = {
        "run-1": {
            "outputs": {},
            "status": {"status_str": "error", "completed": False, "messages": [
                ["execution_start", {"prompt_id": "run-1"}],
                ["execution_error", {"node_id": "12", "node_type": "SafetyChecker",
                                     "exception_message": "NSFW content detected", "exception_type": "ValueError"}],
            ]},
        }
    }  # fmt: skip
    stub.add("POST", "/prompt", Reply(200, {"prompt_id": "run-1", "number": 1}))
    stub.add("GET", "/history/run-1", Reply(200, failed))
    with pytest.raises(
        GenerationRefused, match=r"refused the prompt \(SafetyChecker: NSFW content detected\)"
    ):
        make().generate(GenerationRequest("a castle", seed=0))


def test_a_failing_node_is_a_one_line_error(make, stub):
    failed = {"run-1": {"outputs": {}, "status": {"status_str": "error", "messages": [
        ["execution_error", {"node_type": "KSampler", "exception_message": "CUDA out of memory.\nTried..."}]]}}}  # fmt: skip
    stub.add("POST", "/prompt", Reply(200, {"prompt_id": "run-1"}))
    stub.add("GET", "/history/run-1", Reply(200, failed))
    with pytest.raises(GeneratorError, match=r"workflow failed \(KSampler: CUDA out of memory. Tried...\)$"):
        make().generate(GenerationRequest("a castle", seed=0))


def test_401_from_a_proxy_429_and_500(make, stub, png, monkeypatch):
    monkeypatch.setenv("TEST_COMFY_TOKEN", "tok-123456789")
    stub.add("POST", "/prompt", Reply(401, {"detail": "Not authenticated"}))
    with pytest.raises(GeneratorAuthError, match=r"check the key in \$TEST_COMFY_TOKEN"):
        make(api_key_env="TEST_COMFY_TOKEN").generate(GenerationRequest("a castle", seed=0))
    assert stub.requests[0].headers["authorization"] == "Bearer tok-123456789"
    stub.requests.clear()
    ok = serve_runs(stub, png, pending_polls=0)
    stub.add("POST", "/prompt", Reply(429, {"detail": "busy"}, headers={"Retry-After": "4"}), ok)
    assert len(make().generate(GenerationRequest("a castle", seed=0))) == 1
    assert make.waits == [4.0]
    stub.add("POST", "/prompt", Reply(500, body=b"Internal Server Error"))
    with pytest.raises(GeneratorUnavailable, match="HTTP 500 after 2 retries"):
        make().generate(GenerationRequest("a castle", seed=0))


def test_timeouts_of_the_queue_call_and_of_the_run(make, stub):
    stub.add("POST", "/prompt", Reply(200, {"prompt_id": "run-1"}, delay=1.0))
    with pytest.raises(GeneratorUnavailable, match="did not answer within 0.2 s"):
        make(timeout_s=0.2).generate(GenerationRequest("a castle", seed=0))
    stub.add("POST", "/prompt", Reply(200, {"prompt_id": "run-1"}))
    stub.add("GET", "/history/run-1", Reply(200, {}))  # never finishes
    gen = make(timeout_s=0.2)
    gen.client.sleep = time.sleep
    with pytest.raises(GeneratorUnavailable, match="did not finish within 0.2 s"):
        gen.generate(GenerationRequest("a castle", seed=0))


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        ({"1": {"class_type": "KSampler", "inputs": {"text": "{{prompt}}"}}}, r"has no \{\{seed\}\}"),
        ({"1": {"class_type": "X", "inputs": {"a": "{{prompt}}", "b": "{{seed}}", "c": "{{lora}}"}}},
         r"unknown placeholder\(s\) \{\{lora\}\}"),
        ({"nodes": [], "links": []}, "not a workflow in API format: in ComfyUI use Export \\(API\\)"),
    ],
)  # fmt: skip
def test_workflows_are_checked_when_the_generator_is_built(make, tmp_path, workflow, message):
    (tmp_path / "bad.json").write_text(json.dumps(workflow))
    with pytest.raises(InputError, match=message):
        make("bad.json")
    with pytest.raises(InputError, match="cannot read the workflow"):
        make("missing.json")


def test_a_placeholder_without_a_value_says_which_setting(stub, workflow_file):
    entry = {"backend": "comfyui", "base_url": stub.url, "workflow": str(workflow_file), "model": "m"}
    gen = create(parse_entry("comfy", entry))
    with pytest.raises(InputError, match=r"uses \{\{width\}\}: set size in the generators file"):
        gen.generate(GenerationRequest("a castle", seed=0))
    assert stub.requests == []


def test_check_reports_the_version_and_the_model(make, stub):
    stub.add("GET", "/system_stats", Reply(200, {"system": {"comfyui_version": "0.3.40"}, "devices": []}))
    info = {
        "CheckpointLoaderSimple": {
            "input": {"required": {"ckpt_name": [["v1-5.safetensors", "sdxl.safetensors"], {}]}}
        }
    }
    stub.add("GET", "/object_info/CheckpointLoaderSimple", Reply(200, info))
    assert make().check() == "ComfyUI 0.3.40 answers; model 'v1-5.safetensors' found"
    with pytest.raises(UnknownModelError, match="has no ckpt_name 'flux.safetensors'"):
        make(model="flux.safetensors").check()
