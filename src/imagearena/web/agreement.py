"""JSON API: how often reward scorers agree with a study's human votes, from the scores already stored
(`imagearena score --study` stores them; a request never runs a model)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from imagearena.arena.agreement import AgreementReport, stored_agreement
from imagearena.errors import InputError
from imagearena.web.api import READ_STUDY
from imagearena.web.deps import AdminFirstRoute, get_arena

router = APIRouter(prefix="/api/v1", tags=["arena"], route_class=AdminFirstRoute)

#: Most scorers one request may name.
MAX_SCORERS = 20


class AccuracyOut(BaseModel):
    accuracy: float | None = Field(description="Share right (0..1); null when nothing was counted.")
    lower: float | None = Field(description="95% bootstrap interval, resampling votes.")
    upper: float | None
    correct: int
    n: int = Field(description="Pairs counted.")


class GroupOut(AccuracyOut):
    group: str


class ScorerAgreementOut(AccuracyOut):
    scorer: str
    unscored: int = Field(description="Decisive pairs left out: an image has no stored score.")
    tie_margin: float
    ties: AccuracyOut | None = Field(description="On human tie votes, for a scorer with a tie margin.")
    breakdowns: dict[str, list[GroupOut]] = Field(description="model_pair (and category): per group.")


class HumanOut(AccuracyOut):
    votes: int
    image_pairs: int = Field(description="Pairs of images two or more voters judged.")


class AgreementOut(BaseModel):
    protocol: str
    source: str = Field(description="The study.")
    pairs: int = Field(description="Decisive human pairs (pair votes and rank-broken round pairs).")
    scorers: list[ScorerAgreementOut]
    human: HumanOut | None = Field(description="How often two different voters agree on the same two images.")
    notes: list[str]


def agreement_dict(report: AgreementReport) -> dict[str, Any]:
    return report.as_dict()


@router.get("/studies/{study}/agreement", response_model=AgreementOut, responses=READ_STUDY)
def study_agreement(
    study: str,
    request: Request,
    scorer: list[str] | None = Query(
        default=None,
        description="Scorer names (repeat the parameter or separate with commas); "
        "default: every scorer with stored scores in the study.",
        max_length=MAX_SCORERS,
    ),
) -> dict[str, Any]:
    """Share of the study's decisive human votes (four-image rounds through their rank-broken pairs)
    where each scorer prefers the same image, with 95% bootstrap intervals, per model pair, and the
    human-to-human agreement as the ceiling."""
    names = [n.strip() for value in scorer or [] for n in value.split(",") if n.strip()]
    if len(names) > MAX_SCORERS:
        raise InputError(f"name at most {MAX_SCORERS} scorers")
    report = stored_agreement(get_arena(request), study, list(dict.fromkeys(names)) or None)
    return agreement_dict(report)
