"""Judges against people: how often a reward scorer prefers the image people preferred.

Two sources. A study: its decisive human votes (not tie, not both_bad) on served matches, four-image
rounds through their rank-broken pairs (imagearena.ratings.rounds), scored with the values stored in
the ``score`` table (``imagearena score --study`` fills it; ``score_missing`` runs it first), with
per model pair and per prompt category breakdowns and the human-to-human ceiling. A rankings file: the
ImageReward paper's Table 3 protocol on its ``test.json`` (per prompt, every pair i < j of images with
different human ranks, lower rank better; the scorer is right when it scores the better-ranked image
strictly higher; accuracy pooled over all pairs), scored by a scorer from the registry or read from
files ``imagearena score --format json`` wrote.

The arithmetic is imagearena.ratings.agreement; this module gathers the pairs and the scores.
"""

from __future__ import annotations

import json
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.agreement import (
    BOOTSTRAP_ROUNDS,
    Accuracy,
    Agreement,
    HumanCeiling,
    agreement,
    human_ceiling,
    pooled_pairs,
)
from imagearena.ratings.battles import OUTCOME_CODES
from imagearena.ratings.rounds import rounds_to_battles
from imagearena.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.arena.runtime import Arena
    from imagearena.storage.agreement import ShownRounds, ShownVotes

#: The names of the two protocols, as reports and the JSON output give them.
STUDY = "study"
TABLE3 = "imagereward-table3"
#: Breakdown names.
BY_PAIR = "model_pair"
BY_CATEGORY = "category"
#: Called with (images scored so far, images to score).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScorerAgreement:
    scorer: str
    result: Agreement


@dataclass(frozen=True)
class AgreementReport:
    """Every scorer's agreement with the same human judgements, and the human ceiling (studies)."""

    protocol: str
    source: str
    pairs: int  # decisive human pairs
    scorers: list[ScorerAgreement]
    human: HumanCeiling | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints and the API answers."""
        return {
            "protocol": self.protocol,
            "source": self.source,
            "pairs": self.pairs,
            "scorers": [
                {
                    "scorer": s.scorer,
                    **_accuracy(s.result.decisive),
                    "unscored": s.result.unscored,
                    "tie_margin": s.result.margin,
                    "ties": None if s.result.ties is None else _accuracy(s.result.ties),
                    "breakdowns": {
                        name: [{"group": g.group, **_accuracy(g.accuracy)} for g in groups]
                        for name, groups in s.result.breakdowns.items()
                    },
                }
                for s in self.scorers
            ],
            "human": None
            if self.human is None
            else {
                **_accuracy(self.human.agreement),
                "votes": self.human.votes,
                "image_pairs": self.human.image_pairs,
            },
            "notes": list(self.notes),
        }

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per figure: (scorer, part, group, accuracy, lower, upper, correct, n); part is
        ``all``, ``ties``, a breakdown name, or ``human`` (the ceiling, scorer empty)."""
        rows = []
        for s in self.scorers:
            rows.append({"scorer": s.scorer, "part": "all", "group": "", **_accuracy(s.result.decisive)})
            if s.result.ties is not None:
                rows.append({"scorer": s.scorer, "part": "ties", "group": "", **_accuracy(s.result.ties)})
            for name, groups in s.result.breakdowns.items():
                rows += [
                    {"scorer": s.scorer, "part": name, "group": g.group, **_accuracy(g.accuracy)}
                    for g in groups
                ]
        if self.human is not None and self.human.agreement.n:
            rows.append({"scorer": "", "part": "human", "group": "", **_accuracy(self.human.agreement)})
        return rows


CSV_FIELDS = ("scorer", "part", "group", "accuracy", "lower", "upper", "correct", "n")


def _accuracy(a: Accuracy) -> dict[str, Any]:
    return {"accuracy": a.accuracy, "lower": a.lower, "upper": a.upper, "correct": a.correct, "n": a.n}


