"""Import a folder of generated images: ``DIR/<model>/<image files>`` with prompts from prompt files
or sidecars (see imagearena.generators.folder).

Importing is idempotent: an image already in the study for the same model and prompt is skipped
before it is decoded again, and commits happen in batches, so an interrupted import keeps what it
committed and a rerun adds only the rest. Files are read, decoded and stored with no transaction
open; each batch is then recorded in one short transaction, so a running server's voters are not
held up by an import. A bad file is reported and skipped, never fatal: one that is not an image, a
name that is not UTF-8, a prompt no database can store, a FIFO or device (never opened). Top-level
files that are not images (README, LICENSE) are listed as ignored, not as problems.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.errors import ImageArenaError, InputError
from imagearena.generators.folder import is_inside, prompt_for, read_prompt_table
from imagearena.media import (
    IMAGE_SUFFIXES,
    ImageInfo,
    ImageRejected,
    Limits,
    MediaStore,
    inspect_image,
    read_limited,
    special_kind,
)
from imagearena.promptfile import PROMPT_FILES, PromptTable
from imagearena.text import bad_character
from imagearena.types import RoundType

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.settings import Settings
    from imagearena.storage.models import Model
    from imagearena.storage.studies import StudyRow

BATCH = 50


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # relative to the imported folder (readable: see readable_name), or a position: prompts.jsonl:3
    # not-an-image | corrupt | oversized | too-many-pixels | no-prompt | bad-prompt | bad-name | special-file
    # | outside | layout | prompt-file | unreadable | input
    reason: str
    message: str


@dataclass
class ImportReport:
    study: str
    imported: int = 0
    already: int = 0  # present from an earlier import: skipped
    problems: list[Problem] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    ignored: list[str] = field(default_factory=list)  # top-level files that are not images (README...)

    @property
    def errors(self) -> int:
        return len(self.problems)


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    path: Path
    rel: str  # model/file as a user can read it


@dataclass
class Scan:
    """What a walk of the imported folder found."""

    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def readable_name(name: str) -> str:
    """``name`` as a user can read it in a report: bytes that are not UTF-8 (which Python keeps as lone
    surrogates) shown as ``\\xe9``, control characters as ``\\n`` or ``\\x07``. Always storable text."""
    try:
        raw = os.fsencode(name)
    except UnicodeEncodeError:  # a surrogate that did not come from the file system
        raw = name.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def name_trouble(name: str) -> str | None:
    """Why a file or folder name cannot be imported (not UTF-8, a control character), or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    problem = bad_character(name)
    return f"contains {problem}" if problem else None


def find_candidates(root: Path) -> Scan:
    """The files to import from ``root/<model>/``, and what was skipped or ignored on the way.

    At the top level, model folders are expected: an image file there is a layout problem, any other
    file (README, LICENSE, prompt files) is ignored, a FIFO, socket or device is reported. Nothing is
    opened here: a FIFO would block the reader.
    """
    scan = Scan()
    for entry in sorted(root.iterdir()):
        shown = readable_name(entry.name)
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if not is_inside(entry, root):
                scan.problems.append(Problem(shown, "outside", "symlink leaves the imported folder: refused"))
            elif trouble := name_trouble(entry.name):
                scan.problems.append(Problem(shown, "bad-name", _rename(f"folder name {trouble}")))
            else:
                _scan_model_folder(entry, root, scan)
        elif entry.is_file():
            if entry.suffix.lower() in IMAGE_SUFFIXES:
                message = "files go in a folder named after their model: DIR/<model>/"
                scan.problems.append(Problem(shown, "layout", message))
            elif entry.name not in PROMPT_FILES:
                scan.ignored.append(shown)
        else:
            scan.problems.append(_not_a_file(entry, shown))
    return scan


def _scan_model_folder(folder: Path, root: Path, scan: Scan) -> None:
    model_shown = readable_name(folder.name)
    try:
        items = sorted(folder.iterdir())
    except OSError as exc:
        scan.problems.append(Problem(model_shown, "unreadable", f"cannot list the folder: {exc.strerror}"))
        return
    for item in items:
        rel = f"{model_shown}/{readable_name(item.name)}"
        if item.name.startswith(".") or item.suffix.lower() == ".txt":
            continue  # hidden files; sidecar prompts
        if not is_inside(item, root):
            scan.problems.append(Problem(rel, "outside", "symlink leaves the imported folder: refused"))
        elif trouble := name_trouble(item.name):
            scan.problems.append(Problem(rel, "bad-name", _rename(f"file name {trouble}")))
        elif item.is_dir():
            message = "nested folders are not imported: use DIR/<model>/<files>"
            scan.problems.append(Problem(rel, "layout", message))
        elif item.is_file():
            scan.candidates.append(Candidate(folder.name, item, rel))
        else:
            scan.problems.append(_not_a_file(item, rel))


def _rename(what: str) -> str:
    return f"{what}: rename it"


