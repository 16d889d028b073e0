"""Export votes as battle logs (JSON lines or CSV) with the public arena field names, so the files load
in `imagearena rate` and in other arena tooling unchanged. A four-image round is written as its
rank-broken battles, each naming the round (``round_id``, the round result's id; null for a pair vote)
and its ``round_type``. Undone decisions are left out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from imagearena.arena.runtime import Arena
from imagearena.types import RoundType

if TYPE_CHECKING:
    from imagearena.storage.votes import RoundRecord, VoteRecord

FIELDS = (
    "model_a",
    "model_b",
    "winner",
    "tstamp",
    "judge",
    "prompt",
    "voter",
    "epoch",
    "round_id",
    "round_type",
)

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _records(arena: Arena, study: str, archived: bool) -> Iterator[dict[str, Any]]:
    """Pair votes and rank-broken rounds, in the order they were cast (a round's battles together)."""
    import heapq

    from imagearena.storage.studies import get_study
    from imagearena.storage.votes import iter_rounds, iter_votes

    with arena.read_session() as session:
        row = get_study(session, study)
        epoch = None if archived else row.epoch
        pairs = ((v.tstamp, 0, v.id, [_pair_record(v)]) for v in iter_votes(session, row.id, epoch))
        rounds = ((r.tstamp, 1, r.id, _round_records(r)) for r in list(iter_rounds(session, row.id, epoch)))
        for *_, records in heapq.merge(pairs, rounds, key=lambda item: item[:3]):
            yield from records


def _pair_record(v: VoteRecord) -> dict[str, Any]:
    return {
        "model_a": v.model_a,
        "model_b": v.model_b,
        "winner": v.winner,
        "tstamp": round(v.tstamp.timestamp(), 6),
        "judge": v.judge,
        "prompt": v.prompt,
        "voter": v.voter,
        "epoch": v.epoch,
        "round_id": None,
        "round_type": RoundType.PAIR.value,
    }


def _round_records(r: RoundRecord) -> list[dict[str, Any]]:
    from imagearena.arena.decisions import round_battles

    return [
        {
            "model_a": a,
            "model_b": b,
            "winner": w,
            "tstamp": round(r.tstamp.timestamp(), 6),
            "judge": r.judge,
            "prompt": r.prompt,
            "voter": r.voter,
            "epoch": r.epoch,
            "round_id": r.id,
            "round_type": r.round_type,
        }
        for a, b, w in round_battles(r)
    ]


def check_exists(arena: Arena, study: str) -> None:
    """Raise UnknownNameError before a streamed response has started."""
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        get_study(session, study)


def votes_jsonl(arena: Arena, study: str, archived: bool = False) -> Iterator[str]:
    """One JSON object per line, in the order the votes were cast; ``archived`` adds earlier epochs."""
    for record in _records(arena, study, archived):
        yield json.dumps(record, ensure_ascii=False) + "\n"


def spreadsheet_safe(value: object) -> object:
    """Text that a spreadsheet would run as a formula, prefixed with ``'`` so it is shown as text.
    Numbers are left alone: they are written by the server, never by a voter."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def votes_csv(arena: Arena, study: str, archived: bool = False) -> Iterator[str]:
    """The battle log as CSV, with text cells made safe to open in a spreadsheet. Rows end in CRLF
    (RFC 4180), so that a cell holding a lone CR is quoted too."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for i, record in enumerate(_records(arena, study, archived)):
        writer.writerow({key: spreadsheet_safe(value) for key, value in record.items()})
        if i % 500 == 499:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
