"""Agreement of stored scores with a study's human votes, on a real database with known votes: pair
votes and four-image rounds, breakdowns, tie margins, the human ceiling, the JSON API and the
leaderboard's table."""

from __future__ import annotations

import itertools
import time

import pytest
from seeding import MODELS, PROMPTS, STUDY, seed_study

from imagearena.arena.agreement import stored_agreement, study_agreement
from imagearena.errors import InputError, UnknownNameError
from imagearena.types import RoundType

FOUR = "four"
FOUR_MODELS = ("m1", "m2", "m3", "m4")
# a scorer that prefers alpha > beta > gamma, and one that scores every image the same
# the reads are tested on both databases; what builds on them on SQLite only
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
RANK = {"alpha": 3.0, "beta": 2.0, "gamma": 1.0, "m1": 4.0, "m2": 3.0, "m3": 2.0, "m4": 1.0}


def images_by(session, study: str) -> dict[tuple[str, str], object]:
    from imagearena.storage import catalog, studies

    row = studies.get_study(session, study)
    return {(i.model.name, i.prompt.text): i for i in catalog.list_images(session, row)}


def claims(session, study: str, models: tuple[str, ...], prompt: str, nonce: bytes):
    from imagearena.storage.matches import MatchClaims
    from imagearena.storage.studies import get_study

    row = get_study(session, study)
    imgs = [images_by(session, study)[(m, prompt)] for m in models]
    four = len(models) == 4
    return MatchClaims(
        study_id=row.id,
        epoch=row.epoch,
        prompt_id=imgs[0].prompt_id,
        left_image_id=imgs[0].id,
        right_image_id=imgs[1].id,
        model_a_id=imgs[0].model_id,
        model_b_id=imgs[1].model_id,
        issued_at=int(time.time()),
        nonce=nonce,
        round_type=RoundType.ORDER4 if four else RoundType.PAIR,
        image_3_id=imgs[2].id if four else 0,
        image_4_id=imgs[3].id if four else 0,
        model_3_id=imgs[2].model_id if four else 0,
        model_4_id=imgs[3].model_id if four else 0,
    )


def store_scores(session, study: str, name: str, value) -> None:
    from imagearena.storage.scores import set_score

    for (model, _prompt), image in images_by(session, study).items():
        set_score(session, image, name, value(model))


# (left model, right model, prompt, winner, voter, judge)
PAIR_VOTES = [
    ("alpha", "beta", PROMPTS[0], "model_a", "v1", "human"),  # rank scorer right
    ("beta", "alpha", PROMPTS[0], "model_a", "v2", "human"),  # wrong; v1 and v2 disagree on these images
    ("alpha", "beta", PROMPTS[0], "model_a", "v3", "human"),  # right; v1 and v3 agree
    ("gamma", "alpha", PROMPTS[1], "model_b", "v1", "human"),  # right
    ("beta", "gamma", PROMPTS[1], "model_b", "v1", "human"),  # wrong
    ("alpha", "gamma", PROMPTS[2], "tie", "v1", "human"),  # a tie: not decisive
    ("alpha", "gamma", PROMPTS[2], "both_bad", "v2", "human"),  # not decisive
    ("gamma", "beta", PROMPTS[3], "model_a", "v1", "clip"),  # a judge's vote, not a person's
    ("alpha", "beta", PROMPTS[3], "model_b", "v2", "human"),  # undone below
]


