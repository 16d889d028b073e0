"""Preference data out: a study's human decisions in the shapes preference-tuning code reads.

- ``pickapic``: parquet with the Pick-a-Pic v2 columns Diffusion-DPO reads (``caption``, ``jpg_0``,
  ``jpg_1``, ``label_0``, ``label_1`` (0.5 each for a tie), ``model_0``, ``model_1``, ``image_0_uid``,
  ``image_1_uid``, ``user_id``, ``created_at``, ``has_label``, ``are_different``, ``best_image_uid``,
  ``ranking_id``). One row per pair vote and per rank-broken pair of a four-image round (its rows share
  the round's ``ranking_id``, written negative: round ids and vote ids are counted apart).
- ``trl``: parquet with ``prompt``, ``chosen``, ``rejected`` and ``images`` ([chosen, rejected]),
  the images as ``datasets`` Image values; ties have no chosen image and are left out.
- ``rankings``: the ImageReward ``test.json`` shape (``id``, ``prompt``, ``generations``, ``ranking``),
  one item per decision: four-image rounds (and a folder study's rankings) as four generations, pairs
  as two.

Images are embedded (``embed``: the stored file's bytes; for ``rankings`` a copy under ``images/``
beside the JSON) or named by absolute path (``path``). both_bad votes are left out unless asked for
(then pickapic writes them with ``has_label`` false). Rows are read in chunks and written in row
groups, so memory stays flat however many votes the study holds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.arena.runtime import Arena
from imagearena.errors import InputError
from imagearena.types import Outcome

if TYPE_CHECKING:
    from imagearena.storage.preferences import PreferenceRow, ShownImage

PAIRS_PER_GROUP = {"embed": 1_000, "path": 50_000}


class PreferenceFormat(StrEnum):
    PICKAPIC = "pickapic"
    TRL = "trl"
    RANKINGS = "rankings"


class ImageMode(StrEnum):
    EMBED = "embed"
    PATH = "path"


FILES = {
    PreferenceFormat.PICKAPIC: "pickapic.parquet",
    PreferenceFormat.TRL: "trl.parquet",
    PreferenceFormat.RANKINGS: "test.json",
}


@dataclass(frozen=True, slots=True)
class PreferenceExport:
    path: Path
    rows: int
    decisions: int
    skipped: int  # decisions left out (both_bad unless asked for; ties in trl)


def _pyarrow() -> Any:
    import pyarrow as pa
    import pyarrow.parquet  # noqa: F401  (pa.parquet)

    return pa


def _decisions(arena: Arena, study: str) -> Iterator[PreferenceRow]:
    from imagearena.storage.preferences import iter_pair_preferences, iter_round_preferences
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        row = get_study(session, study)
        yield from iter_pair_preferences(session, row.id, row.epoch)
        yield from iter_round_preferences(session, row.id, row.epoch)


def _locator(arena: Arena, study: str) -> Callable[[ShownImage], Path]:
    """Where an image's file is: in the study's folder (a folder study) or the media store."""
    from imagearena.folders.paths import resolve_inside
    from imagearena.storage.folder_sync import study_source
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        found = study_source(session, get_study(session, study).id)[2]
    root = Path(found).resolve() if found else None

    def locate(image: ShownImage) -> Path:
        if root is not None and image.source:
            return resolve_inside(root, image.source)
        return arena.media_store.path(image.sha256, image.format)

    return locate


def _pairs(decision: PreferenceRow) -> list[tuple[int, int, str]]:
    """(i, j, outcome) of a decision's image pairs: a pair vote as it is, a round rank-broken."""
    if decision.winner is not None:
        return [(0, 1, decision.winner)]
    from imagearena.ratings.rounds import rank_break

    return [(i, j, o.value) for i, j, o in rank_break(decision.round_type, decision.ranks)]


