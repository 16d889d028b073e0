"""A vision-language model as a judge, through an OpenAI-compatible chat completions endpoint.

``POST {base_url}/chat/completions`` with a fixed prompt template and the round's images as
``image_url`` data URLs, in display order. The template asks for JSON: ``{"winner": "left|right|tie",
"rationale": "..."}`` for a pair, ``{"ranks": [r1, r2, r3, r4], "rationale": "..."}`` for a four-image
round (1 = best, equal ranks tie). Answers are parsed leniently (a JSON object inside prose or a code
fence, ``A``/``B``/``1``/``2`` for left/right); an answer with no decision in it is a one-line
JudgeAnswerError. Requests go through imagearena.generators.http (timeouts, retries with backoff on
429/5xx, keys redacted); the key comes only from the variable ``api_key_env`` names.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any

from imagearena.generators.config import GeneratorConfig, bool_option, float_option, int_option
from imagearena.generators.errors import GeneratorError
from imagearena.generators.http import HTTP_OPTIONS, ApiClient
from imagearena.judges import JudgeImage, Verdict, competition_ranks
from imagearena.types import Outcome

DEFAULT_BASE_URL = "https://api.openai.com/v1"

PAIR_TEMPLATE = (
    "You judge text-to-image results. Both images were made for the prompt below. Decide which image a "
    "careful person would prefer, weighing how faithfully it follows the prompt, then its visual quality "
    "and absence of artifacts. Answer a tie only when neither is better. Answer with JSON only: "
    f'{{"winner": "left" | "right" | "{Outcome.TIE.value}", "rationale": "<one or two sentences>"}}. '
    "The first image is left, the second is right."
)
ROUND_TEMPLATE = (
    "You judge text-to-image results. The {n} images were made for the prompt below. Rank them as a "
    "careful person would, weighing how faithfully each follows the prompt, then its visual quality and "
    "absence of artifacts. Answer with JSON only: "
    '{{"ranks": [<rank of image 1>, ..., <rank of image {n}>], "rationale": "<one or two sentences>"}}, '
    "where rank 1 is the best and equal ranks mean a tie."
)

_WINNERS = {
    "left": (1, 2),
    "a": (1, 2),
    "1": (1, 2),
    "image 1": (1, 2),
    "first": (1, 2),
    "right": (2, 1),
    "b": (2, 1),
    "2": (2, 1),
    "image 2": (2, 1),
    "second": (2, 1),
    Outcome.TIE.value: (1, 1),
    "draw": (1, 1),
    "equal": (1, 1),
    "none": (1, 1),
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


class JudgeAnswerError(GeneratorError):
    """The model answered, but with no decision the template asks for."""


def image_data_url(data: bytes) -> str:
    """``data:<type>;base64,...`` for PNG, JPEG, WEBP or GIF bytes (PNG assumed otherwise)."""
    if data.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "webp"
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        kind = "gif"
    else:
        kind = "png"
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _objects(text: str) -> list[dict[str, Any]]:
    """JSON objects found in ``text``: the whole text, fenced blocks, then each balanced {...}."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    start = text.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                candidates.append(text[start : end + 1])
                break
        start = text.find("{", start + 1)
    found = []
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def parse_pair(text: str) -> Verdict:
    """The verdict in a pair answer; a JudgeAnswerError when there is none."""
    for obj in _objects(text):
        winner = obj.get("winner", obj.get("choice", obj.get("preferred")))
        key = str(winner).strip().lower() if winner is not None else ""
        if key in _WINNERS:
            return Verdict(_WINNERS[key], str(obj.get("rationale") or obj.get("reason") or "").strip())
    match = re.search(r'"?winner"?\s*[:=]\s*"?([A-Za-z0-9 ]+?)"?\s*[,}\n]', text, re.IGNORECASE)
    if match and match[1].strip().lower() in _WINNERS:
        return Verdict(_WINNERS[match[1].strip().lower()])
    raise ValueError("no winner")


