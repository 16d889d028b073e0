"""Import a folder of generated images: ``DIR/<model>/<image files>`` with prompts from prompt files
or sidecars (see imagearena.generators.folder).

Importing is idempotent: an image already in the study for the same model and prompt is skipped
before it is decoded again, and commits happen in batches, so an interrupted import keeps what it
committed and a rerun adds only the rest. Files are read, decoded and stored with no transaction
open; each batch is then recorded in one short transaction, so a running server's voters are not
held up by an import. A bad file is reported and skipped, never fatal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from imagearena.errors import ImageArenaError, InputError
from imagearena.generators.folder import PROMPT_FILES, is_inside, prompt_for, read_prompt_table
from imagearena.media import ImageInfo, ImageRejected, Limits, MediaStore, inspect_image, read_limited

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.storage.models import Model, Study

BATCH = 50


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # relative to the imported folder, or a prompt file position such as prompts.jsonl:3
    reason: str  # not-an-image | corrupt | oversized | too-many-pixels | no-prompt | outside | layout | prompt-file
    message: str


@dataclass
class ImportReport:
    study: str
    imported: int = 0
    already: int = 0  # present from an earlier import: skipped
    problems: list[Problem] = field(default_factory=list)
    models: set[str] = field(default_factory=set)

    @property
    def errors(self) -> int:
        return len(self.problems)


def find_candidates(root: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """``(model, file)`` pairs to import, and the layout problems met on the way."""
    problems: list[Problem] = []
    candidates: list[tuple[str, Path]] = []
    for entry in sorted(root.iterdir()):
        rel = entry.name
        if rel.startswith("."):
            continue
        if not is_inside(entry, root):
            problems.append(Problem(rel, "outside", "symlink leaves the imported folder: refused"))
            continue
        if entry.is_file():
            if rel not in PROMPT_FILES:
                problems.append(
                    Problem(rel, "layout", "files go in a folder named after their model: DIR/<model>/")
                )
            continue
        if not entry.is_dir():
            continue
        for item in sorted(entry.iterdir()):
            item_rel = f"{rel}/{item.name}"
            if item.name.startswith(".") or item.suffix.lower() == ".txt":
                continue  # hidden files; sidecar prompts
            if not is_inside(item, root):
                problems.append(Problem(item_rel, "outside", "symlink leaves the imported folder: refused"))
            elif item.is_dir():
                problems.append(
                    Problem(item_rel, "layout", "nested folders are not imported: use DIR/<model>/<files>")
                )
            elif item.is_file():
                candidates.append((rel, item))
    return candidates, problems


def import_folder(
    session: Session,
    store: MediaStore,
    root: Path | str,
    study_name: str,
    *,
    limits: Limits = Limits(),
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import ``root`` into the study ``study_name`` (created when missing) and commit.

    ``on_start(total)`` and ``on_file(relative_path)`` report progress.
    """
    from imagearena.storage import catalog

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder: pass DIR holding one sub-folder per model")
    study = catalog.get_or_create_study(session, study_name)
    known = catalog.image_identities(session, study)
    session.commit()  # no transaction stays open while files are read and decoded (see _flush)
    report = ImportReport(study=study.name)
    table = read_prompt_table(root)
    report.problems.extend(Problem(where, "prompt-file", msg) for where, msg in table.problems)
    candidates, layout_problems = find_candidates(root)
    report.problems.extend(layout_problems)
    if on_start:
        on_start(len(candidates))
    pending: list[_Pending] = []
    for model_name, path in candidates:
        rel = f"{model_name}/{path.name}"
        try:
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
            report.models.add(model_name)
            if key in known:
                report.already += 1
                continue
            info = store.put(data, limits)  # decoded and written outside any transaction
            known.add(key)
            pending.append(_Pending(model_name, prompt_text, info, str(path)))
            if len(pending) >= BATCH:
                _flush(session, study, pending, f"import:{root.name}")
                report.imported += len(pending)
                pending = []
        except ImageRejected as exc:
            report.problems.append(Problem(rel, exc.reason, str(exc)))
        except ImageArenaError as exc:
            report.problems.append(Problem(rel, "input", str(exc)))
        except OSError as exc:
            report.problems.append(Problem(rel, "unreadable", f"cannot read the file: {exc.strerror or exc}"))
        finally:
            if on_file:
                on_file(rel)
    _flush(session, study, pending, f"import:{root.name}")
    report.imported += len(pending)
    return report


@dataclass(frozen=True, slots=True)
class _Pending:
    model: str
    prompt: str
    info: ImageInfo
    source: str


def _flush(session: Session, study: Study, items: list[_Pending], source: str) -> None:
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
