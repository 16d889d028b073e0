"""Rankings CSV and decision logs: ours (rank-broken rounds put back together) and Image Ranker's."""

from __future__ import annotations

import json

import pytest

from imagearena.errors import InputError
from imagearena.folders.formats import (
    IMAGE_RANKER_LOG,
    IMAGEARENA_LOG,
    RANKING_FIELDS,
    Decision,
    RankingLine,
    match_names,
    parse_decision_log,
    rankings_csv,
    read_rankings_csv,
)
from imagearena.types import Outcome, RoundType


def test_rankings_csv_round_trips_and_is_spreadsheet_safe(tmp_path):
    lines = [
        RankingLine("=cmd.png", 1, 30.5, 2.25, 23.75, 1100.0, 1050.0, 1150.0, 5, 1, 0, 6),
        RankingLine("b/c.png", 2, 20.0, 8.333333, -5.0, None, None, None, 0, 0, 0, 0),
    ]
    text = "".join(rankings_csv(lines))
    assert text.splitlines()[0] == ",".join(RANKING_FIELDS)
    assert "'=cmd.png" in text  # never run as a formula
    path = tmp_path / "r.csv"
    path.write_text(text)
    back = read_rankings_csv(path)
    assert back[0] == lines[0]
    assert back[1].image == "b/c.png" and back[1].bt_rating is None


def _rank_broken(round_type, ranks):
    """The contract's rank-breaking, spelled out: pairs (i, j), i < j; a best4 pick meets each other
    image only."""
    pick = [k for k, r in enumerate(ranks) if r == 1]
    for i in range(4):
        for j in range(i + 1, 4):
            if round_type is RoundType.BEST4 and len(pick) == 1 and pick[0] not in (i, j):
                continue
            yield i, j, "model_a" if ranks[i] < ranks[j] else "model_b" if ranks[i] > ranks[j] else "tie"


def _battle_rows(rounds):
    """Battle-log rows as the arena exports them: pairs, and four-image rounds rank-broken."""
    rows = []
    for round_id, (round_type, images, result) in enumerate(rounds, start=1):
        if round_type is RoundType.PAIR:
            rows.append(
                {
                    "model_a": images[0],
                    "model_b": images[1],
                    "winner": result,
                    "tstamp": round_id,
                    "judge": "human",
                    "round_id": None,
                    "round_type": "pair",
                }
            )
            continue
        for i, j, winner in _rank_broken(round_type, result):
            rows.append(
                {
                    "model_a": images[i],
                    "model_b": images[j],
                    "winner": winner,
                    "tstamp": round_id,
                    "judge": "human",
                    "round_id": round_id,
                    "round_type": round_type.value,
                }
            )
    return rows


ROUNDS = [
    (RoundType.PAIR, ("a", "b"), "model_b"),
    (RoundType.BEST4, ("a", "b", "c", "d"), (2, 2, 1, 2)),
    (RoundType.BEST4, ("d", "c", "b", "a"), (1, 1, 1, 1)),
    (RoundType.ORDER4, ("c", "a", "d", "b"), (1, 2, 2, 4)),
    (RoundType.PAIR, ("c", "d"), "tie"),
    (RoundType.ORDER4, ("b", "d", "a", "c"), (4, 3, 2, 1)),
]


def _expected():
    out = []
    for round_type, images, result in ROUNDS:
        if round_type is RoundType.PAIR:
            out.append((images, round_type, Outcome(result), None))
        else:
            out.append((images, round_type, None, result))
    return out


def _key(decisions):
    # rounds come back with their ranks; their images in first-appearance order of the battles
    out = []
    for d in decisions:
        if d.ranks is None:
            out.append((d.images, d.round_type, d.winner, None))
        else:
            out.append((d.round_type, dict(zip(d.images, d.ranks, strict=True))))
    return out


def _expected_key():
    out = []
    for images, round_type, winner, ranks in _expected():
        out.append(
            (images, round_type, winner, None)
            if ranks is None
            else (round_type, dict(zip(images, ranks, strict=True)))
        )
    return out


def test_our_jsonl_log_gives_back_each_decision_in_order():
    text = "".join(json.dumps(r) + "\n" for r in _battle_rows(ROUNDS))
    kind, decisions = parse_decision_log(text)
    assert kind == IMAGEARENA_LOG
    assert _key(decisions) == _expected_key()
    assert [d.tstamp for d in decisions] == [1, 2, 3, 4, 5, 6]


def test_our_csv_log_gives_back_each_decision_in_order():
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=["model_a", "model_b", "winner", "tstamp", "judge", "round_id", "round_type"]
    )
    writer.writeheader()
    for row in _battle_rows(ROUNDS):
        writer.writerow(row)
    kind, decisions = parse_decision_log(buf.getvalue())
    assert kind == IMAGEARENA_LOG
    assert _key(decisions) == _expected_key()


def test_a_round_with_missing_battles_is_refused_with_its_line():
    rows = _battle_rows([ROUNDS[3]])[:-1]
    with pytest.raises(InputError, match=r"log>:1: round 1 has 5 battles"):
        parse_decision_log("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"model_a": "a", "model_b": "a", "winner": "tie"}, "two different images"),
        ({"model_a": "a", "model_b": "b", "winner": "left"}, "winner must be one of"),
        ({"model_a": "a", "model_b": "b", "winner": "tie", "round_type": "order4"}, "needs the round_id"),
        ({"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": "noon"}, "tstamp"),
    ],
)
def test_bad_rows_name_their_line(line, message):
    text = json.dumps({"model_a": "x", "model_b": "y", "winner": "tie"}) + "\n" + json.dumps(line) + "\n"
    with pytest.raises(InputError, match=f":2: .*{message}"):
        parse_decision_log(text)


def test_image_ranker_winner_loser_csv():
    text = "Winner, Loser\r\nimages/cat.png, images/dog.png\r\ndog.png,cat.png\r\n"
    kind, decisions = parse_decision_log(text)
    assert kind == IMAGE_RANKER_LOG
    assert decisions == [
        Decision(("images/cat.png", "images/dog.png"), RoundType.PAIR, winner=Outcome.MODEL_A),
        Decision(("dog.png", "cat.png"), RoundType.PAIR, winner=Outcome.MODEL_A),
    ]
    with pytest.raises(InputError, match=":2: an image cannot beat itself"):
        parse_decision_log("Winner,Loser\na.png,a.png\n")


def test_other_csvs_are_refused_by_what_they_lack():
    with pytest.raises(InputError, match="not a decision log"):
        parse_decision_log("Image,ELO(mu),Uncertainty(sigma),Upvotes,Downvotes\na.png,25,8,0,0\n")


def test_names_match_exactly_or_by_a_unique_file_name():
    known = ["set1/cat.png", "set2/cat.png", "set1/dog.png", "fox.png"]
    mapping, unmatched = match_names(
        ["fox.png", "dog.png", "C:\\pics\\set1\\dog.png", "cat.png", "set2/cat.png", "owl.png"], known
    )
    assert mapping == {
        "fox.png": "fox.png",
        "dog.png": "set1/dog.png",
        "C:\\pics\\set1\\dog.png": "set1/dog.png",
        "set2/cat.png": "set2/cat.png",
    }
    assert unmatched == ["cat.png", "owl.png"]  # cat.png is in two subfolders: ambiguous
