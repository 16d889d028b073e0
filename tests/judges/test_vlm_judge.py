"""The openai-vlm judge against a local stub of the chat completions API: the request it sends (the
template, the prompt, the images as data URLs in display order, the key from the environment), the
verdicts it parses from the answers models give, and its one-line errors."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image
from stub_server import Reply, StubServer

from imagearena.errors import InputError, UnknownNameError
from imagearena.generators.errors import GeneratorAuthError, GeneratorUnavailable
from imagearena.judges import JudgeImage
from imagearena.judges.config import create_judge, load_judges, parse_entry, resolve_judge
from imagearena.judges.vlm import JudgeAnswerError, OpenAIVLMJudge, parse_pair, parse_round

KEY = "sk-test-judge-key-0123456789"


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, "PNG")
    return out.getvalue()


def answer(content: str) -> Reply:
    return Reply(
        200, {"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    )


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def judge(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIVLMJudge:
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    entry = {
        "backend": "openai-vlm",
        "model": "vision-1",
        "base_url": stub.url + "/v1",
        "api_key_env": "TEST_JUDGE_KEY",
        "max_retries": 2,
    }
    built = create_judge(parse_entry("vlm", entry))
    assert isinstance(built, OpenAIVLMJudge)
    built.client.sleep = lambda _s: None
    return built


def images(*colours: tuple[int, int, int]) -> list[JudgeImage]:
    return [JudgeImage(load=lambda c=c: png(c)) for c in colours]


RED, GREEN, BLUE, GREY = (200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 90)


def test_pair_request_and_verdict(judge: OpenAIVLMJudge, stub: StubServer) -> None:
    stub.add("POST", "/v1/chat/completions", answer('{"winner": "right", "rationale": "sharper cat"}'))
    verdict = judge.judge("a red cat", images(RED, GREEN))
    assert verdict.ranks == (2, 1) and verdict.rationale == "sharper cat"
    assert verdict.winner.value == "model_b"
    (sent,) = stub.requests
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.json()
    assert body["model"] == "vision-1" and body["temperature"] == 0.0
    system, user = body["messages"]
    assert system["role"] == "system" and '"winner": "left" | "right" | "tie"' in system["content"]
    parts = user["content"]
    assert parts[0] == {"type": "text", "text": "Prompt: a red cat"}
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert [base64.b64decode(u.partition(",")[2]) for u in urls] == [png(RED), png(GREEN)]
    assert all(u.startswith("data:image/png;base64,") for u in urls)


def test_four_image_round(judge: OpenAIVLMJudge, stub: StubServer) -> None:
    stub.add(
        "POST",
        "/v1/chat/completions",
        answer('Sure!\n```json\n{"ranks": [3, 1, 1, 2], "rationale": "x"}\n```'),
    )
    verdict = judge.judge("four dogs", images(RED, GREEN, BLUE, GREY))
    assert verdict.ranks == (4, 1, 1, 3)  # competition ranks
    body = stub.requests[0].json()
    assert "rank 1 is the best" in body["messages"][0]["content"]
    assert sum(p["type"] == "image_url" for p in body["messages"][1]["content"]) == 4


@pytest.mark.parametrize(
    ("text", "ranks"),
    [
        ('{"winner": "left", "rationale": "r"}', (1, 2)),
        ('I think {"winner":"B"} fits', (2, 1)),
        ('```json\n{"winner": "Tie"}\n```', (1, 1)),
        ('{"choice": "image 1", "reason": "why"}', (1, 2)),
        ("winner: right,\n", (2, 1)),
    ],
)
def test_parse_pair_answers(text: str, ranks: tuple[int, int]) -> None:
    assert parse_pair(text).ranks == ranks


def test_parse_round_by_order() -> None:
    assert parse_round('{"order": [3, 1, 4, 2]}', 4).ranks == (2, 4, 1, 3)
    with pytest.raises(ValueError):
        parse_round('{"ranks": [1, 2, 5, 3]}', 4)
    with pytest.raises(ValueError):
        parse_pair('{"winner": "maybe"}')


def test_unparseable_answer_is_one_line_error(judge: OpenAIVLMJudge, stub: StubServer) -> None:
    stub.add("POST", "/v1/chat/completions", answer("I cannot decide.\nBoth are nice."))
    with pytest.raises(JudgeAnswerError) as caught:
        judge.judge("p", images(RED, GREEN))
    assert "\n" not in str(caught.value) and "judge 'vlm'" in str(caught.value)


def test_retries_then_answers(judge: OpenAIVLMJudge, stub: StubServer) -> None:
    stub.add(
        "POST",
        "/v1/chat/completions",
        Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"}),
        Reply(503, {"error": {"message": "busy"}}),
        answer('{"winner": "left"}'),
    )
    assert judge.judge("p", images(RED, GREEN)).ranks == (1, 2)
    assert len(stub.requests) == 3


def test_errors_never_show_the_key(judge: OpenAIVLMJudge, stub: StubServer) -> None:
    stub.add("POST", "/v1/chat/completions", Reply(401, {"error": {"message": f"bad key {KEY}"}}))
    with pytest.raises(GeneratorAuthError) as caught:
        judge.judge("p", images(RED, GREEN))
    assert KEY not in str(caught.value) and KEY not in repr(judge)
    stub.add("POST", "/v1/chat/completions", Reply(500, {"error": {"message": "down"}}))
    with pytest.raises(GeneratorUnavailable):
        judge.judge("p", images(RED, GREEN))


def test_judges_file(tmp_path, stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    path = tmp_path / "judges.toml"
    path.write_text(
        f'[judges.vlm]\nbackend = "openai-vlm"\nmodel = "vision-1"\nbase_url = "{stub.url}/v1"\n'
        'api_key_env = "TEST_JUDGE_KEY"\njson_mode = true\n'
    )
    stub.add("POST", "/v1/chat/completions", answer('{"winner": "tie"}'))
    built = resolve_judge("vlm", path)
    assert built.judge("p", images(RED, GREEN)).ranks == (1, 1)
    assert stub.requests[0].json()["response_format"] == {"type": "json_object"}
    assert set(load_judges(path)) == {"vlm"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"backend": "openai-vlm", "model": "m", "api_key": "x"}, "keys never go in the judges file"),
        ({"backend": "openai-vlm", "model": "m", "colour": 1}, "unknown key(s) 'colour'"),
        ({"backend": "nope"}, "set backend = one of"),
        ({"backend": "openai-vlm", "model": "m", "api_key_env": "sk-abc def"}, "NAME of an environment"),
    ],
)
def test_bad_entries(table: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_entry("j", table)


def test_unknown_name_is_no_scorer() -> None:
    with pytest.raises(UnknownNameError, match="no judge 'no-such-thing'"):
        resolve_judge("no-such-thing")


def test_request_carries_images_only_as_data_urls(judge: OpenAIVLMJudge) -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpeg, "JPEG")
    body = judge.request_body("p", [png(RED), jpeg.getvalue()])
    urls = [p["image_url"]["url"] for p in body["messages"][1]["content"] if p["type"] == "image_url"]
    assert urls[0].startswith("data:image/png") and urls[1].startswith("data:image/jpeg")
    assert "sk-" not in json.dumps(body)
