"""Studies: create, list with their models and prompts, and reset (a new epoch; old votes are archived)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from imagearena.arena.runtime import Arena
from imagearena.settings import Settings
from imagearena.storage.studies import StudyRow
from imagearena.storage.votes import HistoryItem as HistoryItem  # for web.api's history
from imagearena.storage.votes import PublicVote as PublicVote  # for web.api's HistoryItemOut
from imagearena.storage.votes import RoundHistoryItem as RoundHistoryItem  # for web.api's history
from imagearena.types import RoundType, StudyKind

TITLE_MAX_LENGTH = 200  # the width of study.title


@dataclass(frozen=True, slots=True)
class StudySummary(StudyRow):
    """A study as storage returns it, with its counts."""

    models: int
    prompts: int
    images: int
    votes: int
    archived_votes: int


@dataclass(frozen=True)
class StudyDetail:
    summary: StudySummary
    models: list[tuple[str, int]]  # (name, images)
    prompts: list[str]
    prompt_set: str | None = None  # the stored prompt set attached to the study


def list_studies(arena: Arena) -> list[StudySummary]:
    from imagearena.storage.studies import list_studies as rows
    from imagearena.storage.studies import study_counts

    with arena.read_session() as session:
        return [_summary(row, study_counts(session, row.id, row.epoch)) for row in rows(session)]


@dataclass(frozen=True)
class StudyListing:
    """A study as ``imagearena studies`` lists it: its summary and the stored prompt set attached to it."""

    summary: StudySummary
    prompt_set: str | None


def stored_studies(settings: Settings) -> list[StudyListing]:
    """Every study of the database at ``settings.database_url`` with its counts and attached prompt set,
    for a command that runs once. Creates nothing: a missing SQLite file or a database without the
    schema has no studies; a schema older than this version is an error asking for ``db upgrade``."""
    from imagearena.arena.database import database_session
    from imagearena.storage.engine import revisions, sqlite_file
    from imagearena.storage.prompt_sets import attached_prompt_set
    from imagearena.storage.studies import list_studies as rows
    from imagearena.storage.studies import study_counts

    url = settings.database_url
    path = sqlite_file(url) if url.startswith("sqlite") else None
    if path is not None and not path.exists():
        return []
    if revisions(url)[0] is None:
        return []
    with database_session(url, create=False) as session:
        return [
            StudyListing(
                _summary(row, study_counts(session, row.id, row.epoch)), attached_prompt_set(session, row.id)
            )
            for row in rows(session)
        ]


def study_names(arena: Arena) -> list[str]:
    """Names only (for menus): one small query, no counts."""
    from imagearena.storage.studies import study_names as names

    with arena.read_session() as session:
        return names(session)


def _summary(row: StudyRow, counts: tuple[int, int, int, int, int]) -> StudySummary:
    models, prompts, images, votes, archived = counts
    stored = {f.name: getattr(row, f.name) for f in fields(StudyRow)}
    return StudySummary(
        **stored, models=models, prompts=prompts, images=images, votes=votes, archived_votes=archived
    )


def study_detail(arena: Arena, study: str) -> StudyDetail:
    from imagearena.storage.catalog import image_counts_by_model, study_prompts
    from imagearena.storage.prompt_sets import attached_prompt_set
    from imagearena.storage.studies import get_study, study_counts

    with arena.read_session() as session:
        row = get_study(session, study)
        summary = _summary(row, study_counts(session, row.id, row.epoch))
        models = sorted(image_counts_by_model(session, row).items())
        prompts = [p.text for p in study_prompts(session, row)]
        prompt_set = attached_prompt_set(session, row.id)
    return StudyDetail(summary, models, prompts, prompt_set)


def create_study(
    arena: Arena,
    name: str,
    *,
    kind: str = StudyKind.LIVE,
    title: str = "",
    description: str = "",
    round_type: str = RoundType.PAIR,
) -> StudySummary:
    """A new, empty study (admin action) whose rounds show a pair or four images. ConflictError if the
    name is taken."""
    from imagearena.storage.studies import create_study as create
    from imagearena.text import check_text

    check_text(title, "the study title", max_length=TITLE_MAX_LENGTH)
    check_text(description, "the study description")
    with arena.writing() as session, session.begin():
        create(session, name, kind=kind, title=title, description=description, round_type=round_type)
    arena.pools.invalidate(name)
    return study_detail(arena, name).summary


def reset_study(arena: Arena, study: str) -> int:
    """Start a new epoch (admin action): leaderboards start over, every earlier vote is kept, archived.

    Returns the new epoch.
    """
    from imagearena.storage.studies import bump_epoch, get_study

    with arena.writing() as session, session.begin():
        epoch = bump_epoch(session, get_study(session, study).id)
    arena.pools.invalidate(study)
    return epoch


def recent_votes(arena: Arena, study: str, limit: int = 50) -> list[HistoryItem | RoundHistoryItem]:
    """The current epoch's newest decisions, newest first, with the images shown: pair votes
    (storage.votes.HistoryItem) and four-image round results (RoundHistoryItem). Undone decisions are
    left out, as the leaderboards leave them out."""
    from imagearena.storage.studies import get_study
    from imagearena.storage.votes import recent_rounds
    from imagearena.storage.votes import recent_votes as recent

    with arena.read_session() as session:
        row = get_study(session, study)
        items: list[HistoryItem | RoundHistoryItem] = [
            *recent(session, row.id, row.epoch, limit),
            *recent_rounds(session, row.id, row.epoch, limit),
        ]
    items.sort(key=lambda item: item.tstamp, reverse=True)  # stable: each kind stays newest id first
    return items[:limit]


def import_folder(arena: Arena, study: str, folder: str) -> dict[str, Any]:
    """Import FOLDER/<model>/<images> from the server's disk into an existing study (admin action),
    through the same code as `imagearena import-folder`; returns its report."""
    from pathlib import Path

    from imagearena.arena.importing import import_folder as run_import
    from imagearena.arena.importing import report_as_dict
    from imagearena.media import Limits
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        get_study(session, study)  # 404 for an unknown study rather than creating one from a typo
    with arena.session() as session:
        report = run_import(
            session, arena.media_store, Path(folder), study, limits=Limits.from_settings(arena.settings)
        )
    arena.pools.invalidate(study)
    return report_as_dict(report)