@pytest.fixture
def voted(arena):
    """The seeded study with PAIR_VOTES (the last one undone), a four-image study with two order4
    rounds, and scores by `rank` and `flat` for every image."""
    from imagearena.media import MediaStore
    from imagearena.storage.matches import MatchVote, insert_match_votes, insert_undo

    with arena.session() as s:
        seed_study(s, MediaStore(arena.settings.media_dir), FOUR, FOUR_MODELS, PROMPTS[:2])
        items = [
            MatchVote(claims(s, STUDY, (a, b), p, bytes([k]) * 12), winner=w, voter=v, judge=j)
            for k, (a, b, p, w, v, j) in enumerate(PAIR_VOTES)
        ]
        # order4: m2 best, m1 and m4 tied, m3 last -> 6 pairs, 5 decisive; rank scorer right on 3 of 5
        items.append(
            MatchVote(claims(s, FOUR, FOUR_MODELS, PROMPTS[0], b"r" * 12), "", "v1", ranks=(2, 1, 4, 2))
        )
        # order4 by another voter on other images: the scorer's order exactly, 6 decisive, 6 right
        items.append(
            MatchVote(claims(s, FOUR, FOUR_MODELS, PROMPTS[1], b"s" * 12), "", "v2", ranks=(1, 2, 3, 4))
        )
        insert_match_votes(s, items)
        insert_undo(s, (bytes([len(PAIR_VOTES) - 1]) * 12).hex())
        for study in (STUDY, FOUR):
            store_scores(s, study, "rank", RANK.__getitem__)
            store_scores(s, study, "flat", lambda model: 0.5)
        s.commit()
    return arena


def rank_scorer_right(models: tuple[str, ...], ranks: tuple[int, ...]) -> tuple[int, int]:
    """Rank-broken pairs of an order4 round: decisive ones and those the `rank` scorer gets right."""
    right = total = 0
    for i, j in itertools.combinations(range(4), 2):
        if ranks[i] != ranks[j]:
            total += 1
            right += (ranks[i] < ranks[j]) == (RANK[models[i]] > RANK[models[j]])
    return right, total


def test_pair_votes_against_stored_scores(voted):
    report = stored_agreement(voted, STUDY, ["rank", "flat"], rounds=200)
    rank, flat = (s.result for s in report.scorers)
    assert report.pairs == 5  # the tie, both_bad, the judge's vote and the undone vote are left out
    assert (rank.decisive.correct, rank.decisive.n, rank.unscored) == (3, 5, 0)
    assert rank.decisive.lower <= 0.6 <= rank.decisive.upper
    assert (flat.decisive.correct, flat.decisive.n) == (0, 5)  # every pair a scorer tie: wrong
    by_pair = {g.group: (g.accuracy.correct, g.accuracy.n) for g in rank.breakdowns["model_pair"]}
    assert by_pair == {"alpha vs beta": (2, 3), "alpha vs gamma": (1, 1), "beta vs gamma": (0, 1)}
    # images (alpha, beta) of prompt 0 were judged by v1, v2, v3: two for alpha, one for beta
    assert (report.human.agreement.correct, report.human.agreement.n) == (2, 6)
    assert (report.human.votes, report.human.image_pairs) == (3, 1)
    assert report.as_dict()["scorers"][0]["accuracy"] == pytest.approx(0.6)


def test_four_image_rounds_count_through_their_rank_broken_pairs(voted):
    report = stored_agreement(voted, FOUR, ["rank"], rounds=100)
    result = report.scorers[0].result
    first = rank_scorer_right(FOUR_MODELS, (2, 1, 4, 2))
    second = rank_scorer_right(FOUR_MODELS, (1, 2, 3, 4))
    assert first == (3, 5) and second == (6, 6)
    assert (result.decisive.correct, result.decisive.n) == (9, 11) and report.pairs == 11
    groups = {g.group: g.accuracy.n for g in result.breakdowns["model_pair"]}
    assert groups["m1 vs m2"] == 2 and groups["m1 vs m4"] == 1  # m1 and m4 tied in the first round
    assert report.human.image_pairs == 0  # the two rounds showed different images


@sqlite_only
def test_tie_margin_and_categories_from_the_cli_use_case(voted, seeded):
    report = study_agreement(
        seeded,
        STUDY,
        ["flat", "rank"],
        margins={"flat": 0.01},
        categories={PROMPTS[0]: "shapes", PROMPTS[1]: "shapes", PROMPTS[2]: "other"},
        rounds=100,
    )
    flat, rank = (s.result for s in report.scorers)
    assert flat.ties is not None and (flat.ties.correct, flat.ties.n) == (1, 1)  # the tie vote
    assert rank.ties is None and rank.margin == 0.0
    cats = {g.group: (g.accuracy.correct, g.accuracy.n) for g in rank.breakdowns["category"]}
    assert cats == {"shapes": (3, 5)}  # the other category has no decisive vote
    assert report.notes == []
    fewer = study_agreement(seeded, STUDY, ["rank"], categories={PROMPTS[0]: "shapes"}, rounds=0)
    assert fewer.notes == ["2 decisive pairs have a prompt the categories file does not list"]


