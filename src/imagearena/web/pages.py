"""HTML pages: arena, leaderboard, history, studies. Server-rendered with Jinja2; the arena page's
voting runs in a small local script against the JSON API."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from imagearena.arena import leaderboards, studies
from imagearena.arena.prompt_sets import attached_set
from imagearena.arena.tokens import check_admin
from imagearena.types import Outcome, RatingMethod, RoundType, StudyKind
from imagearena.web.bulk import bulk_boards
from imagearena.web.deps import ADMIN_COOKIE, AdminFirstRoute, get_arena, is_admin, require_admin
from imagearena.web.media import image_url

router = APIRouter(include_in_schema=False, route_class=AdminFirstRoute)

#: How pages word each outcome; the arena's script reads them from the page (data-outcomes).
OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.MODEL_A: "Left wins",
    Outcome.MODEL_B: "Right wins",
    Outcome.TIE: "Tie",
    Outcome.BOTH_BAD: "Both bad",
}

#: The question a round of each type asks.
ROUND_INTROS: dict[RoundType, str] = {
    RoundType.PAIR: "Which image fits the prompt better?",
    RoundType.BEST4: "Which of the four images fits the prompt best?",
    RoundType.ORDER4: "Order the four images from the best fit for the prompt to the worst.",
}

#: How pages name each round type.
ROUND_TITLES: dict[RoundType, str] = {
    RoundType.PAIR: "pairs",
    RoundType.BEST4: "best of four",
    RoundType.ORDER4: "order of four",
}

#: What choosing an image does in each round type (static/round.js): send it as the winner of a pair,
#: as the best of four, or add it to the order best to worst.
ROUND_PICKS: dict[RoundType, str] = {
    RoundType.PAIR: "winner",
    RoundType.BEST4: "best",
    RoundType.ORDER4: "order",
}


@lru_cache(maxsize=1)
def _templates() -> Jinja2Templates:
    from imagearena.web.app import WEB_DIR

    templates = Jinja2Templates(directory=WEB_DIR / "templates")
    templates.env.globals["image_url"] = image_url
    templates.env.globals["quote"] = lambda s: quote(s, safe="")
    templates.env.globals.update(
        Outcome=Outcome,
        RoundType=RoundType,
        StudyKind=StudyKind,
        outcome_labels=OUTCOME_LABELS,
        round_intros=ROUND_INTROS,
        round_picks=ROUND_PICKS,
        round_titles=ROUND_TITLES,
    )
    return templates


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    arena = get_arena(request)
    try:
        names = studies.study_names(arena)
    except Exception:  # the error page must render even when the database is the problem
        names = []
    base = {"studies_nav": names, "admin": is_admin(request), "page": name.removesuffix(".html")}
    return _templates().TemplateResponse(request, name, {**base, **context}, status_code=status)


def _default_study(request: Request) -> str | None:
    playable = [s for s in studies.list_studies(get_arena(request)) if s.models >= 2]
    return playable[0].name if playable else None


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> RedirectResponse:
    study = _default_study(request)
    if study is None:
        return RedirectResponse("/studies", status_code=303)
    return RedirectResponse(f"/arena/{quote(study, safe='')}", status_code=303)


@router.get("/arena/{study}", response_class=HTMLResponse)
def arena_page(study: str, request: Request) -> HTMLResponse:
    from imagearena.web.live import live_page_settings

    detail = studies.study_detail(get_arena(request), study)
    live = live_page_settings(request, detail.summary.name, admin=False)
    return render(request, "arena.html", {"study": detail.summary, **live})


@router.get("/leaderboard/{study}", response_class=HTMLResponse)
def leaderboard_page(study: str, request: Request, method: str = RatingMethod.ELO) -> HTMLResponse:
    from imagearena.arena.judging import judges_of
    from imagearena.web.charts import RatingPoint, rating_chart

    arena = get_arena(request)
    leaderboards.check_method(method)
    summary = studies.study_detail(arena, study).summary
    prompt_set = attached_set(arena, summary.name)
    # the built-ins fill the table's columns; a method a package registers ranks the rows when chosen
    shown = dict.fromkeys([*leaderboards.METHODS, method])
    boards = {m: leaderboards.leaderboard(arena, study, m) for m in shown}
    by_model = {m: {r.model: r for r in b.rows} for m, b in boards.items()}
    ordered = boards[method].rows
    points: list[RatingPoint] = list(leaderboards.rating_history(arena, study, method))
    board = boards[method]
    if board.rows and (not points or points[-1].at < board.computed_at):
        # the chart ends at the current ratings, not at the last stored snapshot
        points += leaderboards.current_points(board)
    return render(
        request,
        "leaderboard.html",
        {
            "study": summary,
            "prompt_set": prompt_set,
            "method": method,
            "methods": {m: leaderboards.method_title(m) for m in leaderboards.method_names()},
            "rows": ordered,
            "by_model": by_model,
            "win_rate": leaderboards.win_rate,
            "votes": boards[method].votes,
            "elo_k": arena.settings.elo_k,
            "matrix": leaderboards.win_rates(arena, study),
            "agreement": _stored_agreement(arena, study),
            StudyKind.BULK.value: bulk_boards(arena, summary),
            "judges": judges_of(arena, study),
            "chart": rating_chart(
                points,
                title=f"{leaderboards.method_title(method)} rating over time",
                refit=method == RatingMethod.BT,
            ),
        },
    )


#: How stale the leaderboard page's agreement table may be while votes arrive: recomputing it reads
#: every vote of the study.
AGREEMENT_MAX_AGE_S = 60.0


def _stored_agreement(arena: Any, study: str) -> dict[str, Any] | None:
    """The judges-vs-humans table of a study whose images have stored scores, else None; up to
    AGREEMENT_MAX_AGE_S old while votes arrive (the API answers fresh)."""
    from imagearena.arena.agreement import stored_agreement, stored_scorer_names

    names = stored_scorer_names(arena, study)
    return stored_agreement(arena, study, names, max_age_s=AGREEMENT_MAX_AGE_S).as_dict() if names else None


@router.get("/history/{study}", response_class=HTMLResponse)
def history_page(study: str, request: Request, limit: int = 50) -> HTMLResponse:
    arena = get_arena(request)
    summary = studies.study_detail(arena, study).summary
    items = studies.recent_votes(arena, study, max(1, min(limit, 500)))
    return render(request, "history.html", {"study": summary, "items": items})


@router.get("/studies", response_class=HTMLResponse)
def studies_page(request: Request) -> HTMLResponse:
    return render(request, "studies.html", {"all_studies": studies.list_studies(get_arena(request))})


@router.get("/studies/{study}", response_class=HTMLResponse)
def study_page(study: str, request: Request) -> HTMLResponse:
    from imagearena.web.live import live_page_settings

    detail = studies.study_detail(get_arena(request), study)
    live = live_page_settings(request, detail.summary.name, admin=is_admin(request))
    bulk = bulk_boards(get_arena(request), detail.summary)
    prompt_set = attached_set(get_arena(request), detail.summary.name)
    context = {
        "study": detail.summary,
        "detail": detail,
        "prompt_set": prompt_set,
        StudyKind.BULK.value: bulk,
    }
    return render(request, "study.html", {**context, **live})


# --- admin forms (the admin token arrives once through the login form, then as a cookie) ------------


@router.post("/admin/login")
def admin_login(request: Request, token: str = Form(...), next: str = Form("/studies")) -> RedirectResponse:
    check_admin(token, get_arena(request).admin_token)
    target = next if next.startswith("/") and not next.startswith("//") else "/studies"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(ADMIN_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/admin/logout")
def admin_logout() -> RedirectResponse:
    response = RedirectResponse("/studies", status_code=303)
    response.delete_cookie(ADMIN_COOKIE)
    return response


@router.post("/studies", dependencies=[Depends(require_admin)])
def create_study_form(
    request: Request,
    name: str = Form(...),
    title: str = Form(""),
    description: str = Form(""),
    round_type: str = Form(RoundType.PAIR),
) -> RedirectResponse:
    summary = studies.create_study(
        get_arena(request), name.strip(), title=title, description=description, round_type=round_type
    )
    return RedirectResponse(f"/studies/{quote(summary.name, safe='')}", status_code=303)


@router.post("/studies/{study}/reset", dependencies=[Depends(require_admin)])
def reset_form(study: str, request: Request) -> RedirectResponse:
    studies.reset_study(get_arena(request), study)
    return RedirectResponse(f"/studies/{quote(study, safe='')}", status_code=303)


@router.post("/studies/{study}/import", dependencies=[Depends(require_admin)])
def import_form(study: str, request: Request, folder: str = Form(...)) -> RedirectResponse:
    """Import, keep the report, and redirect to it (Post/Redirect/Get: a reload does not import again)."""
    from imagearena.arena.import_reports import save_report

    arena = get_arena(request)
    report = studies.import_folder(arena, study, folder)
    report_id = save_report(arena.settings.data_dir, report)
    target = f"/studies/{quote(report['study'], safe='')}/imports/{report_id}"
    return RedirectResponse(target, status_code=303)


@router.get(
    "/studies/{study}/imports/{report_id}", response_class=HTMLResponse, dependencies=[Depends(require_admin)]
)
def import_report_page(study: str, report_id: str, request: Request) -> HTMLResponse:
    """What an import from the study page did: counts, skipped files and why (admins only)."""
    from imagearena.arena.import_reports import load_report
    from imagearena.errors import UnknownNameError

    arena = get_arena(request)
    report = load_report(arena.settings.data_dir, report_id)
    if report["study"] != study:
        raise UnknownNameError(f"import report {report_id} is not one of study {study!r}")
    summary = studies.study_detail(arena, study).summary
    return render(request, "import_report.html", {"study": summary, "report": report})


@router.get("/go")
def go(study: str, page: str = "arena") -> RedirectResponse:
    """Target of the study picker when scripts are off."""
    page = page if page in ("arena", "leaderboard", "history") else "arena"
    return RedirectResponse(f"/{page}/{quote(study, safe='')}", status_code=303)
