"""Automatic arenas on the web: a judge's leaderboard beside the people's, Kendall tau and Spearman
between them, and the matches where they disagree most, with their images (arena.judging). A page per
study and judge, and the same as JSON. Judging itself runs from the command line (`imagearena judge`):
a request never calls a judge."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from imagearena.arena import judging
from imagearena.arena.leaderboards import method_names, method_title
from imagearena.errors import UnknownNameError
from imagearena.types import RatingMethod
from imagearena.web.api import READ_STUDY
from imagearena.web.deps import AdminFirstRoute, get_arena
from imagearena.web.media import image_url

router = APIRouter(tags=["arena"], route_class=AdminFirstRoute)
MAX_TOP = 50


def _board(request: Request, study: str, judge: str, method: str, top: int) -> judging.AutomaticBoard:
    arena = get_arena(request)
    known = judging.judges_of(arena, study)
    if judge not in known:
        raise UnknownNameError(
            f"no judge {judge!r} decided matches of study {study!r}; "
            + (
                f"judges: {', '.join(known)}"
                if known
                else f"run imagearena judge --study {study} --judge NAME"
            )
        )
    return judging.automatic_board(arena, study, judge, method, top=max(0, min(top, MAX_TOP)))


def board_dict(board: judging.AutomaticBoard) -> dict[str, Any]:
    c = board.comparison
    return {
        "study": board.study,
        "judge": board.judge,
        "method": board.method,
        "human": [_row(r) for r in board.human_rows],
        "automatic": [_row(r) for r in board.judge_rows],
        "judge_votes": board.judge_votes,
        "models": c.models,
        "kendall_tau": c.kendall_tau,
        "spearman": c.spearman,
        "matches": board.matches,
        "agreed": board.agreed,
        "agreement": board.agreement,
        "model_disagreements": [
            {"model_a": d.model_a, "model_b": d.model_b, "human_gap": d.human_gap, "judge_gap": d.judge_gap}
            for d in c.disagreements
        ],
        "disagreements": [
            {
                "match_id": d.match_id,
                "prompt": d.prompt,
                "images": [{"model": i.model, "image_url": image_url(i.sha256, i.format)} for i in d.images],
                "human_ranks": list(d.human),
                "judge_ranks": list(d.judge),
                "opposite_pairs": d.opposite,
                "rationale": d.rationale,
            }
            for d in board.disagreements
        ],
    }


def _row(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


@router.get("/api/v1/studies/{study}/judges", responses=READ_STUDY)
def study_judges(study: str, request: Request) -> dict[str, Any]:
    """The automatic judges that decided matches of the study."""
    return {"study": study, "judges": judging.judges_of(get_arena(request), study)}


@router.get("/api/v1/studies/{study}/judges/{judge}", responses=READ_STUDY)
def automatic_board(
    study: str,
    judge: str,
    request: Request,
    method: str = Query(RatingMethod.BT.value, description="A rating method (elo, trueskill, bt, ...)."),
    top: int = Query(10, ge=0, le=MAX_TOP),
) -> dict[str, Any]:
    """The judge's board beside the people's, their Kendall tau and Spearman, and the matches where they
    disagree most."""
    return board_dict(_board(request, study, judge, method, top))


@router.get("/judges/{study}/{judge}", response_class=HTMLResponse, include_in_schema=False)
def automatic_board_page(
    study: str, judge: str, request: Request, method: str = RatingMethod.BT.value, top: int = 10
) -> HTMLResponse:
    from imagearena.arena import studies
    from imagearena.web.pages import render

    board = _board(request, study, judge, method, top)
    summary = studies.study_detail(get_arena(request), study).summary
    human = {r.model: r for r in board.human_rows}
    auto = {r.model: r for r in board.judge_rows}
    models = sorted(set(human) | set(auto), key=lambda m: (human[m].rank if m in human else 1 << 30, m))
    return render(
        request,
        "judge_board.html",
        {
            "study": summary,
            "board": board,
            "models": models,
            "human": human,
            "auto": auto,
            "methods": {m: method_title(m) for m in method_names()},
            "method": method,
        },
    )