def parse_round(text: str, n: int) -> Verdict:
    """The verdict in a four-image answer (ranks of images 1..n, or ``order``: image numbers best first)."""
    for obj in _objects(text):
        ranks = obj.get("ranks", obj.get("ranking"))
        rationale = str(obj.get("rationale") or obj.get("reason") or "").strip()
        if isinstance(ranks, list) and _valid(ranks, n):
            return Verdict(competition_ranks([-int(r) for r in ranks]), rationale)
        order = obj.get("order")
        if (
            isinstance(order, list)
            and _valid(order, n)
            and sorted(int(o) for o in order) == list(range(1, n + 1))
        ):
            place = {int(image): position for position, image in enumerate(order, start=1)}
            return Verdict(tuple(place[i] for i in range(1, n + 1)), rationale)
    raise ValueError("no ranks")


def _valid(values: object, n: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) == n
        and all(isinstance(v, int | float) and not isinstance(v, bool) and v == int(v) for v in values)
        and all(1 <= int(v) <= n for v in values)
    )


class _JudgeClient(ApiClient):
    @property
    def where(self) -> str:
        return f"judge {self.config.name!r}"


class OpenAIVLMJudge:
    """A chat model with image input, asked with a fixed template; ``model`` names it."""

    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    OPTIONS = HTTP_OPTIONS | frozenset({"temperature", "max_tokens", "json_mode", "auth"})

    def __init__(self, config: GeneratorConfig) -> None:
        from imagearena.errors import InputError

        if not config.model:
            raise InputError(f'judge {config.name!r}: set model = "..." (the chat model that judges)')
        self.config = config
        self.name = config.name
        self.model = config.model
        self.base_url = config.base_url or DEFAULT_BASE_URL
        self.temperature = float_option(config, "temperature", 0.0, 0.0, 2.0)
        self.max_tokens = int_option(config, "max_tokens", 300, 1, 100_000)
        self.json_mode = bool_option(config, "json_mode", False)
        auth = config.options.get("auth", "bearer")
        self.client = _JudgeClient(config, self.base_url, auth=str(auth))

    def __repr__(self) -> str:
        return f"OpenAIVLMJudge(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self.client.close()

    def request_body(self, prompt: str, images: Sequence[bytes]) -> dict[str, Any]:
        """The chat completions request for one round (the template, the prompt, the images in order)."""
        n = len(images)
        template = PAIR_TEMPLATE if n == 2 else ROUND_TEMPLATE.format(n=n)
        content: list[dict[str, Any]] = [{"type": "text", "text": f"Prompt: {prompt}"}]
        for k, data in enumerate(images, start=1):
            label = ("left", "right")[k - 1] if n == 2 else f"image {k}"
            content.append({"type": "text", "text": f"Image {k} ({label}):"})
            content.append({"type": "image_url", "image_url": {"url": image_data_url(data)}})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": template}, {"role": "user", "content": content}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def judge(self, prompt: str, images: Sequence[JudgeImage]) -> Verdict:
        if len(images) < 2:
            raise JudgeAnswerError(f"judge {self.name!r}: a round has at least two images")
        body = self.request_body(prompt, [image.load() for image in images])
        data = self.client.json("POST", "/chat/completions", json_body=body, idempotent=True)
        text = _message_text(data)
        if text is None:
            raise JudgeAnswerError(
                f"judge {self.name!r}: {self.base_url} answered without choices[0].message.content: "
                "check that base_url speaks the chat completions API"
            )
        try:
            return parse_pair(text) if len(images) == 2 else parse_round(text, len(images))
        except ValueError:
            shown = self.client.redact(text)[:200]
            want = '{"winner": "left|right|tie"}' if len(images) == 2 else '{"ranks": [...]}'
            raise JudgeAnswerError(
                f"judge {self.name!r}: the model's answer holds no {want}: {shown!r}; "
                "try json_mode = true or a model that follows the instruction"
            ) from None


def _message_text(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some hosts answer content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else None
