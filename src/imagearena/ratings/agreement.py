"""How often an automatic judge agrees with people: pairwise accuracy with bootstrap intervals.

A judgement is one pair of images, the human outcome for them (model_a = the first image is better,
model_b, tie, both_bad) and the scorer's two scores. On a decisive pair the scorer is right when it
scores the human-preferred image higher by more than its tie margin; a scorer tie counts as wrong. On a
human tie, a scorer with a tie margin is right when its two scores lie within the margin.

Intervals are percentile bootstraps that resample clusters (a pair vote, or a four-image round whose
rank-broken pairs move together). A cluster's contribution is two integers (right, counted), so a
resample is fully described by how many clusters of each distinct (right, counted) type it draws: a
multinomial over the few types. That is the exact bootstrap distribution at O(rounds x types) cost,
whatever the number of votes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import BOTH_BAD, MODEL_A, MODEL_B, TIE

#: Bootstrap rounds and interval level used unless a caller asks otherwise.
BOOTSTRAP_ROUNDS = 1000
LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Accuracy:
    """``correct`` of ``n`` right (accuracy None when n is 0) with a bootstrap interval."""

    correct: int
    n: int
    accuracy: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True, slots=True)
class GroupAccuracy:
    """The accuracy within one group of a breakdown (a model pair, a prompt category)."""

    group: str
    accuracy: Accuracy


@dataclass(frozen=True)
class Agreement:
    """One scorer against the human judgements.

    ``decisive``: accuracy on pairs with a winner. ``ties``: accuracy on human ties, for a scorer with a
    tie margin (None without one). ``unscored``: pairs left out because an image had no score.
    ``breakdowns``: per breakdown name, the accuracy within each group on decisive pairs.
    """

    decisive: Accuracy
    ties: Accuracy | None
    unscored: int
    margin: float
    breakdowns: dict[str, list[GroupAccuracy]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HumanCeiling:
    """How often two different voters agree on the same two images (decisive votes only): the
    agreement a judge could hope for. ``votes`` counts the votes used, ``image_pairs`` the pairs of
    images two or more voters judged."""

    agreement: Accuracy
    votes: int
    image_pairs: int


def _types(right: np.ndarray, counted: np.ndarray) -> tuple[np.ndarray, int]:
    """A small integer per cluster naming its (right, counted) type, and the number of codes: the
    code is counted * (max right + 1) + right when that range is small, else a rank from np.unique."""
    if not len(right):
        return np.zeros(0, dtype=np.int64), 0
    width = int(right.max()) + 1
    size = width * (int(counted.max()) + 1)
    if size <= 4 * len(right) + 4096:
        return counted * width + right, size
    _, inverse = np.unique(counted * width + right, return_inverse=True)  # large counts: rare
    return inverse.reshape(-1), int(inverse.max()) + 1


def _resample(
    right: np.ndarray,
    counted: np.ndarray,
    freq: np.ndarray,
    rounds: int,
    level: float,
    rng: np.random.Generator,
) -> Accuracy:
    """The accuracy of clusters whose distinct (right, counted) types occur ``freq`` times each."""
    units = int(freq.sum())
    total, correct = int(freq @ counted), int(freq @ right)
    if total == 0:
        return Accuracy(0, 0, None, None, None)
    acc = correct / total
    if rounds <= 0:
        return Accuracy(correct, total, acc, None, None)
    draws = rng.multinomial(units, freq / units, size=rounds)
    stats = (draws @ right) / (draws @ counted)
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(stats, [tail, 1.0 - tail])
    return Accuracy(correct, total, acc, float(lower), float(upper))


def _clusters(right: np.ndarray, counted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    right = np.asarray(right).astype(np.int64, copy=False)
    counted = np.asarray(counted).astype(np.int64, copy=False)
    keep = counted > 0
    return right[keep], counted[keep]


def ratio_bootstrap(
    right: np.ndarray,
    counted: np.ndarray,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    level: float = LEVEL,
    rng: np.random.Generator | None = None,
) -> Accuracy:
    """sum(right) / sum(counted) with a percentile interval from resampling the clusters (one entry
    per cluster; clusters that count nothing are ignored)."""
    right, counted = _clusters(right, counted)
    codes, size = _types(right, counted)
    freq = np.bincount(codes, minlength=size)
    nz = np.flatnonzero(freq)
    first = np.zeros(size, dtype=np.int64)
    first[codes] = np.arange(len(codes))
    rng = rng if rng is not None else np.random.default_rng(0)
    return _resample(right[first[nz]], counted[first[nz]], freq[nz], rounds, level, rng)


def grouped_bootstrap(
    right: np.ndarray,
    counted: np.ndarray,
    codes: np.ndarray,
    labels: Sequence[str],
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    level: float = LEVEL,
    rng: np.random.Generator | None = None,
) -> list[GroupAccuracy]:
    """:func:`ratio_bootstrap` within each group (``codes`` index ``labels``; -1 = no group), groups
    with something counted only, largest first."""
    rng = rng if rng is not None else np.random.default_rng(0)
    groups = np.asarray(codes, dtype=np.int64)
    keep = (groups >= 0) & (np.asarray(counted) > 0)
    right, counted = _clusters(np.asarray(right)[keep], np.asarray(counted)[keep])
    groups = groups[keep]
    types, size = _types(right, counted)
    if not len(types):
        return []
    combined = groups * size + types
    if (int(groups.max()) + 1) * size <= 4 * len(combined) + 65536:
        freq = np.bincount(combined)
        uniq = np.flatnonzero(freq)
        freq = freq[uniq]
        first = np.zeros(int(combined.max()) + 1, dtype=np.int64)
        first[combined] = np.arange(len(combined))
        first = first[uniq]
    else:
        uniq, first, freq = np.unique(combined, return_index=True, return_counts=True)
    owner = uniq // size
    bounds = np.flatnonzero(np.diff(owner)) + 1
    out = []
    for lo, hi in zip([0, *bounds], [*bounds, len(uniq)], strict=True):
        rows = first[lo:hi]
        acc = _resample(right[rows], counted[rows], freq[lo:hi], rounds, level, rng)
        out.append(GroupAccuracy(labels[int(owner[lo])], acc))
    out.sort(key=lambda g: (-g.accuracy.n, g.group))
    return out


def scorer_prefers(score_a: np.ndarray, score_b: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """+1 where the scorer prefers the first image (higher by more than ``margin``), -1 the second,
    0 a scorer tie."""
    diff = np.asarray(score_a, dtype=np.float64) - np.asarray(score_b, dtype=np.float64)
    return (diff > margin).view(np.int8) - (diff < -margin).view(np.int8)


def _cluster_index(cluster: np.ndarray | None, n: int) -> np.ndarray | None:
    """0-based cluster numbers per pair, or None when every pair is its own cluster."""
    if cluster is None:
        return None
    c = np.asarray(cluster, dtype=np.int64)
    if n and (c[1:] >= c[:-1]).all():  # in order (rounds' pairs are contiguous): no sort needed
        index = np.concatenate([[0], np.cumsum(c[1:] != c[:-1])])
    else:
        index = np.unique(c, return_inverse=True)[1].reshape(-1)
    return None if not n or int(index.max()) == n - 1 else index


def agreement(
    score_a: np.ndarray,
    score_b: np.ndarray,
    outcome: np.ndarray,
    *,
    cluster: np.ndarray | None = None,
    breakdowns: Mapping[str, tuple[np.ndarray, Sequence[str]]] | None = None,
    margin: float = 0.0,
    rounds: int = BOOTSTRAP_ROUNDS,
    level: float = LEVEL,
    seed: int = 0,
) -> Agreement:
    """Agreement of one scorer with human outcomes over aligned pairs.

    ``outcome`` holds outcome codes (battles.MODEL_A, ...) for the first image as model_a; a NaN score
    leaves its pair out (counted in ``unscored``). ``cluster`` ids group pairs that are resampled
    together (default: each pair alone). ``breakdowns`` maps a name to (group code per pair, labels).
    """
    a = np.asarray(score_a, dtype=np.float64)
    b = np.asarray(score_b, dtype=np.float64)
    out = np.asarray(outcome, dtype=np.int8)
    if not (len(a) == len(b) == len(out)) or (cluster is not None and len(cluster) != len(out)):
        raise InputError("scores, outcomes and clusters must have one entry per pair")
    if margin < 0 or not np.isfinite(margin):
        raise InputError(f"a tie margin is a finite number of 0 or more; got {margin}")
    if len(out) and (out.min() < MODEL_A or out.max() > BOTH_BAD):
        raise InputError("outcome codes are 0 (model_a), 1 (model_b), 2 (tie) and 3 (both_bad)")
    diff = a - b
    scored = ~np.isnan(diff)
    decisive = out <= MODEL_B
    tie = out == TIE
    unscored = int((~scored & ((decisive | tie) if margin > 0 else decisive)).sum())
    on_decisive = scored & decisive
    # diff > margin: the scorer prefers the first image; NaN compares False
    right_decisive = on_decisive & np.where(out == MODEL_A, diff > margin, diff < -margin)
    index = _cluster_index(cluster, len(out))
    rng = np.random.default_rng(seed)

    def per_cluster(right: np.ndarray, counted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if index is None:
            return right, counted
        return np.bincount(index, weights=right), np.bincount(index, weights=counted)

    result = ratio_bootstrap(*per_cluster(right_decisive, on_decisive), rounds=rounds, level=level, rng=rng)
    ties = None
    if margin > 0:
        on_tie = scored & tie
        right_tie = on_tie & (np.abs(diff) <= margin)
        ties = ratio_bootstrap(*per_cluster(right_tie, on_tie), rounds=rounds, level=level, rng=rng)
    parts: dict[str, list[GroupAccuracy]] = {}
    for name, (codes, labels) in (breakdowns or {}).items():
        group = np.asarray(codes, dtype=np.int64)
        if len(group) != len(out):
            raise InputError(f"breakdown {name!r} needs one group code per pair")
        right: np.ndarray
        counted: np.ndarray
        if index is None:
            right, counted, unit_group = right_decisive, on_decisive, group
        else:
            # one unit per (cluster, group): a round's pairs of different model pairs fall apart
            sel = np.flatnonzero(on_decisive)
            key = index[sel] * (len(labels) + 1) + (group[sel] + 1)
            _, first, inv = np.unique(key, return_index=True, return_inverse=True)
            right = np.bincount(inv.reshape(-1), weights=right_decisive[sel])
            counted = np.bincount(inv.reshape(-1), weights=on_decisive[sel])
            unit_group = group[sel][first]
        parts[name] = grouped_bootstrap(
            right, counted, unit_group, labels, rounds=rounds, level=level, rng=rng
        )
    return Agreement(result, ties, unscored, float(margin), parts)


def human_ceiling(
    image_x: np.ndarray,
    image_y: np.ndarray,
    outcome: np.ndarray,
    voter: np.ndarray,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    level: float = LEVEL,
    seed: int = 0,
) -> HumanCeiling:
    """Agreement between different voters who judged the same two images.

    Pairs are (first image id, second image id, outcome code, voter code); only decisive outcomes
    count, a voter's first vote on a pair of images is theirs (later ones are left out), and a voter
    code below 0 (unknown voter) is left out. For each pair of images seen by n voters, a choosing the
    one image and n - a the other, it counts the ordered pairs of different voters that agree:
    a(a-1) + (n-a)(n-a-1) of n(n-1). The pooled share is the chance that two different voters
    agree, with a bootstrap over pairs of images.
    """
    x = np.asarray(image_x, dtype=np.int64)
    y = np.asarray(image_y, dtype=np.int64)
    out = np.asarray(outcome, dtype=np.int8)
    who = np.asarray(voter, dtype=np.int64)
    keep = ((out == MODEL_A) | (out == MODEL_B)) & (who >= 0) & (x != y)
    x, y, out, who = x[keep], y[keep], out[keep], who[keep]
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    # True when the voter chose the image with the lower id
    chose_lo = (out == MODEL_A) == (x == lo)
    if not len(lo):
        return HumanCeiling(Accuracy(0, 0, None, None, None), 0, 0)
    pair = lo * (int(hi.max()) + 1) + hi
    voters = int(who.max()) + 1
    if int(pair.max()) >= 2**62 // voters:  # ids too large to combine: number the pairs first
        pair = np.unique(pair, return_inverse=True)[1].reshape(-1)
    # one stable sort by (pair, voter): a voter's first vote on a pair of images comes first
    order = np.argsort(pair * voters + who, kind="stable")
    key = (pair * voters + who)[order]
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    first = order[new]  # one vote per (pair, voter), grouped by pair
    starts = np.flatnonzero(np.r_[True, pair[first][1:] != pair[first][:-1]])
    n = np.diff(np.r_[starts, len(first)])
    a = np.add.reduceat(chose_lo[first].astype(np.int64), starts)
    shared = n >= 2
    n, a = n[shared], a[shared]
    right = a * (a - 1) + (n - a) * (n - a - 1)
    counted = n * (n - 1)
    acc = ratio_bootstrap(right, counted, rounds=rounds, level=level, rng=np.random.default_rng(seed))
    return HumanCeiling(acc, int(n.sum()), int(shared.sum()))


def pooled_pairs(
    ranks: Sequence[Sequence[float]], scores: Sequence[Sequence[float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ImageReward Table 3 pairs: for each prompt (a list of human ranks, lower is better, and the
    same images' scores), every pair i < j of its images with different ranks. Returns (score of the
    first image, score of the second, outcome code for the first as model_a, prompt index)."""
    if len(ranks) != len(scores):
        raise InputError("give one list of scores per prompt of the rankings")
    sa: list[np.ndarray] = []
    sb: list[np.ndarray] = []
    oc: list[np.ndarray] = []
    pid: list[np.ndarray] = []
    for k, (r, s) in enumerate(zip(ranks, scores, strict=True)):
        rr = np.asarray(r, dtype=np.float64)
        ss = np.asarray(s, dtype=np.float64)
        if len(rr) != len(ss):
            raise InputError(f"prompt {k + 1}: {len(rr)} ranks but {len(ss)} scores")
        i, j = np.triu_indices(len(rr), k=1)
        differ = rr[i] != rr[j]
        i, j = i[differ], j[differ]
        sa.append(ss[i])
        sb.append(ss[j])
        oc.append(np.where(rr[i] < rr[j], MODEL_A, MODEL_B).astype(np.int8))
        pid.append(np.full(len(i), k, dtype=np.int64))
    if not sa:
        empty = np.zeros(0)
        return empty, empty, empty.astype(np.int8), empty.astype(np.int64)
    return np.concatenate(sa), np.concatenate(sb), np.concatenate(oc), np.concatenate(pid)


__all__ = [
    "Accuracy",
    "Agreement",
    "GroupAccuracy",
    "HumanCeiling",
    "agreement",
    "grouped_bootstrap",
    "human_ceiling",
    "pooled_pairs",
    "ratio_bootstrap",
    "scorer_prefers",
]
