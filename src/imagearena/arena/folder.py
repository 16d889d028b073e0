"""The folder ranker's use cases: open (or resume) the study of a folder, bring it in line with the
files, rank it, export and import its decisions, copy the images out in rank order, pre-rank by a
scorer.

A folder ranking is a study of kind ``folder`` whose contestants are the folder's images, named by their
path inside it; it is found again by the folder's resolved path (:func:`study_name_for`), so running the
ranker on the same folder resumes it, and every file added, changed or removed since is noticed by the
sync at start. The images stay where they are: nothing is written inside the folder except an export
asked for there. The decisions themselves are the arena's (pair votes, four-image round results,
undos), served and recorded by the arena's match and vote use cases like any other study's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from imagearena.arena.runtime import Arena
from imagearena.errors import ConflictError, ImageArenaError, InputError, UnknownNameError
from imagearena.folders.formats import Decision, RankingLine, match_names, read_decision_log
from imagearena.folders.paths import is_within, resolve_folder, resolve_inside
from imagearena.folders.scan import FolderScan, Skipped, scan_folder
from imagearena.folders.thumbs import ThumbnailCache, folder_key
from imagearena.media import Limits
from imagearena.types import RatingMethod, RoundType, Scorer, StudyKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.arena.matches import ServedMatch
    from imagearena.ratings.battles import Battles
    from imagearena.storage.folder_sync import SyncCounts
    from imagearena.storage.studies import StudyRow

#: The prompt all images of a folder study are bound to when they do not share one known prompt; each
#: image's own prompt, when found, is shown under it.
MIXED_PROMPTS = "Rank the images of {folder}"
#: Where thumbnails go, under the data dir.
THUMBS_DIR = "thumbs"


def study_name_for(root: Path) -> str:
    """The study name of the resolved folder ``root``: its name, made safe, and a digest of its path,
    so two folders called ``outputs`` stay two rankings."""
    stem = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_.-") else "-" for ch in root.name)
    return f"folder-{stem.strip('.-')[:60] or 'root'}-{folder_key(root)[:10]}"


def default_state_url(data_dir: Path, root: Path) -> str:
    """The SQLite file that holds the ranking of ``root`` when no ``--state`` URL is given: one file per
    folder under the data dir, named after the folder and its path digest."""
    return f"sqlite:///{(data_dir / 'folders' / (study_name_for(root) + '.db')).resolve()}"


def check_outside(root: Path, *paths: Path) -> None:
    """Refuse to run when the data dir (state, thumbnails) would lie inside the ranked folder."""
    for path in paths:
        if is_within(path.resolve(), root):
            raise InputError(
                f"{path} lies inside the folder being ranked ({root}), and nothing is written there: "
                "pass --data-dir (or --state) outside it"
            )


def check_state_outside(root: Path, url: str) -> None:
    """Refuse a SQLite state file inside the ranked folder (``--state sqlite:///DIR/x.db``)."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            check_outside(root, Path(path))


@dataclass(frozen=True)
class OpenedFolder:
    """A folder study as this run found it."""

    study: str
    root: Path
    round_type: RoundType
    created: bool
    images: int  # present images
    sync: SyncCounts
    skipped: list[Skipped] = field(default_factory=list)
    prompt_problems: list[tuple[str, str]] = field(default_factory=list)
    scan_s: float = 0.0
    sync_s: float = 0.0


def open_folder(
    arena: Arena,
    folder: str | Path,
    *,
    round_type: RoundType | str | None = None,
    prompts_file: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> OpenedFolder:
    """Scan ``folder`` (headers only) and create or resume its study, noting every file added, changed
    or gone since the last run. ``round_type`` is what this run serves (None: what the ranking served
    last, pairs for a new one); ``on_progress`` hears how many
    files the scan has examined (see :func:`imagearena.folders.scan.scan_folder`). The files skipped
    stay known to this Arena (:func:`skipped_files`)."""
    from imagearena.storage.catalog import FolderFile, get_or_create_prompt
    from imagearena.storage.folder_sync import folder_study, study_source, sync_contestants

    root = resolve_folder(folder)
    rt = None if round_type is None else _round_type(round_type)
    check_outside(root, arena.settings.data_dir)
    check_state_outside(root, arena.settings.database_url)
    if prompts_file is not None and not prompts_file.is_file():
        raise InputError(f"{prompts_file}: no such prompts file")
    started = time.perf_counter()
    scan = scan_folder(
        root, Limits.from_settings(arena.settings), prompts_file=prompts_file, on_progress=on_progress
    )
    scanned = time.perf_counter()
    files = [FolderFile(i.name, i.size_bytes, i.mtime_ns, i.format, i.width, i.height) for i in scan.images]
    prompts = {i.name: i.prompt for i in scan.images}
    name = study_name_for(root)
    with arena.writing() as session, session.begin():
        study, created = folder_study(session, name, str(root), rt, title=f"Folder {root.name}")
        served = RoundType(study_source(session, study.id)[1])
        prompt = get_or_create_prompt(session, _shared_prompt(session, study, scan, root), "folder")
        counts = sync_contestants(session, study.id, prompt.id, files, prompts)
    arena.pools.invalidate(name)
    _skipped.setdefault(arena, {})[name] = list(scan.skipped)
    return OpenedFolder(
        study=name,
        root=root,
        round_type=served,
        created=created,
        images=len(files),
        sync=counts,
        skipped=scan.skipped,
        prompt_problems=scan.prompt_problems,
        scan_s=scanned - started,
        sync_s=time.perf_counter() - scanned,
    )


#: Per Arena, per folder study: the files its last scan in this process skipped (not stored: a scan
#: finds them again).
_skipped: weakref.WeakKeyDictionary[Arena, dict[str, list[Skipped]]] = weakref.WeakKeyDictionary()


def skipped_files(arena: Arena, study: str) -> list[Skipped] | None:
    """The files the study's last scan in this process skipped, with why; None when this process has
    not scanned its folder."""
    return _skipped.get(arena, {}).get(study)


@dataclass
class Loading:
    """A folder being read while the server already answers: files examined so far, or the error that
    stopped it."""

    examined: int = 0
    error: str | None = None
    created: bool = False  # the study was created for this run (by begin_loading)


#: Per Arena, per folder study: the scan in progress (see :func:`begin_loading`).
_loading: weakref.WeakKeyDictionary[Arena, dict[str, Loading]] = weakref.WeakKeyDictionary()


def begin_loading(arena: Arena, folder: str | Path, round_type: RoundType | str | None = None) -> str:
    """Create (or find) the folder's study and mark it as being read, before the scan: a server can
    answer at once, with a loading page, while :func:`load_folder` reads the folder. Returns the study
    name."""
    from imagearena.storage.folder_sync import folder_study

    root = resolve_folder(folder)
    rt = None if round_type is None else _round_type(round_type)
    check_outside(root, arena.settings.data_dir)
    check_state_outside(root, arena.settings.database_url)
    name = study_name_for(root)
    with arena.writing() as session, session.begin():
        _, created = folder_study(session, name, str(root), rt, title=f"Folder {root.name}")
    _loading.setdefault(arena, {})[name] = Loading(created=created)
    return name


def load_folder(
    arena: Arena,
    folder: str | Path,
    *,
    round_type: RoundType | str | None = None,
    prompts_file: Path | None = None,
    then: Callable[[OpenedFolder], None] | None = None,
) -> OpenedFolder:
    """:func:`open_folder`, counting the files examined for the loading page, then ``then`` (an import,
    a pre-rank), then the study's match pool; the study stops loading when all are done. An error is kept for the loading page to
    show, and raised."""
    name = study_name_for(resolve_folder(folder))
    state = _loading.setdefault(arena, {}).setdefault(name, Loading())

    def progress(count: int) -> None:
        state.examined = count

    try:
        opened = open_folder(
            arena, folder, round_type=round_type, prompts_file=prompts_file, on_progress=progress
        )
        state.examined = opened.images + len(opened.skipped)
        if state.created and not opened.created:  # begin_loading made the study moments ago
            opened = dataclasses.replace(opened, created=True)
        if then is not None:
            then(opened)
        # the match pool too, so the first round does not wait for it; a study with fewer images than
        # a round shows is not playable yet, and the page says so
        with contextlib.suppress(ImageArenaError):
            arena.pools.get(name)
    except Exception as exc:
        state.error = str(exc) if isinstance(exc, ImageArenaError) else f"{type(exc).__name__}: {exc}"
        raise
    _loading.get(arena, {}).pop(name, None)
    return opened


def loading_state(arena: Arena, study: str) -> Loading | None:
    """The study's folder scan in progress in this process, or None when it is not being read."""
    return _loading.get(arena, {}).get(study)


def _round_type(value: RoundType | str) -> RoundType:
    try:
        return RoundType(value)
    except ValueError:
        raise InputError(f"unknown mode {value!r}: use one of {', '.join(RoundType)}") from None


def _shared_prompt(session: Session, study: StudyRow, scan: FolderScan, root: Path) -> str:
    """The prompt every image of the study is bound to: the one the study already uses; for a new study
    the prompt all its images share when they share one, else a line naming the folder."""
    from imagearena.storage.folder_sync import study_prompt

    existing = study_prompt(session, study.id)
    if existing is not None:
        return existing[1]
    found = {i.prompt for i in scan.images}
    if len(found) == 1 and None not in found:
        return str(next(iter(found)))
    return MIXED_PROMPTS.format(folder=root.name)


# --------------------------------------------------------------------------------------------- rankings


@dataclass(frozen=True)
class FolderState:
    """Where a folder ranking stands: what the ranker page shows beside the round."""

    study: str
    source: str
    round_type: RoundType
    images: int
    missing: int
    decisions: int
    unseen: int  # images present that no decision has shown yet
    confidence: float | None = None  # see ranking_confidence; None below two images


def folder_state(arena: Arena, study: str) -> FolderState:
    from imagearena.storage.catalog import study_contestants
    from imagearena.storage.folder_sync import contestant_counts, study_source
    from imagearena.storage.studies import study_counts

    with arena.read_session() as session:
        row = _folder_row(session, study)
        _, round_type, source = study_source(session, row.id)
        present, missing = contestant_counts(session, row.id)
        counts = study_counts(session, row.id, row.epoch)
        names = {c.name for c in study_contestants(session, row.id, missing=False)} if counts[3] else set()
    battles = _battles(arena, row) if counts[3] else None
    seen = (
        {m for m, n in _decisions_per_model(battles).items() if n}
        if battles is not None and len(battles)
        else set()
    )
    confidence = None
    if present >= 2:
        # without decisions every image has the prior rating: each neighbouring pair is a coin flip
        confidence = _confidence(arena, row.name, names) if seen else 0.5
    return FolderState(
        study=row.name,
        source=source,
        round_type=RoundType(round_type),
        images=present,
        missing=missing,
        decisions=counts[3],
        unseen=present - len(names & seen) if counts[3] else present,
        confidence=confidence,
    )


def ranking_confidence(ranked: Sequence[tuple[float, float]], beta: float) -> float | None:
    """How sure the ranking is, in [0, 1]: the mean, over the neighbouring pairs of a ranking (TrueSkill
    (mu, sigma) per image, best first), of the probability that the pair is in the right order,
    Phi((mu_i - mu_j) / sqrt(2 beta^2 + sigma_i^2 + sigma_j^2)): the chance that the higher-ranked image
    would win a fresh comparison against the next one down, averaged along the list.

    0.5 means a coin flip per neighbour (nothing decided yet); it rises toward 1 as decisions separate
    the images and shrink their sigmas. It can dip below 0.5 where the order by mu - 3 sigma puts a
    little-seen image above one with a higher mu. None for fewer than two images (no order to judge).
    """
    if len(ranked) < 2:
        return None
    total = 0.0
    for (mu_i, sigma_i), (mu_j, sigma_j) in zip(ranked, ranked[1:], strict=False):
        z = (mu_i - mu_j) / math.sqrt(2 * beta**2 + sigma_i**2 + sigma_j**2)
        total += 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    return total / (len(ranked) - 1)


def _confidence(arena: Arena, study: str, present: set[str]) -> float | None:
    """:func:`ranking_confidence` of the images present, in the TrueSkill order of the ranking (mu -
    3 sigma, best first; the higher mu first among equals) from the study's cached TrueSkill leaderboard;
    images no decision has shown at the prior."""
    from imagearena.arena.leaderboards import leaderboard
    from imagearena.ratings.trueskill import TrueSkillEnv
    from imagearena.types import RatingMethod

    env = TrueSkillEnv()
    rated = {
        r.model: (r.rating, (r.upper - r.lower) / 6.0)
        for r in leaderboard(arena, study, RatingMethod.TRUESKILL).rows
        if r.lower is not None and r.upper is not None
    }
    ranked = sorted(
        (rated.get(name, (env.mu, env.sigma)) for name in present),
        key=lambda ms: (-round(ms[0] - 3 * ms[1], 9), -ms[0]),
    )
    return ranking_confidence(ranked, env.beta)


def _folder_row(session: Session, study: str) -> StudyRow:
    from imagearena.storage.studies import get_study

    row = get_study(session, study)
    if row.kind != StudyKind.FOLDER:
        raise InputError(f"study {study!r} is not a folder ranking")
    return row


def _battles(arena: Arena, row: StudyRow) -> Battles:
    from imagearena.arena.leaderboards import study_battles

    return study_battles(arena, row.id, row.epoch)[1]


def ranking_lines(arena: Arena, study: str) -> list[RankingLine]:
    """One line per image present in the folder, best first: TrueSkill (rounds as one multi-way update
    each), Bradley-Terry with its 95% interval, the win/loss/tie counts of the battles and the decisions
    the image was shown in. Ranked by ``mu - 3 sigma``; images with equal values share a rank."""
    from imagearena.ratings.leaderboard import leaderboard
    from imagearena.ratings.trueskill import TrueSkillEnv, replay_trueskill
    from imagearena.storage.catalog import study_contestants

    with arena.read_session() as session:
        row = _folder_row(session, study)
        names = sorted({c.name for c in study_contestants(session, row.id, missing=False)})
        scores = _prerank_scores(session, row.id)
    battles = _battles(arena, row)
    env = TrueSkillEnv()
    mu: dict[str, float] = {}
    sigma: dict[str, float] = {}
    bt: dict[str, tuple[float, float | None, float | None]] = {}
    counts: dict[str, tuple[int, int, int]] = {}
    shown: dict[str, int] = {}
    if len(battles):
        m, s = replay_trueskill(battles, env)
        mu = dict(zip(battles.models, m.tolist(), strict=True))
        sigma = dict(zip(battles.models, s.tolist(), strict=True))
        bt = {r.model: (r.rating, r.lower, r.upper) for r in leaderboard(battles, RatingMethod.BT)}
        _, wins, losses, ties = battles.counts()
        counts = {
            name: (int(w), int(lo), int(t))
            for name, w, lo, t in zip(battles.models, wins, losses, ties, strict=True)
        }
        shown = _decisions_per_model(battles)
    lines = []
    for name in names:
        m_, s_ = mu.get(name, env.mu), sigma.get(name, env.sigma)
        rating, lower, upper = bt.get(name, (None, None, None))
        w, lo, t = counts.get(name, (0, 0, 0))
        lines.append(
            RankingLine(name, 0, m_, s_, m_ - 3 * s_, rating, lower, upper, w, lo, t, shown.get(name, 0))
        )
    # best first; among equals (no decision yet) the pre-rank score, then the name
    lines.sort(
        key=lambda line: (-round(line.conservative, 9), -scores.get(line.image, float("-inf")), line.image)
    )
    ranked: list[RankingLine] = []
    for i, line in enumerate(lines):
        same = i > 0 and round(line.conservative, 9) == round(lines[i - 1].conservative, 9)
        rank = ranked[-1].rank if same else i + 1
        ranked.append(RankingLine(line.image, rank, *_fields_after_rank(line)))
    return ranked


def _fields_after_rank(
    line: RankingLine,
) -> tuple[float, float, float, float | None, float | None, float | None, int, int, int, int]:
    return (
        line.mu,
        line.sigma,
        line.conservative,
        line.bt_rating,
        line.bt_lower,
        line.bt_upper,
        line.wins,
        line.losses,
        line.ties,
        line.comparisons,
    )


def _decisions_per_model(battles: Battles) -> dict[str, int]:
    """How many decisions each model was in: a pair battle is one, a round counts once per image."""
    import numpy

    group = battles.groups()
    pairs = group < 0
    out = numpy.bincount(battles.a[pairs], minlength=battles.n_models) + numpy.bincount(
        battles.b[pairs], minlength=battles.n_models
    )
    if (~pairs).any():
        g = numpy.concatenate([group[~pairs], group[~pairs]])
        who = numpy.concatenate([battles.a[~pairs], battles.b[~pairs]]).astype(numpy.int64)
        keys = numpy.unique(g * battles.n_models + who)
        out = out + numpy.bincount(keys % battles.n_models, minlength=battles.n_models)
    return {name: int(n) for name, n in zip(battles.models, out.tolist(), strict=True)}


def rankings_csv(arena: Arena, study: str) -> Iterator[str]:
    from imagearena.folders.formats import rankings_csv as write

    return write(ranking_lines(arena, study))


def export_rankings(arena: Arena, study: str, path: Path) -> int:
    """Write the rankings CSV to ``path`` (a new file, written whole then renamed); returns its lines."""
    lines = ranking_lines(arena, study)
    from imagearena.folders.formats import rankings_csv as write

    _write_atomically(path, "".join(write(lines)))
    return len(lines)


def export_log(arena: Arena, study: str, path: Path) -> int:
    """Write the decision log, in the order the decisions were made, to ``path``: battle-log JSON Lines
    for ``.jsonl``/``.ndjson``, CSV otherwise (the arena's votes export). Returns the rows written."""
    from imagearena.arena.export import votes_csv, votes_jsonl

    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    chunks = list((votes_jsonl if jsonl else votes_csv)(arena, study))
    text = "".join(chunks)
    _write_atomically(path, text)
    return text.count("\n") - (0 if jsonl else 1)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportedLog:
    kind: str  # imagearena | image-ranker
    decisions: int
    skipped: list[tuple[int, str]]  # (position in the log, why)


def import_log(arena: Arena, study: str, path: Path) -> ImportedLog:
    """Replay a decision log (ours, or Image Ranker's ``Winner, Loser`` CSV) into the study, in its
    order, each decision recorded as a served match with its vote or round result. Images are matched by
    their path in the folder, else by a file name only one image has; a decision naming an image that is
    not in the folder is skipped and reported. Timestamps in the log are kept; decisions without one are
    stamped now, a microsecond apart, in log order."""
    kind, decisions = read_decision_log(path)
    return _replay(arena, study, kind, decisions)


def _replay(arena: Arena, study: str, kind: str, decisions: Sequence[Decision]) -> ImportedLog:
    import secrets

    from imagearena.ratings.rounds import validate_ranks
    from imagearena.storage.catalog import study_contestants
    from imagearena.storage.folder_sync import study_prompt
    from imagearena.storage.matches import MatchClaims, MatchVote, insert_match_votes

    with arena.read_session() as session:
        row = _folder_row(session, study)
        present = {c.name: c for c in study_contestants(session, row.id, missing=False)}
        prompt = study_prompt(session, row.id)
        prompt_id = prompt[0] if prompt is not None else 0
    mapping, _ = match_names((n for d in decisions for n in d.images), present)
    items: list[MatchVote] = []
    skipped: list[tuple[int, str]] = []
    now = datetime.now(UTC).timestamp()
    for position, decision in enumerate(decisions, start=1):
        names = [mapping.get(n) for n in decision.images]
        if any(n is None for n in names):
            lost = [n for n, m in zip(decision.images, names, strict=True) if m is None]
            skipped.append((position, f"no image {lost[0]!r} in the folder (or more than one by that name)"))
            continue
        shown = [present[n] for n in names if n is not None]
        if len({c.model_id for c in shown}) != len(shown):
            skipped.append((position, "names the same image twice"))
            continue
        four = decision.round_type is not RoundType.PAIR
        if four:
            try:
                validate_ranks(decision.round_type, decision.ranks or ())
            except InputError as exc:
                skipped.append((position, str(exc)))
                continue
        claims = MatchClaims(
            study_id=row.id,
            epoch=row.epoch,
            prompt_id=prompt_id,
            left_image_id=shown[0].image_id,
            right_image_id=shown[1].image_id,
            model_a_id=shown[0].model_id,
            model_b_id=shown[1].model_id,
            issued_at=int(decision.tstamp if decision.tstamp is not None else now),
            nonce=secrets.token_bytes(16),
            round_type=decision.round_type,
            image_3_id=shown[2].image_id if four else 0,
            image_4_id=shown[3].image_id if four else 0,
            model_3_id=shown[2].model_id if four else 0,
            model_4_id=shown[3].model_id if four else 0,
        )
        stamp = decision.tstamp if decision.tstamp is not None else now + position * 1e-6
        items.append(
            MatchVote(
                claims=claims,
                winner=decision.winner.value if decision.winner is not None else "",
                voter=decision.voter[:100],
                judge=(decision.judge or "human")[:100],
                tstamp=datetime.fromtimestamp(stamp, UTC),
                ranks=decision.ranks or (),
            )
        )
    if items:
        with arena.writing() as session, session.begin():
            for start in range(0, len(items), 1000):
                insert_match_votes(session, items[start : start + 1000])
    arena.pools.invalidate(study)
    return ImportedLog(kind=kind, decisions=len(items), skipped=skipped)


# --------------------------------------------------------------------------------- files on request


def copy_ranked(arena: Arena, study: str, dest: Path) -> int:
    """Copy the images, best first, into the new folder ``dest`` as ``0001_<name>`` (subfolders joined
    with ``__``); returns the files copied. ``dest`` must not exist yet, nor lie inside the folder."""
    state = folder_state(arena, study)
    root = Path(state.source)
    if dest.exists():
        raise ConflictError(f"{dest} already exists: copy into a new folder")
    check_outside(root, dest)
    lines = ranking_lines(arena, study)
    width = max(4, len(str(len(lines))))
    dest.mkdir(parents=True)
    copied = 0
    for position, line in enumerate(lines, start=1):
        source = resolve_inside(root, line.image)
        shutil.copy2(source, dest / f"{position:0{width}d}_{line.image.replace('/', '__')}")
        copied += 1
    return copied


def write_sidecar(arena: Arena, study: str, path: Path) -> int:
    """Write the rankings as one JSON file (``{"images": [{"image", "rank", "mu", ...}]}``) at ``path``."""
    lines = ranking_lines(arena, study)
    payload = {
        "study": study,
        "written_at": datetime.now(UTC).isoformat(),
        "images": [dict(zip(_ranking_keys(), _line_values(line), strict=True)) for line in lines],
    }
    _write_atomically(path, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    return len(lines)


def _ranking_keys() -> tuple[str, ...]:
    from imagearena.folders.formats import RANKING_FIELDS

    return RANKING_FIELDS


def _line_values(line: RankingLine) -> tuple[object, ...]:
    return (line.image, line.rank, *_fields_after_rank(line))


# ---------------------------------------------------------------------------------- images and thumbs


def folder_root(arena: Arena, study: str) -> Path:
    """The resolved folder of a folder study."""
    from imagearena.storage.folder_sync import study_source

    with arena.read_session() as session:
        row = _folder_row(session, study)
        _, _, source = study_source(session, row.id)
    return Path(source)


def image_path(arena: Arena, study: str, name: str) -> Path:
    """The file of image ``name`` of the study, through the one safe resolver."""
    return resolve_inside(folder_root(arena, study), name)


def thumbnail_path(arena: Arena, study: str, name: str) -> Path:
    """The cached thumbnail of image ``name`` (made now when missing), outside the folder."""
    root = folder_root(arena, study)
    return ThumbnailCache(
        root, arena.settings.data_dir / THUMBS_DIR, Limits.from_settings(arena.settings)
    ).get(name)


def locate_by_fingerprint(arena: Arena, fingerprint: str) -> Path:
    """The file behind a folder image's fingerprint (its ``sha256`` column), through the safe resolver;
    UnknownNameError when no folder study has it."""
    from imagearena.storage.folder_sync import folder_file_of

    with arena.read_session() as session:
        found = folder_file_of(session, fingerprint)
    if found is None:
        raise UnknownNameError("no such image")
    source, path = found
    return resolve_inside(Path(source), path)


# ----------------------------------------------------------------------------------------------- prerank


def _prerank_scores(session: Session, study_id: int) -> dict[str, float]:
    from imagearena.storage.folder_sync import prerank_scores

    return prerank_scores(session, study_id)


@dataclass(frozen=True)
class Preranked:
    scorer: str
    scored: int
    already_scored: int
    failed: list[tuple[str, str]]  # (image, why)


def prerank(
    arena: Arena,
    study: str,
    scorer_name: str,
    *,
    scorer: Scorer | None = None,
    batch_size: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> Preranked:
    """Score every present image of the study that ``scorer_name`` has not scored yet, with its own
    prompt when one was found (else the study's), and keep the scores: until decisions tell images
    apart, the rankings order them by this score. Each batch is committed as it completes."""
    from imagearena.scorers import create_scorer
    from imagearena.scorers.io import Scored, ScoreItem, score_items
    from imagearena.storage.catalog import list_images
    from imagearena.storage.folder_sync import contestant_prompts
    from imagearena.storage.scores import scores_for, set_score

    scorer = scorer or create_scorer(scorer_name)
    root = folder_root(arena, study)
    with arena.writing() as session:
        row = _folder_row(session, study)
        images = [i for i in list_images(session, row) if i.missing_since is None]
        done = scores_for(session, images, scorer_name)
        prompts = contestant_prompts(session, row.id)
        todo = [i for i in images if i.id not in done]
        items = [
            ScoreItem(
                image=root.joinpath(*i.source.split("/")),
                prompt=prompts.get(i.source, i.prompt.text),
                key=i.source,
            )
            for i in todo
        ]
        failed: list[tuple[str, str]] = []
        stored = 0

        def store_batch(batch: list[Scored]) -> None:
            nonlocal stored
            for result in batch:
                image = todo[result.index]
                if result.ok and result.score is not None:
                    set_score(session, image, scorer_name, result.score)
                else:
                    failed.append((image.source, result.error or "no score"))
            session.commit()
            stored += len(batch)
            if on_progress is not None:
                on_progress(stored, len(items))

        for item in items:  # the scorer reads the files: only through the safe resolver
            resolve_inside(root, str(item.key))
        score_items(
            scorer,
            items,
            batch_size=batch_size,
            workers=2,
            on_batch=store_batch,
            limits=Limits.from_settings(arena.settings),
        )
    return Preranked(scorer_name, stored - len(failed), len(done), failed)


def image_prompts(arena: Arena, study: str) -> dict[str, str]:
    """Image name -> the prompt found for it (sidecar, prompts file, PNG text), for images that have one."""
    from imagearena.storage.folder_sync import contestant_prompts

    with arena.read_session() as session:
        row = _folder_row(session, study)
        return contestant_prompts(session, row.id)


#: Per Arena, per study: (the match pool's version, image fingerprint -> its own prompt). Empty for a
#: study that is not a folder ranking, so its matches cost one dictionary lookup here.
_served_prompts: weakref.WeakKeyDictionary[Arena, dict[str, tuple[tuple[float, ...], dict[str, str]]]] = (
    weakref.WeakKeyDictionary()
)


def served_prompts(arena: Arena, match: ServedMatch) -> list[str | None]:
    """The prompt found for each image of a served match (a folder's sidecar, prompts file or PNG text),
    in display order; None where there is none. Read once per match pool version, not per match."""
    pool = arena.pools.get(match.study)
    studies = _served_prompts.setdefault(arena, {})
    cached = studies.get(match.study)
    if cached is None or cached[0] != pool.version:
        from imagearena.storage.folder_sync import fingerprint_prompts

        with arena.read_session() as session:
            cached = (pool.version, fingerprint_prompts(session, pool.study_id))
        studies[match.study] = cached
    return [cached[1].get(image.sha256) for image in match.images]
