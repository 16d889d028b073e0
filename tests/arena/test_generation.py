"""Generating into a study or a folder: images bound to generator, prompt and seed whatever order they
finish in, reruns that make only what is missing, failures reported while the run goes on, a folder
layout that import-folder and the folder ranker read, concurrency per generator, keys nowhere."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time

import pytest
from PIL import Image
from stub_server import Recorded, Reply, StubServer

from imagearena.arena.generation import (
    MAX_SEED,
    SOURCE_PREFIX,
    Failure,
    FolderSink,
    StudySink,
    clean_prompts,
    file_stem,
    generate_into_folder,
    plan,
    run,
)
from imagearena.arena.importing import import_folder
from imagearena.errors import InputError
from imagearena.folders.scan import scan_folder
from imagearena.generators import generators
from imagearena.generators.config import GeneratorConfig, parse_entry
from imagearena.generators.procedural import ProceduralGenerator
from imagearena.media import encode_png
from imagearena.storage import catalog, studies
from imagearena.types import GeneratedImage, GenerationRequest, StudyKind

KEY = "sk-gen-test-7c1e9a4b2d6f0e8a"
PATH = "/v1/images/generations"
PROMPTS = ["a red circle at night", "three yellow stars"]


def procedural(name: str, style: str, concurrency: int = 4) -> GeneratorConfig:
    return parse_entry(
        name, {"backend": "procedural", "style": style, "size": "32x32", "max_concurrency": concurrency}
    )


def openai(stub: StubServer, name: str = "hosted", **table: object) -> GeneratorConfig:
    entry = {
        "backend": "openai",
        "model": "gpt-image-1",
        "base_url": stub.url + "/v1",
        "api_key_env": "GEN_TEST_KEY",
        "max_retries": 0,
        **table,
    }
    return parse_entry(name, entry)


def png_for(text: str) -> bytes:
    """A small PNG whose pixels depend on ``text``, so every answer is a different image."""
    digest = hashlib.sha256(text.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (8, 8), tuple(digest[:3])).save(out, "PNG")
    return out.getvalue()


def answers(extra: dict[str, object] | None = None):
    """A stub Images API: a distinct image per request, a safety refusal for prompts saying 'forbidden'."""
    count = iter(range(10**6))

    def reply(request: Recorded) -> Reply:
        prompt = request.json()["prompt"]
        if "forbidden" in prompt:
            error = {
                "message": "Your request was rejected by the safety system",
                "code": "content_policy_violation",
            }
            return Reply(400, {"error": {**error, "type": "invalid_request_error", "param": None}})
        data = base64.b64encode(png_for(f"{prompt}-{next(count)}")).decode()
        return Reply(200, {"created": 1, "data": [{"b64_json": data, **(extra or {})}]})

    return reply


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setenv("GEN_TEST_KEY", KEY)
    with StubServer() as server:
        yield server


def images_of(session, name: str):
    return catalog.list_images(session, studies.get_study(session, name))


# --- into a study ----------------------------------------------------------------------------------------


def test_images_are_bound_to_generator_prompt_and_seed_whatever_order_they_finish(session, media_store):
    configs = [procedural("crisp", "crisp", 3), procedural("glitchy", "glitchy", 2)]
    units = plan([c.name for c in configs], PROMPTS, n=3, seed=5)
    report = run(configs, units, StudySink(session, media_store, "gen"))
    assert (report.generated, report.already, report.failures) == (12, 0, [])
    assert report.made == {"crisp": 6, "glitchy": 6}
    stored = images_of(session, "gen")
    assert sorted((i.model.name, i.prompt.text, i.seed) for i in stored) == sorted(
        (u.generator, u.prompt, u.seed) for u in units
    )
    for image in stored:  # the bytes are those of this (style, prompt, seed), not of a neighbour
        drawn = ProceduralGenerator(style=image.model.name, size=32).render(image.prompt.text, image.seed)
        assert image.sha256 == hashlib.sha256(encode_png(drawn)).hexdigest()
        assert media_store.read(image.sha256)
        record = json.loads(image.source.removeprefix(SOURCE_PREFIX))
        assert record == {
            "generator": image.model.name,
            "seed": image.seed,
            "params": {"backend": "procedural", "style": image.model.name, "width": 32, "height": 32},
        }
        assert image.model.meta == {"backend": "procedural"} and image.model.study_id is None
    assert studies.get_study(session, "gen").kind == StudyKind.LIVE


def test_a_rerun_makes_only_what_is_missing(session, media_store):
    configs = [procedural("crisp", "crisp")]
    first = run(configs, plan(["crisp"], PROMPTS, n=2), StudySink(session, media_store, "gen"))
    again = run(configs, plan(["crisp"], PROMPTS, n=3), StudySink(session, media_store, "gen"))
    assert (first.generated, again.generated, again.already) == (4, 2, 4)
    assert sorted(i.seed for i in images_of(session, "gen")) == [0, 0, 1, 1, 2, 2]
    done: list[int] = []
    last = run(
        configs, plan(["crisp"], PROMPTS, n=3), StudySink(session, media_store, "gen"), on_start=done.append
    )
    assert (last.generated, last.already, done) == (0, 6, [0])


def test_a_failed_image_is_reported_and_the_run_goes_on(session, media_store, stub):
    stub.add("POST", PATH, answers())
    configs = [openai(stub, max_concurrency=2), procedural("crisp", "crisp")]
    prompts = ["a red fox", "something forbidden", "a blue bird"]
    finished: list[tuple[str, bool]] = []
    seen: list[Failure] = []
    report = run(
        configs,
        plan([c.name for c in configs], prompts, n=2),
        StudySink(session, media_store, "gen"),
        on_done=lambda unit, ok: finished.append((unit.generator, ok)),
        on_failure=seen.append,
    )
    assert seen == report.failures
    assert report.generated == 10 and report.failed == 2
    assert {(f.generator, f.prompt, f.seed) for f in report.failures} == {
        ("hosted", "something forbidden", 0),
        ("hosted", "something forbidden", 1),
    }
    assert all("refused the prompt" in f.message for f in report.failures)
    assert len(finished) == 12 and finished.count(("hosted", False)) == 2
    hosted = [i for i in images_of(session, "gen") if i.model.name == "hosted"]
    assert sorted((i.prompt.text, i.seed) for i in hosted) == [
        ("a blue bird", 0), ("a blue bird", 1), ("a red fox", 0), ("a red fox", 1),
    ]  # fmt: skip
    record = json.loads(hosted[0].source.removeprefix(SOURCE_PREFIX))
    assert record["backend_seed"] is None  # the Images API takes no seed: the record says so
    assert record["params"]["model"] == "gpt-image-1"
    assert hosted[0].model.meta == {"backend": "openai", "model": "gpt-image-1"}
    asked = len(stub.requests)
    retry = run(
        configs, plan([c.name for c in configs], prompts, n=2), StudySink(session, media_store, "gen")
    )
    assert (retry.generated, retry.already, retry.failed) == (0, 10, 2)
    assert len(stub.requests) == asked + 2  # only the failed units were asked again


def test_refused_credentials_stop_that_generator_and_the_others_go_on(session, media_store, stub):
    stub.add(
        "POST",
        PATH,
        Reply(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
    )
    configs = [openai(stub, max_concurrency=1), procedural("crisp", "crisp")]
    report = run(
        configs, plan([c.name for c in configs], PROMPTS, n=3), StudySink(session, media_store, "gen")
    )
    assert report.made == {"hosted": 0, "crisp": 6}
    assert report.failed == 6 and len(stub.requests) == 1  # one refusal, then no more asking
    first, rest = report.failures
    assert first.prompt is not None and "credentials" in first.message.lower()
    assert (rest.generator, rest.prompt, rest.images) == ("hosted", None, 5)
    assert rest.message.startswith("5 image(s) not tried after: ") and KEY not in rest.message


def test_a_generator_that_cannot_start_fails_alone(session, media_store, tmp_path):
    missing = parse_entry("gone", {"backend": "folder", "path": str(tmp_path / "nowhere")})
    configs = [missing, procedural("crisp", "crisp")]
    report = run(configs, plan(["gone", "crisp"], PROMPTS, n=2), StudySink(session, media_store, "gen"))
    assert report.generated == 4
    [failure] = report.failures
    assert (failure.generator, failure.images, failure.prompt) == ("gone", 4, None)
    assert "is not a folder" in failure.message


def test_bytes_that_are_not_an_image_are_a_failure(session, media_store, stub):
    stub.add(
        "POST", PATH, Reply(200, {"data": [{"b64_json": base64.b64encode(b"<html>oops</html>").decode()}]})
    )
    report = run([openai(stub)], plan(["hosted"], ["a cat"]), StudySink(session, media_store, "gen"))
    [failure] = report.failures
    assert failure.message.startswith("generator 'hosted' sent an image that cannot be stored: ")
    assert images_of(session, "gen") == [] and not any(media_store.root.rglob("*.*"))


def test_a_backend_that_ignores_seeds_adds_one_image_not_two(session, media_store, stub):
    stub.add("POST", PATH, Reply(200, {"data": [{"b64_json": base64.b64encode(png_for("same")).decode()}]}))
    report = run([openai(stub)], plan(["hosted"], ["a cat"], n=2), StudySink(session, media_store, "gen"))
    assert (report.generated, report.duplicates, report.failed) == (1, 1, 0)
    assert len(images_of(session, "gen")) == 1


def test_keys_are_scrubbed_from_records_and_messages(session, media_store, stub):
    # a service that echoes the key back (in a revised prompt, in an error) must not get it stored
    stub.add("POST", PATH, answers({"revised_prompt": f"a fox, made with {KEY}"}))
    prompts = ["a fox", "forbidden fox"]
    report = run(
        [openai(stub)], plan(["hosted"], prompts), StudySink(session, media_store, "gen", secrets=[KEY])
    )
    [image] = images_of(session, "gen")
    assert KEY not in image.source and "a fox, made with [redacted]" in image.source
    assert all(KEY not in f.message for f in report.failures)


def test_a_folder_study_is_refused(session, media_store):
    studies.get_or_create_study(session, "ranked", kind=StudyKind.FOLDER)
    session.commit()
    with pytest.raises(InputError, match="ranks a folder's own images"):
        StudySink(session, media_store, "ranked")


# --- units run on each generator's own threads -------------------------------------------------------------


class Slow:
    """A test backend that records how many of its calls run at once."""

    running = 0
    peak = 0
    closed = 0
    asked: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def __init__(self, config: GeneratorConfig) -> None:
        self.name = config.name

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        with Slow.lock:
            Slow.running += 1
            Slow.peak = max(Slow.peak, Slow.running)
            Slow.asked.append((request.prompt, request.seed, request.n))
        time.sleep(0.03)
        with Slow.lock:
            Slow.running -= 1
        seeds = range(request.seed, request.seed + request.n)
        return [GeneratedImage(png_for(f"{request.prompt}{s}"), s, {"backend": "slow"}) for s in seeds]

    def close(self) -> None:
        Slow.closed += 1


@pytest.fixture
def slow_backend():
    generators.register("test-slow", Slow)
    Slow.running = Slow.peak = Slow.closed = 0
    Slow.asked = []
    yield "test-slow"
    generators._factories.pop("test-slow", None)


def test_units_run_at_most_max_concurrency_at_once(tmp_path, slow_backend):
    config = parse_entry("slow", {"backend": slow_backend, "max_concurrency": 3})
    report = generate_into_folder([config], PROMPTS, tmp_path / "out", n=6)
    assert report.generated == 12 and Slow.peak == 3


def test_a_batch_asks_for_consecutive_seeds_of_one_prompt_together(session, media_store, slow_backend):
    config = parse_entry("slow", {"backend": slow_backend, "max_concurrency": 2})
    run([config], plan(["slow"], ["a cat"], n=2), StudySink(session, media_store, "gen"))
    Slow.asked.clear()
    units = plan(["slow"], ["a cat", "a dog"], n=6)
    report = run([config], units, StudySink(session, media_store, "gen"), batch=3)
    assert (report.generated, report.already) == (10, 2)
    assert sorted(Slow.asked) == [("a cat", 2, 3), ("a cat", 5, 1), ("a dog", 0, 3), ("a dog", 3, 3)]
    for image in images_of(session, "gen"):  # image k of a request is bound to seed + k
        assert image.sha256 == hashlib.sha256(png_for(f"{image.prompt.text}{image.seed}")).hexdigest()
    with pytest.raises(InputError, match="--batch must be 1 to 64"):
        run([config], units, StudySink(session, media_store, "gen"), batch=65)


def test_an_image_missing_from_a_batched_answer_is_that_seed_failure(tmp_path, stub):
    one = base64.b64encode(png_for("only one")).decode()
    stub.add("POST", PATH, Reply(200, {"data": [{"b64_json": one}]}))
    report = generate_into_folder([openai(stub)], ["a cat"], tmp_path / "out", n=2, batch=2)
    assert report.generated == 1 and len(stub.requests) == 1 and stub.requests[0].json()["n"] == 2
    [failure] = report.failures
    assert (failure.seed, failure.message) == (1, "generator 'hosted' answered 1 image(s) of the 2 asked for")


def test_an_interrupted_run_keeps_what_it_recorded_and_a_rerun_makes_the_rest(
    session, media_store, slow_backend
):
    config = parse_entry("slow", {"backend": slow_backend, "max_concurrency": 1})

    def interrupt(unit, ok):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run([config], plan(["slow"], PROMPTS, n=4), StudySink(session, media_store, "gen"), on_done=interrupt)
    kept = len(images_of(session, "gen"))
    assert 1 <= kept < 8 and Slow.closed == 1
    again = run([config], plan(["slow"], PROMPTS, n=4), StudySink(session, media_store, "gen"))
    assert (again.already, again.generated) == (kept, 8 - kept)


# --- into a folder ----------------------------------------------------------------------------------------


def test_a_folder_is_laid_out_for_import_folder_and_the_folder_ranker(tmp_path, session, media_store):
    out = tmp_path / "out"
    configs = [procedural("crisp", "crisp"), procedural("blurry", "blurry")]
    report = generate_into_folder(configs, PROMPTS, out, n=2, seed=7)
    assert (report.generated, report.failed, report.target) == (8, 0, str(out))
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    stem = file_stem(plan(["crisp"], ["three yellow stars"], seed=7)[0])
    assert stem.startswith("three-yellow-stars-") and stem.endswith("_7")
    assert f"crisp/{stem}.png" in files and f"crisp/{stem}.txt" in files
    assert len(files) == 2 + 8 * 2 and not [f for f in files if "/." in f]
    assert (out / "crisp" / f"{stem}.txt").read_text() == "three yellow stars\n"

    scan = scan_folder(out.resolve())
    assert scan.skipped == [] and len(scan.images) == 8
    assert {i.prompt for i in scan.images} == set(PROMPTS)
    imported = import_folder(session, media_store, out, "imported")
    assert (imported.imported, imported.problems, imported.models) == (8, [], {"crisp", "blurry"})
    assert {(i.model.name, i.prompt.text) for i in images_of(session, "imported")} == {
        (m, p) for m in ("crisp", "blurry") for p in PROMPTS
    }

    written = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = generate_into_folder(configs, PROMPTS, out, n=3, seed=7)
    assert (again.generated, again.already) == (4, 8)
    assert all(p.stat().st_mtime_ns == t for p, t in written.items())  # nothing rewritten


def test_a_folder_file_is_named_for_the_format_the_service_sent(tmp_path, stub):
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(jpeg, "JPEG")
    stub.add("POST", PATH, Reply(200, {"data": [{"b64_json": base64.b64encode(jpeg.getvalue()).decode()}]}))
    out = tmp_path / "out"
    assert generate_into_folder([openai(stub)], ["a cat"], out).generated == 1
    stem = file_stem(plan(["hosted"], ["a cat"])[0])
    assert sorted(p.name for p in (out / "hosted").iterdir()) == [f"{stem}.jpg", f"{stem}.txt"]
    assert generate_into_folder([openai(stub)], ["a cat"], out).already == 1 and len(stub.requests) == 1


def test_the_output_folder_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        FolderSink(tmp_path / "file")


# --- planning ---------------------------------------------------------------------------------------------


def test_plan_gives_image_k_seed_plus_k_and_checks_its_bounds():
    assert [(u.generator, u.prompt, u.seed) for u in plan(["a", "b"], ["p"], n=2, seed=10)] == [
        ("a", "p", 10), ("a", "p", 11), ("b", "p", 10), ("b", "p", 11),
    ]  # fmt: skip
    assert plan(["a"], ["p"], n=1, seed=MAX_SEED)[0].seed == MAX_SEED
    for n, seed in ((0, 0), (1001, 0), (2, MAX_SEED), (1, -1)):
        with pytest.raises(InputError):
            plan(["a"], ["p"], n=n, seed=seed)


def test_prompts_are_trimmed_checked_and_taken_once():
    assert clean_prompts([" a cat ", "", "a dog", "a cat"]) == ["a cat", "a dog"]
    with pytest.raises(InputError, match="no prompt"):
        clean_prompts(["  ", ""])
    with pytest.raises(InputError):
        clean_prompts(["bad\x00prompt"])


def test_file_names_are_readable_and_distinct():
    stems = {file_stem(u) for u in plan(["g"], ["A cat!", "a cat", "猫", "x" * 500], seed=3)}
    assert len(stems) == 4 and all(s.endswith("_3") and len(s) < 70 for s in stems)


def test_generator_names_that_cannot_be_folders_or_models_are_refused(tmp_path):
    for name in ("a/b", ".hidden", "..", " padded", "back\\slash", "x" * 201):
        config = GeneratorConfig(name=name, backend="procedural")
        with pytest.raises(InputError, match="rename"):
            generate_into_folder([config], ["a cat"], tmp_path / "out")