@sqlite_only
def test_mistakes_are_user_errors(voted, seeded):
    with pytest.raises(InputError, match="imagearena score --study t2i --scorer clip"):
        study_agreement(seeded, STUDY, ["clip"])
    with pytest.raises(InputError, match="tie margin for nope"):
        study_agreement(seeded, STUDY, ["rank"], margins={"nope": 0.1})
    with pytest.raises(UnknownNameError):
        stored_agreement(voted, "no-such-study")


@sqlite_only
def test_score_missing_scores_with_a_registered_scorer(voted, seeded, monkeypatch):
    """A scorer from the registry scores the images without a score, then agreement reads them: the
    red channel of the seeded images grows alpha < beta < gamma, the reverse of the `rank` scorer."""
    import numpy as np

    from imagearena.scorers import scorers

    class Redness:
        name = "redness"

        def score(self, prompts, images):
            return [float(np.asarray(im.convert("RGB"))[..., 0].mean()) for im in images]

    monkeypatch.setitem(scorers._factories, "redness", lambda **kwargs: Redness())
    report = study_agreement(seeded, STUDY, ["redness"], score_missing=True, rounds=50)
    assert (report.scorers[0].result.decisive.correct, report.scorers[0].result.decisive.n) == (2, 5)


@sqlite_only
def test_the_api_and_the_leaderboard_show_stored_agreement(voted, make_client):
    client = make_client(voted)
    answer = client.get(f"/api/v1/studies/{STUDY}/agreement", params={"scorer": "rank,flat"})
    assert answer.status_code == 200
    body = answer.json()
    assert [s["scorer"] for s in body["scorers"]] == ["rank", "flat"]
    assert (body["scorers"][0]["correct"], body["scorers"][0]["n"]) == (3, 5)
    assert body["human"]["image_pairs"] == 1
    every = client.get(f"/api/v1/studies/{STUDY}/agreement").json()
    assert sorted(s["scorer"] for s in every["scorers"]) == ["flat", "rank"]
    assert client.get("/api/v1/studies/nope/agreement").status_code == 404
    page = client.get(f"/leaderboard/{STUDY}").text
    assert 'id="agreement"' in page and 'data-scorer="rank"' in page and "60.0%" in page


@sqlite_only
def test_no_stored_scores_no_table(client):
    assert 'id="agreement"' not in client.get(f"/leaderboard/{STUDY}").text
    body = client.get(f"/api/v1/studies/{STUDY}/agreement").json()
    assert body["scorers"] == [] and body["pairs"] == 0 and MODELS


@sqlite_only
def test_the_web_report_is_kept_until_votes_or_scores_change(voted):
    first = stored_agreement(voted, STUDY, ["rank"])
    assert stored_agreement(voted, STUDY, ["rank"]) is first
    with voted.session() as s:  # the rank scorer rerun: beta now scores highest
        store_scores(s, STUDY, "rank", {"alpha": 3.0, "beta": 4.0, "gamma": 1.0}.__getitem__)
        s.commit()
    rescored = stored_agreement(voted, STUDY, ["rank"])
    assert rescored is not first and rescored.scorers[0].result.decisive.correct == 2
    with voted.session() as s:
        from imagearena.storage.matches import MatchVote, insert_match_votes

        insert_match_votes(
            s, [MatchVote(claims(s, STUDY, ("beta", "gamma"), PROMPTS[3], b"z" * 12), "model_a", "v4")]
        )
        s.commit()
    # a page may take a report up to max_age_s old without asking; the API asks every time
    assert stored_agreement(voted, STUDY, ["rank"], max_age_s=60) is rescored
    voted_again = stored_agreement(voted, STUDY, ["rank"])
    assert voted_again.pairs == 6 and voted_again.scorers[0].result.decisive.correct == 3
