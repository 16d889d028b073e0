"""Automatic arenas: a judge decides the same matches people decided, and its leaderboard stands beside
theirs.

``judge_study`` asks a judge (imagearena.judges: a scorer, an ensemble, a vision-language model) about
every match of the study's current epoch that has a kept human decision and that this judge has not
decided yet, and stores each answer as a vote or round result with ``judge`` = the judge's name,
linked to its match by a judgement row (storage.judging): a rerun asks only about new matches. People's
leaderboards, samplers and exports read ``judge = "human"`` only (storage.votes), so the automatic
decisions never mix into them. ``automatic_board`` rates the judge's decisions with the same method,
compares the two boards (ratings.compare: Kendall tau, Spearman, the model pairs ordered most
differently) and lists the matches where the judge and the people disagreed most, with their images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from imagearena.arena.runtime import Arena
from imagearena.errors import ImageArenaError, InputError
from imagearena.types import RatingMethod, RatingRow, RoundType

if TYPE_CHECKING:
    from imagearena.judges import Judge
    from imagearena.ratings.compare import BoardComparison
    from imagearena.storage.judging import ImageFile
    from imagearena.storage.studies import StudyRow

#: Called with (matches judged so far, matches to judge).
Progress = Callable[[int, int], None]
HUMAN = "human"


@dataclass(frozen=True, slots=True)
class JudgeRun:
    """What one run did: matches judged now, already judged before, and the failures (match id and the
    one-line message), which a rerun tries again."""

    judge: str
    judged: int
    already: int
    failed: list[tuple[int, str]] = field(default_factory=list)


def _check_judge_name(name: str) -> str:
    from imagearena.text import check_text

    name = check_text(name, "judge", 100)
    if not name or name == HUMAN:
        raise InputError(
            f"a judge needs a name other than {HUMAN!r}: people's decisions are judged {HUMAN!r}"
        )
    return name


def _study(arena: Arena, study: str) -> StudyRow:
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        return get_study(session, study)


def _loader(arena: Arena, root: Path | None, image: ImageFile) -> Callable[[], bytes]:
    from imagearena.media import Limits, read_limited

    limits = Limits.from_settings(arena.settings)
    if root is not None and image.source:
        from imagearena.folders.paths import resolve_inside

        return lambda: read_limited(resolve_inside(root, image.source), limits)
    return lambda: arena.media_store.read(image.sha256)


def _folder_root(arena: Arena, study_id: int) -> Path | None:
    from imagearena.storage.folder_sync import study_source

    with arena.read_session() as session:
        folder = study_source(session, study_id)[2]
    return Path(folder).resolve() if folder else None


def _fit_ranks(round_type: str, ranks: Sequence[int]) -> tuple[int, ...]:
    """A judge's ranks as the round type takes them: best4 keeps the single best as the pick (several
    sharing rank 1 is "no clear best"); order4 takes the ranks as they are."""
    from imagearena.ratings.rounds import validate_ranks

    if round_type == RoundType.BEST4.value:
        best = [k for k, r in enumerate(ranks) if r == min(ranks)]
        ranks = [1 if k in best else 2 for k in range(len(ranks))] if len(best) == 1 else [1] * len(ranks)
    return validate_ranks(round_type, ranks)


def judge_study(
    arena: Arena,
    study: str,
    judge: Judge,
    *,
    limit: int | None = None,
    on_progress: Progress | None = None,
) -> JudgeRun:
    """Have ``judge`` decide the current epoch's human-decided matches it has not decided yet (up to
    ``limit``), each stored as it is answered; a failed match is reported and left for a rerun."""
    from imagearena.judges import JudgeImage
    from imagearena.storage.judging import decided_matches, image_files, insert_judgement, stored_scores

    name = _check_judge_name(judge.name)
    row = _study(arena, study)
    root = _folder_root(arena, row.id)
    members: Sequence[str] = getattr(judge, "members", ())
    with arena.read_session() as session:
        todo = decided_matches(session, row.id, row.epoch, name, limit)
        total = len(decided_matches(session, row.id, row.epoch))
        ids = [i for m in todo for i in m.images]
        files = image_files(session, ids)
        scores = stored_scores(session, ids, members)
    failed: list[tuple[int, str]] = []
    judged = 0
    if on_progress:
        on_progress(0, len(todo))
    for match in todo:
        images = [JudgeImage(_loader(arena, root, files[i]), scores.get(i, {})) for i in match.images]
        try:
            verdict = judge.judge(match.prompt, images)
            if len(verdict.ranks) != len(images):
                raise InputError(
                    f"judge {name!r} answered {len(verdict.ranks)} ranks for {len(images)} images"
                )
            if match.round_type == RoundType.PAIR.value:
                winner, ranks = verdict.winner.value, tuple(verdict.ranks)
            else:
                winner, ranks = None, _fit_ranks(match.round_type, verdict.ranks)
        except ImageArenaError as exc:
            failed.append((match.match_id, str(exc)))
            continue
        with arena.session() as session, session.begin():
            insert_judgement(session, row.id, match, name, ranks, verdict.rationale[:4000], winner)
        judged += 1
        if on_progress:
            on_progress(judged, len(todo))
    return JudgeRun(name, judged, total - len(todo) if limit is None else _already(arena, row, name), failed)


def _already(arena: Arena, row: StudyRow, judge: str) -> int:
    from imagearena.storage.judging import decided_matches

    with arena.read_session() as session:
        return len(decided_matches(session, row.id, row.epoch)) - len(
            decided_matches(session, row.id, row.epoch, judge)
        )


def judges_of(arena: Arena, study: str) -> list[str]:
    """The automatic judges that decided matches of the study."""
    from imagearena.storage.judging import study_judges

    row = _study(arena, study)
    with arena.read_session() as session:
        return study_judges(session, row.id)


@dataclass(frozen=True, slots=True)
class ShownImage:
    model: str
    sha256: str
    format: str
    source: str


@dataclass(frozen=True, slots=True)
class MatchDisagreement:
    """A match the judge decided otherwise than people did: the images in display order and both
    decisions as ranks (1 = best), how many image pairs they order oppositely, and why the judge said so."""

    match_id: int
    prompt: str
    images: list[ShownImage]
    human: tuple[int, ...]
    judge: tuple[int, ...]
    opposite: int
    rationale: str


@dataclass(frozen=True, slots=True)
class AutomaticBoard:
    study: str
    judge: str
    method: str
    human_rows: list[RatingRow]
    judge_rows: list[RatingRow]
    judge_votes: int
    comparison: BoardComparison
    matches: int
    agreed: int
    disagreements: list[MatchDisagreement]

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.matches if self.matches else None


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _opposite(human: Sequence[int], judge: Sequence[int]) -> tuple[int, int]:
    """(pairs ordered in opposite directions, pairs ordered differently at all) by two rank vectors."""
    opposite = differ = 0
    for i in range(len(human)):
        for j in range(i + 1, len(human)):
            h, k = _sign(human[j] - human[i]), _sign(judge[j] - judge[i])
            opposite += h * k < 0
            differ += h != k
    return opposite, differ


def automatic_board(
    arena: Arena, study: str, judge: str, method: str = RatingMethod.BT, *, top: int = 10
) -> AutomaticBoard:
    """The judge's leaderboard beside the people's (the same method over the current epoch), their
    Kendall tau and Spearman, and up to ``top`` matches where the judge disagreed most."""
    from imagearena import ratings
    from imagearena.arena.decisions import battles_of
    from imagearena.arena.leaderboards import check_method, leaderboard
    from imagearena.ratings.compare import compare_boards
    from imagearena.storage.judging import image_files, judged_matches, model_names
    from imagearena.storage.votes import iter_rounds, iter_votes

    check_method(method)
    row = _study(arena, study)
    human = leaderboard(arena, study, method)
    with arena.read_session() as session:
        votes = list(iter_votes(session, row.id, row.epoch, judge=judge))
        rounds = list(iter_rounds(session, row.id, row.epoch, judge=judge))
        judged = judged_matches(session, row.id, row.epoch, judge)
        differing = [(m, *_opposite(m.human, m.judge)) for m in judged]
        differing = [d for d in differing if d[2]]
        differing.sort(key=lambda d: (-d[1], -d[2], d[0].match_id))
        shown = differing[:top]
        files = image_files(session, [i for m, _, _ in shown for i in m.images])
        names = model_names(session, [i for m, _, _ in shown for i in m.models])
    battles = battles_of(votes, rounds)
    judge_rows = (
        list(ratings.leaderboard(battles, method=cast(Any, method), k=arena.settings.elo_k))
        if len(battles)
        else []
    )
    comparison = compare_boards(
        {r.model: r.rating for r in human.rows}, {r.model: r.rating for r in judge_rows}, top=top
    )
    disagreements = [
        MatchDisagreement(
            m.match_id,
            m.prompt,
            [
                ShownImage(names.get(model, str(model)), files[i].sha256, files[i].format, files[i].source)
                for i, model in zip(m.images, m.models, strict=True)
            ],
            m.human,
            m.judge,
            opposite,
            m.rationale,
        )
        for m, opposite, _ in shown
    ]
    return AutomaticBoard(
        row.name,
        judge,
        method,
        list(human.rows),
        judge_rows,
        len(votes) + len(rounds),
        comparison,
        len(judged),
        len(judged) - len(differing),
        disagreements,
    )