def _lookup(scores: Mapping[int, float], ids: np.ndarray) -> np.ndarray:
    """The score of each image id (NaN where there is none), vectorised over the ids."""
    if not scores or not len(ids):
        return np.full(len(ids), np.nan)
    keys = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    at = np.clip(np.searchsorted(keys, ids), 0, len(keys) - 1)
    return np.where(keys[at] == ids, values[at], np.nan)


def _codes(labels: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Integer codes for the labels (None -> -1) and the distinct labels they index."""
    index: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if x is None else index.setdefault(x, len(index)) for x in labels),
        dtype=np.int64,
        count=len(labels),
    )
    return codes, list(index)


# --- a study ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyPairs:
    """A study's human pairs as columns: the two images, the outcome for the first as model_a, the
    decision each came from (a round's pairs share theirs), the two models' ids, the prompt id (-1:
    none) and the voter (empty: unknown)."""

    left: np.ndarray
    right: np.ndarray
    outcome: np.ndarray
    cluster: np.ndarray
    model_a: np.ndarray
    model_b: np.ndarray
    prompt: np.ndarray
    voter: list[str]

    def model_pairs(self, names: Mapping[int, str]) -> tuple[np.ndarray, list[str]]:
        """Per pair, a code for its two models in either order, and the codes' labels ("a vs b",
        names sorted)."""
        lo, hi = np.minimum(self.model_a, self.model_b), np.maximum(self.model_a, self.model_b)
        width = int(hi.max()) + 1 if len(hi) else 1
        uniq, codes = np.unique(lo * width + hi, return_inverse=True)
        labels = [" vs ".join(sorted((names[int(k // width)], names[int(k % width)]))) for k in uniq]
        return codes.reshape(-1), labels


def study_pairs(votes: ShownVotes, rounds: ShownRounds) -> StudyPairs:
    """Pair votes as they are and four-image rounds rank-broken into pairs."""

    def ints(values: Sequence[int | None]) -> np.ndarray:
        return np.array([-1 if v is None else v for v in values], dtype=np.int64)

    left = [np.array(votes.left, dtype=np.int64)]
    right = [np.array(votes.right, dtype=np.int64)]
    outcome = [np.array([OUTCOME_CODES[w] for w in votes.winner], dtype=np.int8)]
    cluster = [2 * np.array(votes.id, dtype=np.int64)]
    model_a = [np.array(votes.model_a, dtype=np.int64)]
    model_b = [np.array(votes.model_b, dtype=np.int64)]
    prompt = [ints(votes.prompt)]
    voter = list(votes.voter)
    if rounds.id:
        n = len(rounds.id)
        images = np.array(rounds.images, dtype=np.int64).reshape(-1)
        models = np.array(rounds.models, dtype=np.int64).reshape(-1)
        battles = rounds_to_battles(
            [""] * (4 * n), np.arange(4 * n).reshape(n, 4), rounds.ranks, rounds.round_type, np.arange(n)
        )
        group = battles.group if battles.group is not None else np.zeros(0, np.int64)
        left.append(images[battles.a])
        right.append(images[battles.b])
        outcome.append(battles.outcome)
        cluster.append(2 * np.array(rounds.id, dtype=np.int64)[group] + 1)
        model_a.append(models[battles.a])
        model_b.append(models[battles.b])
        prompt.append(ints(rounds.prompt)[group])
        voter += [rounds.voter[g] for g in group.tolist()]
    return StudyPairs(
        np.concatenate(left),
        np.concatenate(right),
        np.concatenate(outcome).astype(np.int8),
        np.concatenate(cluster),
        np.concatenate(model_a),
        np.concatenate(model_b),
        np.concatenate(prompt),
        voter,
    )


def read_categories(path: Path, column: str = "category", prompt_column: str | None = None) -> dict[str, str]:
    """Prompt text -> category from a prompt file (any format imagearena.prompts reads) with a category
    column (PartiPrompts' ``Category``, DrawBench's ``Category``); the column name ignores case."""
    from imagearena.prompts.loaders import load_prompt_set

    prompts = load_prompt_set(path, column=prompt_column)
    out: dict[str, str] = {}
    found = False
    for p in prompts.prompts:
        keys = {k.lower(): k for k in p.metadata}
        key = keys.get(column.lower())
        if key is None:
            continue
        found = True
        value = p.metadata[key]
        if value is not None and str(value).strip():
            out.setdefault(p.text.strip(), str(value).strip())
    if not found:
        raise InputError(f"{path} has no {column!r} column; name the category column with --category-column")
    return out


def _study_report(
    session: Session,
    study: str,
    scorers: Sequence[str] | None,
    *,
    margins: Mapping[str, float],
    categories: Mapping[str, str] | None,
    rounds: int,
    seed: int,
    require_scores: bool,
) -> AgreementReport:
    from imagearena.storage.agreement import (
        human_rounds,
        human_votes,
        model_names,
        prompt_texts,
        stored_scorers,
        study_scores,
    )
    from imagearena.storage.studies import get_study

    row = get_study(session, study)
    names = list(scorers) if scorers else stored_scorers(session, row.id)
    unknown = sorted(set(margins) - set(names))
    if unknown:
        raise InputError(f"a tie margin for {', '.join(unknown)}, which is not among the scorers")
    values = study_scores(session, row.id, names)
    if require_scores:
        empty = [n for n in names if not values[n]]
        if empty:
            raise InputError(
                f"no stored scores by {', '.join(empty)} in study {study!r}: run "
                f"`imagearena score --study {study} --scorer {empty[0]}` first, or add --score-missing"
            )
    votes, blind_votes = human_votes(session, row.id, row.epoch)
    rounds_, blind_rounds = human_rounds(session, row.id, row.epoch)
    pairs = study_pairs(votes, rounds_)
    breakdowns = {
        BY_PAIR: pairs.model_pairs(model_names(session, [*pairs.model_a.tolist(), *pairs.model_b.tolist()]))
    }
    uncategorised = 0
    if categories is not None:
        prompt_ids = np.unique(pairs.prompt)
        texts = prompt_texts(session, [int(p) for p in prompt_ids if p >= 0])
        labels = sorted({categories[t.strip()] for t in texts.values() if t.strip() in categories})
        label_code = {c: k for k, c in enumerate(labels)}
        code_of = {pid: label_code.get(categories.get(t.strip(), ""), -1) for pid, t in texts.items()}
        per_prompt = np.array([code_of.get(int(p), -1) for p in prompt_ids], dtype=np.int64)
        category = per_prompt[np.searchsorted(prompt_ids, pairs.prompt)] if len(prompt_ids) else pairs.prompt
        breakdowns[BY_CATEGORY] = (category, labels)
        uncategorised = int(((category < 0) & (pairs.outcome <= OUTCOME_CODES["model_b"])).sum())
    results = []
    for name in names:
        result = agreement(
            _lookup(values[name], pairs.left),
            _lookup(values[name], pairs.right),
            pairs.outcome,
            cluster=pairs.cluster,
            breakdowns=breakdowns,
            margin=margins.get(name, 0.0),
            rounds=rounds,
            seed=seed,
        )
        results.append(ScorerAgreement(name, result))
    voter_codes, _ = _codes([v or None for v in pairs.voter])
    ceiling = human_ceiling(pairs.left, pairs.right, pairs.outcome, voter_codes, rounds=rounds, seed=seed)
    notes = []
    if blind_votes or blind_rounds:
        notes.append(
            f"{blind_votes + blind_rounds} human decisions without a served match (imported) name no "
            "images and are left out"
        )
    if uncategorised:
        notes.append(f"{uncategorised} decisive pairs have a prompt the categories file does not list")
    decisive = int((pairs.outcome <= OUTCOME_CODES["model_b"]).sum())
    return AgreementReport(STUDY, study, decisive, results, ceiling, notes)


def study_agreement(
    settings: Settings,
    study: str,
    scorers: Sequence[str],
    *,
    margins: Mapping[str, float] | None = None,
    categories: Mapping[str, str] | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    score_missing: bool = False,
    scorer_options: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None,
) -> AgreementReport:
    """Agreement of each of ``scorers`` with the study's human votes, from the stored scores. With
    ``score_missing`` the study's images that a scorer has not scored are scored first (the scorer
    built from the registry with ``scorer_options``: device, dtype, batch_size) and stored."""
    from imagearena.arena.database import database_session

    if not scorers:
        raise InputError("name the scorers to compare with --scorer NAME[,NAME...]")
    if score_missing:
        from imagearena.arena.scoring import score_study
        from imagearena.scorers.ensemble import build_scorer

        with database_session(settings.database_url, create=False) as session:
            from imagearena.storage.studies import get_study

            get_study(session, study)  # an unknown study fails before a model loads
        for name in scorers:
            built = build_scorer(name, **dict(scorer_options or {}))
            score_study(settings, built, [name], study, on_progress=on_progress)
    with database_session(settings.database_url, create=False) as session:
        return _study_report(
            session,
            study,
            scorers,
            margins=margins or {},
            categories=categories,
            rounds=rounds,
            seed=seed,
            require_scores=True,
        )


#: Agreement reports the web app computed, per Arena: {(study, scorers): (state, report)}.
#: Agreement reports the web app computed, per Arena: {(study, scorers, rounds, seed): entry}.
_CacheKey = tuple[str, tuple[str, ...] | None, int, int]
_CACHE: weakref.WeakKeyDictionary[Arena, dict[_CacheKey, _Cached]]
_CACHE = weakref.WeakKeyDictionary()
_CACHE_SIZE = 32
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Cached:
    state: object
    report: AgreementReport
    at: float  # time.monotonic() when computed


def stored_agreement(
    arena: Arena,
    study: str,
    scorers: Sequence[str] | None = None,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    max_age_s: float | None = None,
) -> AgreementReport:
    """Agreement from the scores already stored (no model runs): the named scorers, or every scorer
    with scores in the study. For the web app: the report is kept until a decision, an undo or a
    stored score of the study changes (two small queries per call tell), so views do not re-read
    every vote; with ``max_age_s`` a report computed less than that long ago is answered as it is,
    without asking (a page on a study that takes votes all the time would otherwise recompute on
    every view)."""
    from imagearena.storage.agreement import score_state
    from imagearena.storage.studies import get_study
    from imagearena.storage.votes import decision_state

    key = (study, None if scorers is None else tuple(scorers), rounds, seed)
    with _CACHE_LOCK:
        cached = _CACHE.get(arena, {}).get(key)
    if cached is not None and max_age_s is not None and time.monotonic() - cached.at < max_age_s:
        return cached.report
    with arena.read_session() as session:
        row = get_study(session, study)
        state = (row.id, row.epoch, decision_state(session, row.id, row.epoch), score_state(session, row.id))
        if cached is not None and cached.state == state:
            return cached.report
        report = _study_report(
            session,
            study,
            scorers,
            margins={},
            categories=None,
            rounds=rounds,
            seed=seed,
            require_scores=False,
        )
    with _CACHE_LOCK:
        entries = _CACHE.setdefault(arena, {})
        entries.pop(key, None)
        entries[key] = _Cached(state, report, time.monotonic())
        while len(entries) > _CACHE_SIZE:
            entries.pop(next(iter(entries)))
    return report


def stored_scorer_names(arena: Arena, study: str) -> list[str]:
    """The scorers with scores stored for some image of the study (one small query)."""
    from imagearena.storage.agreement import stored_scorers
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        return stored_scorers(session, get_study(session, study).id)


# --- the ImageReward Table 3 protocol ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RankedPrompt:
    """One prompt of a rankings file: its images (paths as written) and their human ranks."""

    id: str
    prompt: str
    generations: tuple[str, ...]
    ranking: tuple[float, ...]


def read_rankings(path: Path) -> list[RankedPrompt]:
    """The ImageReward ``test.json`` shape: a list of {"id", "prompt", "generations": [path...],
    "ranking": [rank...]} (one rank per image, lower is better, equal ranks tie)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not JSON: {exc}") from exc
    shape = 'a list of {"prompt", "generations": [PATH...], "ranking": [RANK...]} objects'
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: expected {shape}")
    out = []
    for k, item in enumerate(data, 1):
        gens = item.get("generations") if isinstance(item, dict) else None
        ranks = item.get("ranking") if isinstance(item, dict) else None
        if (
            not isinstance(gens, list)
            or not isinstance(ranks, list)
            or len(gens) != len(ranks)
            or not all(isinstance(g, str) for g in gens)
            or not all(
                isinstance(r, int | float) and not isinstance(r, bool) and math.isfinite(r) for r in ranks
            )
        ):
            raise InputError(f"{path}: item {k} is not {shape} with one rank per image")
        prompt = item.get("prompt")
        out.append(
            RankedPrompt(
                str(item.get("id", k)),
                prompt if isinstance(prompt, str) else "",
                tuple(gens),
                tuple(float(r) for r in ranks),
            )
        )
    return out


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("", "."))