def export_preferences(
    arena: Arena,
    study: str,
    fmt: PreferenceFormat | str,
    out_dir: Path,
    *,
    images: ImageMode | str = ImageMode.EMBED,
    include_both_bad: bool = False,
    rows_per_group: int | None = None,
) -> PreferenceExport:
    """Write the study's current-epoch human decisions to ``out_dir`` in ``fmt``; returns what was written."""
    try:
        fmt, images = PreferenceFormat(fmt), ImageMode(images)
    except ValueError:
        raise InputError(
            f"use --format {'|'.join(PreferenceFormat)} and --images {'|'.join(ImageMode)}"
        ) from None
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        get_study(session, study)  # an unknown study fails before any file is made
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILES[fmt]
    locate = _locator(arena, study)
    if fmt is PreferenceFormat.RANKINGS:
        return _rankings(arena, study, path, images, locate, include_both_bad)
    group = rows_per_group or PAIRS_PER_GROUP[images.value]
    build = _pickapic_rows if fmt is PreferenceFormat.PICKAPIC else _trl_rows
    return _parquet(arena, study, path, fmt, images, locate, include_both_bad, group, build)


class _ImageValues:
    """An image's value as written (its bytes, or its path as text), remembered by content hash up to
    a bound: rounds show the same images again and again, and the bound keeps memory flat."""

    MAX_BYTES = 64 * 2**20
    MAX_ENTRIES = 200_000

    def __init__(self, images: ImageMode, locate: Callable[[ShownImage], Path]) -> None:
        self.embed = images is ImageMode.EMBED
        self.locate = locate
        self.values: dict[tuple[str, str], Any] = {}
        self.size = 0

    def __call__(self, image: ShownImage) -> Any:
        key = (image.sha256, image.source)
        value = self.values.get(key)
        if value is None:
            from imagearena.media import read_limited

            path = self.locate(image)
            value = read_limited(path) if self.embed else str(path)
            self.size += len(value)
            if self.size > self.MAX_BYTES or len(self.values) >= self.MAX_ENTRIES:
                self.values.clear()
                self.size = len(value)
            self.values[key] = value
        return value


#: Pick-a-Pic's label_0 by outcome: the left image preferred, the right one, or neither (0.5).
_LABEL_0 = {Outcome.MODEL_A.value: 1.0, Outcome.MODEL_B.value: 0.0}


def _pickapic_rows(decision: PreferenceRow, values: _ImageValues, both_bad: bool) -> list[dict[str, Any]]:
    rows = []
    for i, j, outcome in _pairs(decision):
        if outcome == Outcome.BOTH_BAD and not both_bad:
            continue
        a, b = decision.images[i], decision.images[j]
        label_0 = _LABEL_0.get(outcome, 0.5)
        best = a.sha256 if label_0 == 1.0 else b.sha256 if label_0 == 0.0 else ""
        rows.append(
            {
                "caption": decision.prompt,
                "jpg_0": values(a),
                "jpg_1": values(b),
                "label_0": label_0,
                "label_1": 1.0 - label_0,
                "model_0": a.model,
                "model_1": b.model,
                "image_0_uid": a.sha256,
                "image_1_uid": b.sha256,
                "user_id": decision.voter,
                "created_at": decision.tstamp,
                "has_label": outcome != Outcome.BOTH_BAD,
                "are_different": a.sha256 != b.sha256,
                "best_image_uid": best,
                "ranking_id": decision.id if decision.kind == "vote" else -decision.id,
            }
        )
    return rows


def _trl_rows(decision: PreferenceRow, values: _ImageValues, both_bad: bool) -> list[dict[str, Any]]:
    rows = []
    for i, j, outcome in _pairs(decision):
        if outcome not in (Outcome.MODEL_A, Outcome.MODEL_B):
            continue
        win, lose = (i, j) if outcome == Outcome.MODEL_A else (j, i)
        chosen, rejected = (_image(decision.images[k], values) for k in (win, lose))
        rows.append(
            {"prompt": decision.prompt, "chosen": chosen, "rejected": rejected, "images": [chosen, rejected]}
        )
    return rows


def _image(image: ShownImage, values: _ImageValues) -> dict[str, Any]:
    """A ``datasets`` Image value: the bytes (embed) or the path."""
    value = values(image)
    if values.embed:
        return {"bytes": value, "path": f"{image.sha256}.{image.format.lower()}"}
    return {"bytes": None, "path": value}


