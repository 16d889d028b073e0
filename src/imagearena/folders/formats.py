"""The folder ranker's files: the rankings CSV, and the decision logs it can replay.

Rankings CSV, one row per image, best first::

    image,rank,mu,sigma,conservative,bt_rating,bt_lower,bt_upper,wins,losses,ties,comparisons

``mu``/``sigma`` are TrueSkill's, ``conservative`` is ``mu - 3 sigma`` (the order of ``rank``),
``bt_*`` the Bradley-Terry rating and its interval on the Elo scale (empty before any decision), and
``comparisons`` the decisions the image was shown in (a four-image round counts once).

Decision logs read back (:func:`read_decision_log`), told apart by their columns:

- ours: the arena's battle log (CSV or JSON Lines: ``model_a, model_b, winner, tstamp, judge, ...``,
  ``round_id`` and ``round_type``), where the battles of one four-image round are contiguous rows with
  the same ``round_id``; they are put back together into one round with its ranks;
- Image Ranker's ``Winner, Loser`` CSV: each row one pair decision.

Text cells are written spreadsheet-safe (a leading ``=``, ``+``, ``-``, ``@`` gets a ``'``), and that
``'`` is taken off again on reading.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from imagearena.errors import InputError
from imagearena.types import Outcome, RoundType

RANKING_FIELDS = (
    "image",
    "rank",
    "mu",
    "sigma",
    "conservative",
    "bt_rating",
    "bt_lower",
    "bt_upper",
    "wins",
    "losses",
    "ties",
    "comparisons",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Largest decision log read (bytes): far beyond any hand-made ranking.
MAX_LOG_BYTES = 512 * 1024 * 1024
IMAGEARENA_LOG = "imagearena"
IMAGE_RANKER_LOG = "image-ranker"


@dataclass(frozen=True, slots=True)
class RankingLine:
    image: str
    rank: int
    mu: float
    sigma: float
    conservative: float
    bt_rating: float | None
    bt_lower: float | None
    bt_upper: float | None
    wins: int
    losses: int
    ties: int
    comparisons: int


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision as a log records it: the images in display order and either the pair's ``winner``
    or the four-image round's competition ``ranks``."""

    images: tuple[str, ...]
    round_type: RoundType
    winner: Outcome | None = None
    ranks: tuple[int, ...] | None = None
    tstamp: float | None = None
    voter: str = ""
    judge: str = "human"


def safe_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula, prefixed with ``'``; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unsafe_cell(value: str) -> str:
    """Undo :func:`safe_cell` on a cell read back."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def rankings_csv(lines: Iterable[RankingLine]) -> Iterator[str]:
    """The rankings CSV in chunks (CRLF rows, RFC 4180), for a download or a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RANKING_FIELDS)
    for i, line in enumerate(lines):
        writer.writerow(
            [
                safe_cell(line.image),
                line.rank,
                *(_number(v) for v in (line.mu, line.sigma, line.conservative)),
                *(_number(v) for v in (line.bt_rating, line.bt_lower, line.bt_upper)),
                line.wins,
                line.losses,
                line.ties,
                line.comparisons,
            ]
        )
        if i % 500 == 499:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def read_rankings_csv(path: Path) -> list[RankingLine]:
    """Read a rankings CSV written by :func:`rankings_csv`."""
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != RANKING_FIELDS:
        raise InputError(f"{path}: not a rankings CSV; its header must be {','.join(RANKING_FIELDS)}")
    out = []
    for number, row in enumerate(reader, start=2):
        try:
            out.append(
                RankingLine(
                    image=unsafe_cell(row["image"]),
                    rank=int(row["rank"]),
                    mu=float(row["mu"]),
                    sigma=float(row["sigma"]),
                    conservative=float(row["conservative"]),
                    bt_rating=float(row["bt_rating"]) if row["bt_rating"] else None,
                    bt_lower=float(row["bt_lower"]) if row["bt_lower"] else None,
                    bt_upper=float(row["bt_upper"]) if row["bt_upper"] else None,
                    wins=int(row["wins"]),
                    losses=int(row["losses"]),
                    ties=int(row["ties"]),
                    comparisons=int(row["comparisons"]),
                )
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}:{number}: bad rankings row ({exc})") from None
    return out


# ------------------------------------------------------------------------------------ decision logs


def read_decision_log(path: Path) -> tuple[str, list[Decision]]:
    """The decisions of a log file in their order, and which kind of log it was
    (:data:`IMAGEARENA_LOG` or :data:`IMAGE_RANKER_LOG`). InputError names the line of a bad row."""
    return parse_decision_log(_read_text(path), str(path))