def read_scores(path: Path, name: str | None = None) -> dict[tuple[str, ...], float]:
    """Image path (as parts) -> score from what ``imagearena score --format json`` prints (a JSON list)
    or one such object per line (JSONL). An ensemble's member ``name`` is read from ``components``
    when present, else the row's ``score``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is neither JSON nor JSONL: {exc.msg}") from exc
    out: dict[tuple[str, ...], float] = {}
    for k, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("image"), str):
            raise InputError(f'{path}: row {k} needs "image" and "score" (imagearena score --format json)')
        components = row.get("components")
        value = (
            components[name]
            if name is not None and isinstance(components, dict) and name in components
            else row.get("score")
        )
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise InputError(f"{path}: row {k} ({row['image']}) has no finite score")
        out[_parts(row["image"])] = float(value)
    if not out:
        raise InputError(f"{path} has no scores")
    return out


def match_scores(
    prompts: Sequence[RankedPrompt], table: Mapping[tuple[str, ...], float], source: str
) -> list[list[float]]:
    """Each generation's score, matched by path: a row whose image path is the generation's path, or
    ends with it (a score file written with the images' folder in front). NaN where none matches; an
    ending that two rows with different scores share is an error."""
    lengths = {len(_parts(g)) for p in prompts for g in p.generations}
    tails: dict[tuple[str, ...], float] = {}
    clash: set[tuple[str, ...]] = set()
    for parts, value in table.items():
        for k in lengths:
            tail = parts[-k:]
            if len(parts) < k:
                continue
            if tail in tails and tails[tail] != value:
                clash.add(tail)
            tails[tail] = value
    out = []
    for p in prompts:
        row = []
        for g in p.generations:
            key = _parts(g)
            if key in clash and key not in table:
                raise InputError(
                    f"{source}: two images end with {g} and their scores differ; write full paths"
                )
            row.append(table[key] if key in table else tails.get(key, math.nan))
        out.append(row)
    return out


def score_generations(
    prompts: Sequence[RankedPrompt],
    images: Path,
    scorer_name: str,
    *,
    scorer_options: Mapping[str, Any] | None = None,
    batch_size: int = 16,
    workers: int = 4,
    on_progress: Progress | None = None,
) -> tuple[list[list[float]], int]:
    """Score every generation (``images / path``) with the named scorer; NaN for a file that could not
    be read. Returns the scores per prompt and how many images failed."""
    from imagearena.scorers.ensemble import build_scorer
    from imagearena.scorers.io import Scored, ScoreItem, score_items

    if not images.is_dir():
        raise InputError(f"--images {images} is not a folder; give the folder the generation paths start in")
    items = [
        ScoreItem(image=images / g, prompt=p.prompt, key=(k, j))
        for k, p in enumerate(prompts)
        for j, g in enumerate(p.generations)
    ]
    scorer = build_scorer(scorer_name, batch_size=batch_size, **dict(scorer_options or {}))
    done = 0

    def count(batch: list[Scored]) -> None:
        nonlocal done
        done += len(batch)
        if on_progress is not None:
            on_progress(done, len(items))

    results = score_items(scorer, items, batch_size=batch_size, workers=workers, on_batch=count)
    out = [[math.nan] * len(p.generations) for p in prompts]
    failed = 0
    for r in results:
        k, j = r.item.key
        if r.ok and r.score is not None:
            out[k][j] = float(r.score)
        else:
            failed += 1
    return out, failed


def rankings_agreement(
    rankings: Path,
    *,
    scores: Mapping[str, Path] | None = None,
    images: Path | None = None,
    scorers: Sequence[str] = (),
    margins: Mapping[str, float] | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    scorer_options: Mapping[str, Any] | None = None,
    batch_size: int = 16,
    workers: int = 4,
    on_progress: Progress | None = None,
) -> AgreementReport:
    """The ImageReward Table 3 protocol on a rankings file, each scorer's scores read from ``scores``
    (name -> file) or computed with the registry's scorer on the files under ``images``. The interval
    resamples prompts (a prompt's pairs share its images)."""
    prompts = read_rankings(rankings)
    margins = dict(margins or {})
    per_scorer: dict[str, list[list[float]]] = {}
    notes = []
    for name, path in (scores or {}).items():
        per_scorer[name] = match_scores(prompts, read_scores(path, name), str(path))
    if scorers:
        if images is None:
            raise InputError("scoring the rankings' images needs --images DIR (or give --scores FILE)")
        for name in scorers:
            per_scorer[name], failed = score_generations(
                prompts,
                images,
                name,
                scorer_options=scorer_options,
                batch_size=batch_size,
                workers=workers,
                on_progress=on_progress,
            )
            if failed:
                notes.append(f"{name}: {failed} images could not be read and were not scored")
    if not per_scorer:
        raise InputError("give --scorer NAME (with --images DIR) or --scores FILE")
    unknown = sorted(set(margins) - set(per_scorer))
    if unknown:
        raise InputError(f"a tie margin for {', '.join(unknown)}, which is not among the scorers")
    ranks = [p.ranking for p in prompts]
    results = []
    pairs = 0
    for name, values in per_scorer.items():
        sa, sb, outcome, prompt_index = pooled_pairs(ranks, values)
        pairs = len(outcome)
        result = agreement(
            sa, sb, outcome, cluster=prompt_index, margin=margins.get(name, 0.0), rounds=rounds, seed=seed
        )
        result = replace(result, ties=None)  # the protocol skips the pairs people tied
        if result.unscored:
            notes.append(f"{name}: {result.unscored} pairs left out, an image of theirs has no score")
        if result.decisive.n == 0:
            raise InputError(f"no image of {rankings} has a score by {name}: check the paths in the scores")
        results.append(ScorerAgreement(name, result))
    return AgreementReport(TABLE3, str(rankings), pairs, results, None, notes)


__all__ = [
    "AgreementReport",
    "CSV_FIELDS",
    "RankedPrompt",
    "ScorerAgreement",
    "match_scores",
    "rankings_agreement",
    "read_categories",
    "read_rankings",
    "read_scores",
    "stored_agreement",
    "stored_scorer_names",
    "study_agreement",
    "study_pairs",
]