def _not_a_file(path: Path, shown: str) -> Problem:
    """The problem for an entry that is neither a folder nor a regular file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return Problem(shown, "unreadable", "broken symlink: its target does not exist")
    message = f"{special_kind(mode)}, not a regular file: skipped without opening it"
    return Problem(shown, "special-file", message)


def import_folder(
    session: Session,
    store: MediaStore,
    root: Path | str,
    study_name: str,
    *,
    limits: Limits = Limits(),
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[str], None] | None = None,
    batch: int = BATCH,
    round_type: str | None = None,
) -> ImportReport:
    """Import ``root`` into the study ``study_name`` (created when missing, with ``round_type`` when
    given; an existing study is switched to it) and commit.

    ``on_start(total)`` and ``on_file(relative_path)`` report progress. Images are written ``batch`` at
    a time, one short transaction each, so the write lock is free while files are read.
    """
    from imagearena.storage import catalog
    from imagearena.storage.studies import check_round_type, get_or_create_study, set_round_type

    if round_type is not None:
        check_round_type(round_type)
    root = Path(root)
    if not root.is_dir():
        raise InputError(
            f"{readable_name(str(root))} is not a folder: pass DIR holding one sub-folder per model"
        )
    study = get_or_create_study(session, study_name, round_type=round_type or RoundType.PAIR)
    if round_type is not None and study.round_type != round_type:
        set_round_type(session, study.id, round_type)
    known = catalog.image_identities(session, study)
    session.commit()  # no transaction stays open while files are read and decoded (see _flush)
    report = ImportReport(study=study.name)
    table = read_prompt_table(root)
    report.problems.extend(Problem(where, "prompt-file", msg) for where, msg in table.problems)
    scan = find_candidates(root)
    report.problems.extend(scan.problems)
    report.ignored = scan.ignored
    if on_start:
        on_start(len(scan.candidates))
    source = f"import:{readable_name(root.name)}"
    pending: list[_Pending] = []
    for candidate in scan.candidates:
        try:
            item = _prepare(candidate, root, table, limits, store, known)
            report.models.add(candidate.model)
            if item is None:
                report.already += 1
                continue
            pending.append(item)
            if len(pending) >= batch:
                _flush(session, study, pending, source)
                report.imported += len(pending)
                pending = []
        except ImageRejected as exc:
            report.problems.append(Problem(candidate.rel, exc.reason, str(exc)))
        except ImageArenaError as exc:
            report.problems.append(Problem(candidate.rel, "input", str(exc)))
        except OSError as exc:
            message = f"cannot read the file: {exc.strerror or exc}"
            report.problems.append(Problem(candidate.rel, "unreadable", message))
        finally:
            if on_file:
                on_file(candidate.rel)
    _flush(session, study, pending, source)
    report.imported += len(pending)
    return report


def import_folder_into(
    settings: Settings,
    root: Path | str,
    study_name: str,
    *,
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[str], None] | None = None,
    round_type: str | None = None,
) -> ImportReport:
    """`imagearena import-folder`: :func:`import_folder` into the database and media store of
    ``settings`` (an empty database gets the schema first)."""
    from imagearena.arena.database import database_session

    with database_session(settings.database_url) as session:
        return import_folder(
            session,
            MediaStore(settings.media_dir),
            root,
            study_name,
            limits=Limits.from_settings(settings),
            on_start=on_start,
            on_file=on_file,
            round_type=round_type,
        )


def _prepare(
    candidate: Candidate,
    root: Path,
    table: PromptTable,
    limits: Limits,
    store: MediaStore,
    known: set[tuple[str, str, str]],
) -> _Pending | None:
    """Read, check and store one file (outside any transaction); None when the study already has it."""
    from imagearena.storage import catalog

    model_name, path = candidate.model, candidate.path
    catalog.check_model_name(model_name)
    data = read_limited(path, limits)
    prompt_text = prompt_for(path, root, model_name, table)
    if not prompt_text:
        inspect_image(data, limits)  # a non-image is reported as such, not as a missing prompt
        raise ImageRejected(
            f"no prompt: add {path.stem}.txt beside it or a line for {path.name} in prompts.jsonl",
            "no-prompt",
        )
    prompt_text = catalog.normalize_prompt(prompt_text)
    key = (model_name, catalog.prompt_digest(prompt_text), hashlib.sha256(data).hexdigest())
    if key in known:
        return None
    info = store.put(data, limits)  # decoded and written outside any transaction
    known.add(key)
    return _Pending(model_name, prompt_text, info, readable_name(str(path)))


def report_as_dict(report: ImportReport) -> dict[str, Any]:
    """The report as plain JSON-ready data (the API's answer, and what the web report page shows)."""
    return {
        "study": report.study,
        "imported": report.imported,
        "already": report.already,
        "errors": report.errors,
        "models": sorted(report.models),
        "problems": [asdict(p) for p in report.problems],
        "ignored": list(report.ignored),
    }


@dataclass(frozen=True, slots=True)
class _Pending:
    model: str
    prompt: str
    info: ImageInfo
    source: str


def _flush(session: Session, study: StudyRow, items: list[_Pending], source: str) -> None:
    """Record stored images in one short transaction: on SQLite the write lock is held for the
    inserts only, so voters on a running server do not wait while an import decodes files."""
    from imagearena.storage import catalog

    if not items:
        return
    models: dict[str, Model] = {}
    for item in items:
        if item.model not in models:
            models[item.model] = catalog.get_or_create_model(session, item.model)
        prompt = catalog.get_or_create_prompt(session, item.prompt, source=source)
        catalog.add_image(
            session,
            study,
            models[item.model],
            prompt,
            item.info,
            source=item.source,
        )
    session.commit()