def parse_decision_log(text: str, name: str = "<log>") -> tuple[str, list[Decision]]:
    """:func:`read_decision_log` for content already in memory."""
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith("{"):
        return IMAGEARENA_LOG, _regroup(_jsonl_records(text, name), name)
    reader = csv.DictReader(io.StringIO(text))
    columns = {str(c).strip().lower(): c for c in reader.fieldnames or [] if c is not None}
    if "winner" in columns and "loser" in columns and "model_a" not in columns:
        return IMAGE_RANKER_LOG, list(_image_ranker(reader, columns["winner"], columns["loser"], name))
    if not {"model_a", "model_b", "winner"} <= set(columns):
        raise InputError(
            f"{name}: not a decision log: expected the columns model_a, model_b, winner (an exported "
            "votes.csv or votes.jsonl) or Winner, Loser (Image Ranker)"
        )
    records = (
        (number, {key: raw.get(col) for key, col in columns.items()})
        for number, raw in enumerate(reader, start=2)
    )
    return IMAGEARENA_LOG, _regroup(records, name)


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_LOG_BYTES:
            raise InputError(f"{path}: over {MAX_LOG_BYTES:,} bytes; split it")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _image_ranker(reader: csv.DictReader[str], winner: str, loser: str, name: str) -> Iterator[Decision]:
    for number, row in enumerate(reader, start=2):
        a, b = (str(row.get(winner) or "").strip(), str(row.get(loser) or "").strip())
        if not a or not b:
            raise InputError(f"{name}:{number}: a Winner, Loser row needs both images")
        if a == b:
            raise InputError(f"{name}:{number}: an image cannot beat itself ({a!r})")
        yield Decision(
            images=(unsafe_cell(a), unsafe_cell(b)), round_type=RoundType.PAIR, winner=Outcome.MODEL_A
        )


def _jsonl_records(text: str, name: str) -> Iterator[tuple[int, dict[str, object]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{name}:{number}: expected a JSON object per line")
        yield number, record


@dataclass
class _Row:
    number: int
    model_a: str
    model_b: str
    winner: Outcome
    tstamp: float | None
    voter: str
    judge: str
    round_id: str
    round_type: RoundType


def _text(record: dict[str, object], key: str) -> str:
    value = record.get(key)
    return "" if value is None else unsafe_cell(str(value).strip())


def _row(number: int, record: dict[str, object], name: str) -> _Row:
    where = f"{name}:{number}"
    a, b = _text(record, "model_a"), _text(record, "model_b")
    if not a or not b or a == b:
        raise InputError(f"{where}: model_a and model_b must name two different images")
    try:
        winner = Outcome(_text(record, "winner"))
    except ValueError:
        raise InputError(f"{where}: winner must be one of {', '.join(Outcome)}") from None
    stamp = record.get("tstamp")
    try:
        tstamp = float(stamp) if stamp not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}: tstamp must be seconds since 1970") from None
    kind = _text(record, "round_type") or RoundType.PAIR.value
    try:
        round_type = RoundType(kind)
    except ValueError:
        raise InputError(f"{where}: round_type must be one of {', '.join(RoundType)}") from None
    round_id = _text(record, "round_id") if round_type is not RoundType.PAIR else ""
    if round_type is not RoundType.PAIR and not round_id:
        raise InputError(f"{where}: a {round_type.value} battle needs the round_id of its round")
    return _Row(
        number,
        a,
        b,
        winner,
        tstamp,
        _text(record, "voter"),
        _text(record, "judge") or "human",
        round_id,
        round_type,
    )


def _regroup(records: Iterable[tuple[int, dict[str, object]]], name: str) -> list[Decision]:
    """Pair rows as they are; the contiguous rows of one four-image round back into one decision."""
    out: list[Decision] = []
    group: list[_Row] = []

    def flush() -> None:
        if group:
            out.append(_round(group, name))
            group.clear()

    for number, record in records:
        row = _row(number, record, name)
        if group and (row.round_id != group[0].round_id or row.round_type is not group[0].round_type):
            flush()
        if row.round_type is RoundType.PAIR:
            flush()
            out.append(
                Decision(
                    images=(row.model_a, row.model_b),
                    round_type=RoundType.PAIR,
                    winner=row.winner,
                    tstamp=row.tstamp,
                    voter=row.voter,
                    judge=row.judge,
                )
            )
        else:
            group.append(row)
    flush()
    return out


def _round(rows: Sequence[_Row], name: str) -> Decision:
    """A four-image round from its rank-broken battles: each image's rank is 1 + the images that beat it."""
    first = rows[0]
    images: list[str] = []
    for row in rows:
        for image in (row.model_a, row.model_b):
            if image not in images:
                images.append(image)
    expected = 3 if first.round_type is RoundType.BEST4 and len(rows) == 3 else 6
    if len(images) != 4 or len(rows) != expected:
        raise InputError(
            f"{name}:{first.number}: round {first.round_id} has {len(rows)} battles between {len(images)} "
            "images; a four-image round has 4 images and 6 battles (3 for a best4 pick)"
        )
    beaten_by = {image: 0 for image in images}
    for row in rows:
        if row.winner is Outcome.MODEL_A:
            beaten_by[row.model_b] += 1
        elif row.winner is Outcome.MODEL_B:
            beaten_by[row.model_a] += 1
    return Decision(
        images=tuple(images),
        round_type=first.round_type,
        ranks=tuple(1 + beaten_by[image] for image in images),
        tstamp=first.tstamp,
        voter=first.voter,
        judge=first.judge,
    )


def match_names(names: Iterable[str], known: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map names from a log to known image names: the same name, else the one known image with that
    file name (a log written with bare file names, as Image Ranker's is). Returns the mapping and the
    names that match no image or more than one."""
    known_set = set(known)
    by_basename: dict[str, list[str]] = {}
    for image in known_set:
        by_basename.setdefault(image.rsplit("/", 1)[-1], []).append(image)
    mapping: dict[str, str] = {}
    unmatched: list[str] = []
    for name in dict.fromkeys(names):
        if name in known_set:
            mapping[name] = name
            continue
        candidates = by_basename.get(name.replace("\\", "/").rsplit("/", 1)[-1], [])
        if len(candidates) == 1:
            mapping[name] = candidates[0]
        else:
            unmatched.append(name)
    return mapping, unmatched
