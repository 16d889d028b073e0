"""Where an image's prompt is found, in this order: a sidecar ``<image stem>.txt`` beside it, a prompts
file (``--prompts FILE``, else ``prompts.jsonl`` or ``prompts.csv`` in the folder), then the text the
generator wrote into a PNG: ``parameters`` (the AUTOMATIC1111 / Forge layout: the prompt, then
``Negative prompt:`` and a ``Steps:`` line) or ``prompt`` (ComfyUI's workflow JSON, whose sampler's
positive input names the text node).

A prompts file maps image names to prompts: JSON Lines objects or CSV rows with a name column (``file``,
``image``, ``filename`` or ``path``) and a text column (``prompt``, ``text`` or ``caption``). A name is
relative to the folder (``cats/01.png``) or a bare file name that holds for that file name anywhere in
it. A bad line is reported as a problem and skipped; prompts no database can store are dropped the same
way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from imagearena.errors import ImageArenaError
from imagearena.folders.paths import check_name
from imagearena.promptfile import PROMPT_FILES, PromptTable, prompt_rows
from imagearena.text import bad_character

MAX_SIDECAR_BYTES = 64 * 1024
#: Longest prompt kept; longer ones are cut here (a prompt is shown under an image, not stored whole).
MAX_PROMPT_CHARS = 10_000


def clean_prompt(text: str) -> str | None:
    """``text`` stripped and cut to :data:`MAX_PROMPT_CHARS`, or None when empty or not storable."""
    text = text.strip()[:MAX_PROMPT_CHARS]
    if not text or bad_character(text) is not None:
        return None
    return text


def read_prompts_file(path: Path) -> PromptTable:
    """Read a JSON Lines or CSV prompts file (told by its extension: ``.jsonl``/``.ndjson``, else CSV)."""
    table = PromptTable()
    for line, name, prompt in prompt_rows(path, table.problems):
        try:
            check_name(name.strip())
        except ImageArenaError as exc:
            table.problems.append((line, f"image name {name[:80]!r}: {exc}"))
            continue
        cleaned = clean_prompt(prompt)
        if cleaned is None:
            table.problems.append((line, f"empty or unstorable prompt for {name[:80]!r}"))
            continue
        table.prompts[name.strip()] = cleaned
    return table


def folder_prompts_file(root: Path) -> Path | None:
    """The folder's own prompts file, when it has one that is a regular file (symlinks not followed)."""
    for file_name in PROMPT_FILES:
        candidate = root / file_name
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
    return None


def read_sidecar(path: Path) -> str | None:
    """The prompt in the sidecar text file at ``path`` (already resolved inside the folder), or None."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SIDECAR_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_SIDECAR_BYTES:
        return None
    try:
        return clean_prompt(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None


def prompt_from_header(text: Mapping[str, str]) -> str | None:
    """The prompt a generator wrote into the image's header text, or None."""
    parameters = text.get("parameters")
    if parameters:
        found = _a1111_prompt(parameters)
        if found:
            return found
    workflow = text.get("prompt")
    if workflow:
        return _comfyui_prompt(workflow)
    return None


def _a1111_prompt(parameters: str) -> str | None:
    """The prompt of an AUTOMATIC1111 ``parameters`` text: what comes before ``Negative prompt:`` or,
    without one, before the last line when that line holds the settings (``Steps: 20, Sampler: ...``)."""
    head, _, _ = parameters.partition("\nNegative prompt:")
    if head == parameters:
        lines = parameters.rstrip().splitlines()
        if len(lines) > 1 and lines[-1].startswith("Steps:"):
            head = "\n".join(lines[:-1])
    return clean_prompt(head)


def _comfyui_prompt(workflow: str) -> str | None:
    """The positive prompt of a ComfyUI API workflow: the text node a sampler's ``positive`` input links
    to, else the first node with a text input. A ``prompt`` that is not JSON is the prompt itself."""
    try:
        graph = json.loads(workflow)
    except json.JSONDecodeError:
        return clean_prompt(workflow)
    if not isinstance(graph, dict):
        return None
    nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict)}

    def text_of(node_id: str, depth: int = 0) -> str | None:
        inputs = nodes.get(node_id, {}).get("inputs")
        if not isinstance(inputs, dict) or depth > 8:
            return None
        for key in ("text", "text_g", "prompt"):
            if isinstance(inputs.get(key), str):
                return clean_prompt(inputs[key])
        for key in ("conditioning", "conditioning_1", "text"):  # a text node fed by another node
            link = inputs.get(key)
            if isinstance(link, list) and link:
                found = text_of(str(link[0]), depth + 1)
                if found:
                    return found
        return None

    for node in nodes.values():
        inputs = node.get("inputs")
        link = inputs.get("positive") if isinstance(inputs, dict) else None
        if isinstance(link, list) and link:
            found = text_of(str(link[0]))
            if found:
                return found
    for node_id in nodes:
        found = text_of(node_id)
        if found:
            return found
    return None
