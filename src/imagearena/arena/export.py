"""Export votes as battle logs (JSON lines or CSV) with the public arena field names, so the files load
in `imagearena rate` and in other arena tooling unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from imagearena.arena.runtime import Arena

FIELDS = ("model_a", "model_b", "winner", "tstamp", "judge", "prompt", "voter", "epoch")


def _records(arena: Arena, study: str, archived: bool) -> Iterator[dict]:
    from imagearena.storage.matches import study_row
    from imagearena.storage.votes import iter_votes

    with arena.read_session() as session:
        row = study_row(session, study)
        for v in iter_votes(session, row.id, None if archived else row.epoch):
            yield {
                "model_a": v.model_a,
                "model_b": v.model_b,
                "winner": v.winner,
                "tstamp": round(v.tstamp.timestamp(), 6),
                "judge": v.judge,
                "prompt": v.prompt,
                "voter": v.voter,
                "epoch": v.epoch,
            }


def check_exists(arena: Arena, study: str) -> None:
    """Raise UnknownNameError before a streamed response has started."""
    from imagearena.storage.matches import study_row

    with arena.read_session() as session:
        study_row(session, study)


def votes_jsonl(arena: Arena, study: str, archived: bool = False) -> Iterator[str]:
    """One JSON object per line, in the order the votes were cast; ``archived`` adds earlier epochs."""
    for record in _records(arena, study, archived):
        yield json.dumps(record, ensure_ascii=False) + "\n"


def votes_csv(arena: Arena, study: str, archived: bool = False) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for i, record in enumerate(_records(arena, study, archived)):
        writer.writerow(record)
        if i % 500 == 499:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