def _schema(pa: Any, fmt: PreferenceFormat, images: ImageMode) -> Any:
    if fmt is PreferenceFormat.PICKAPIC:
        jpg = pa.binary() if images is ImageMode.EMBED else pa.string()
        return pa.schema(
            [
                ("caption", pa.string()),
                ("jpg_0", jpg),
                ("jpg_1", jpg),
                ("label_0", pa.float64()),
                ("label_1", pa.float64()),
                ("model_0", pa.string()),
                ("model_1", pa.string()),
                ("image_0_uid", pa.string()),
                ("image_1_uid", pa.string()),
                ("user_id", pa.string()),
                ("created_at", pa.timestamp("us", tz="UTC")),
                ("has_label", pa.bool_()),
                ("are_different", pa.bool_()),
                ("best_image_uid", pa.string()),
                ("ranking_id", pa.int64()),
            ]
        )
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    features = {
        "prompt": {"dtype": "string", "_type": "Value"},
        "chosen": {"_type": "Image"},
        "rejected": {"_type": "Image"},
        "images": {"feature": {"_type": "Image"}, "_type": "List"},
    }
    return pa.schema(
        [("prompt", pa.string()), ("chosen", image), ("rejected", image), ("images", pa.list_(image))],
        metadata={"huggingface": json.dumps({"info": {"features": features}})},
    )


def _parquet(
    arena: Arena,
    study: str,
    path: Path,
    fmt: PreferenceFormat,
    images: ImageMode,
    locate: Callable[[ShownImage], Path],
    both_bad: bool,
    group: int,
    build: Callable[..., list[dict[str, Any]]],
) -> PreferenceExport:
    pa = _pyarrow()
    schema = _schema(pa, fmt, images)
    names = schema.names
    rows = decisions = skipped = 0
    values = _ImageValues(images, locate)
    columns: dict[str, list[Any]] = {n: [] for n in names}
    tmp = path.with_name(path.name + ".part")
    with pa.parquet.ParquetWriter(
        tmp, schema, compression="zstd" if images is ImageMode.PATH else "none"
    ) as writer:

        def flush() -> None:
            if columns[names[0]]:
                writer.write_table(pa.table(columns, schema=schema), row_group_size=group)
                for values in columns.values():
                    values.clear()

        for decision in _decisions(arena, study):
            decisions += 1
            made = build(decision, values, both_bad)
            skipped += not made
            for made_row in made:
                for n in names:
                    columns[n].append(made_row[n])
            rows += len(made)
            if len(columns[names[0]]) >= group:
                flush()
        flush()
    tmp.replace(path)
    return PreferenceExport(path, rows, decisions, skipped)


def _rankings(
    arena: Arena,
    study: str,
    path: Path,
    images: ImageMode,
    locate: Callable[[ShownImage], Path],
    both_bad: bool,
) -> PreferenceExport:
    """test.json, written item by item (a JSON list, one item per line)."""
    folder = path.parent / "images"
    rows = decisions = skipped = 0
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("[")
        for decision in _decisions(arena, study):
            decisions += 1
            if decision.winner == Outcome.BOTH_BAD and not both_bad:
                skipped += 1
                continue
            ranks = (
                list(decision.ranks)
                if decision.winner is None
                else {Outcome.MODEL_A: [1, 2], Outcome.MODEL_B: [2, 1]}.get(Outcome(decision.winner), [1, 1])
            )
            generations = []
            for image in decision.images:
                source = locate(image)
                if images is ImageMode.EMBED:
                    folder.mkdir(exist_ok=True)
                    name = f"{image.sha256}{source.suffix.lower()}"
                    if not (folder / name).exists():
                        shutil.copyfile(source, folder / name)
                    generations.append(f"images/{name}")
                else:
                    generations.append(str(source))
            item = {
                "id": f"{decision.kind}-{decision.id}",
                "prompt": decision.prompt,
                "generations": generations,
                "ranking": ranks,
                "models": [image.model for image in decision.images],
            }
            fh.write(("\n" if rows == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
            rows += 1
        fh.write("\n]\n")
    tmp.replace(path)
    return PreferenceExport(path, rows, decisions, skipped)
