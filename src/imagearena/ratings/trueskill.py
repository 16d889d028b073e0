"""TrueSkill for 1-v-1 battles with draws, and multi-way updates for four-image rounds.

Why hand-written: the ``trueskill`` package builds a factor graph of Python objects for every battle,
which makes replaying a large vote log slow. For two single-player teams that graph has no loop and its
message passing reduces to the closed-form update below, which this module runs as one scalar loop over
Python floats. benchmarks/bench_ratings.py measures both replays side by side (benchmarks/README.md,
"bench_ratings.py", TrueSkill replay).

To give the package's numbers (to 1e-6 on any sequence, tested) it reproduces the package's default
numerics: the same rational Chebyshev approximation of erfc for the normal cdf (Numerical Recipes'
``erfcc``, relative error below 1.2e-7) and the same inverse for the draw margin. An
exact erfc would drift from the package by up to about 1e-6 per update.

Ties and both_bad are draws; model_a is the first player.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import NO_GROUP, Battles

_SQRT2 = math.sqrt(2.0)
#: Battles converted to Python lists at a time: bounds memory whatever the battle count.
CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class TrueSkillEnv:
    """The environment; defaults are the ``trueskill`` package's."""

    mu: float = 25.0
    sigma: float = 25.0 / 3.0
    beta: float = 25.0 / 6.0
    tau: float = 25.0 / 300.0
    draw_probability: float = 0.10

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and self.beta > 0 and self.tau >= 0):
            raise InputError("TrueSkill needs sigma > 0, beta > 0 and tau >= 0")
        if not 0.0 <= self.draw_probability < 1.0:
            raise InputError("TrueSkill draw probability must be in [0, 1)")

    def draw_margin(self) -> float:
        """Performance gap counted as a draw between two single players."""
        return _ppf((self.draw_probability + 1.0) / 2.0) * _SQRT2 * self.beta


def _tail(z: float) -> float:
    """erfc(z) for z >= 0 by the Chebyshev approximation the trueskill package uses by default."""
    t = 1.0 / (1.0 + 0.5 * z)
    return t * math.exp(
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )


def _erfc(x: float) -> float:
    return 2.0 - _tail(-x) if x < 0 else _tail(x)


def _ppf(p: float) -> float:
    """Inverse of the normal cdf (0.5 * erfc(-x / sqrt 2)) as the package computes it: Numerical Recipes' inverfc (a rational
    first guess and two Halley steps on the approximate erfc), so the draw margins agree too."""
    if p <= 0.0 or p >= 1.0:
        raise InputError("draw probability must be in [0, 1)")
    y = 2.0 * p  # erfc(-x / sqrt(2)) = 2 p  ->  x = -sqrt(2) * inverfc(2 p)
    yy = y if y < 1.0 else 2.0 - y
    t = math.sqrt(-2.0 * math.log(yy / 2.0))
    x = -0.70711 * ((2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t)
    for _ in range(2):
        err = _erfc(x) - yy
        x += err / (1.12837916709551257 * math.exp(-(x * x)) - x * err)
    inv = x if y < 1.0 else -x
    return -_SQRT2 * inv


def _replay_pairs(
    mu: list[float], var: list[float], a: list[int], b: list[int], outcome: list[int], env: TrueSkillEnv
) -> None:
    """Replay 1-v-1 battles in order, updating ``mu`` and ``var`` in place (one scalar loop)."""
    tau2 = float(env.tau) ** 2
    beta2x2 = 2.0 * float(env.beta) ** 2
    margin = env.draw_margin()
    sqrt, exp, tail = math.sqrt, math.exp, _tail
    one_minus = 1.0 - 1e-15
    for i, j, o in zip(a, b, outcome, strict=True):
        if o == 1:  # model_b won (a literal: no global lookup in the hot loop)
            i, j = j, i  # i is now the winner (or model_a in a draw)
        vi = var[i] + tau2
        vj = var[j] + tau2
        c2 = beta2x2 + vi + vj
        c = sqrt(c2)
        if o <= 1:
            # win: v = pdf(x) / cdf(x), w = v (v + x); erfc inlined, this branch runs most
            x = (mu[i] - mu[j] - margin) / c
            e = exp(-0.5 * x * x)
            z = 0.7071067811865476 * (x if x > 0.0 else -x)
            t = 1.0 / (1.0 + 0.5 * z)
            r = (
                t
                * e
                * exp(
                    -1.26551223
                    + t
                    * (
                        1.00002368
                        + t
                        * (
                            0.37409196
                            + t
                            * (
                                0.09678418
                                + t
                                * (
                                    -0.18628806
                                    + t
                                    * (
                                        0.27886807
                                        + t
                                        * (
                                            -1.13520398
                                            + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))
                                        )
                                    )
                                )
                            )
                        )
                    )
                )
            )
            cdf = 1.0 - 0.5 * r if x > 0.0 else 0.5 * r
            v = 0.3989422804014327 * e / cdf if cdf else -x
            w = v * (v + x)
        else:
            # draw: truncation to |diff| < margin; v for |t| then signed, pdf(u) = exp(-u^2 / 2) / sqrt(2 pi)
            t = (mu[i] - mu[j]) / c
            e = margin / c
            abs_t = t if t > 0.0 else -t
            hi = e - abs_t
            lo = -e - abs_t  # <= 0
            e_hi = exp(-0.5 * hi * hi)
            e_lo = exp(-0.5 * lo * lo)
            r_hi = tail(0.7071067811865476 * (hi if hi > 0.0 else -hi))
            denom = (1.0 - 0.5 * r_hi if hi > 0.0 else 0.5 * r_hi) - 0.5 * tail(-0.7071067811865476 * lo)
            if denom:
                v = 0.3989422804014327 * (e_lo - e_hi) / denom
                w = v * v + 0.3989422804014327 * (hi * e_hi - lo * e_lo) / denom
            else:
                v, w = hi, 1.0
            if t < 0:
                v = -v
        if not 0.0 < w < 1.0:
            w = min(max(w, 1e-15), one_minus)
        mu[i] += vi / c * v
        mu[j] -= vj / c * v
        var[i] = vi * (1.0 - vi / c2 * w)
        var[j] = vj * (1.0 - vj / c2 * w)


def _vw_win(x: float) -> tuple[float, float]:
    """TrueSkill's v and w for a win whose standardised margin-adjusted difference is ``x``."""
    r = _tail(0.7071067811865476 * abs(x))
    cdf = 1.0 - 0.5 * r if x > 0.0 else 0.5 * r
    v = 0.3989422804014327 * math.exp(-0.5 * x * x) / cdf if cdf else -x
    return v, v * (v + x)


def _vw_draw(t: float, e: float) -> tuple[float, float]:
    """TrueSkill's v (signed) and w for a draw: the difference ``t`` truncated to (-e, e), standardised."""
    abs_t = abs(t)
    hi, lo = e - abs_t, -e - abs_t
    e_hi, e_lo = math.exp(-0.5 * hi * hi), math.exp(-0.5 * lo * lo)
    r_hi = _tail(0.7071067811865476 * abs(hi))
    denom = (1.0 - 0.5 * r_hi if hi > 0.0 else 0.5 * r_hi) - 0.5 * _tail(-0.7071067811865476 * lo)
    if denom:
        v = 0.3989422804014327 * (e_lo - e_hi) / denom
        w = v * v + 0.3989422804014327 * (hi * e_hi - lo * e_lo) / denom
    else:
        v, w = hi, 1.0
    return (-v if t < 0 else v), w


#: Sweeps over a round's comparisons at most, and the change in any performance mean that ends them.
EP_SWEEPS = 50
EP_TOL = 1e-7


def _rate_group(
    mu: list[float],
    var: list[float],
    players: Sequence[int],
    factors: Sequence[tuple[int, int, bool]],
    env: TrueSkillEnv,
) -> None:
    """One multi-way TrueSkill update of ``players`` (indices into ``mu``/``var``, updated in place).

    ``factors`` are comparisons between positions in ``players``: ``(x, y, False)`` says x performed
    better than y, ``(x, y, True)`` that they drew. This is TrueSkill's factor graph for single-player
    teams solved by expectation propagation: the joint Gaussian of the players' performances (skill plus
    beta noise) is refined by one Gaussian site per comparison, fitted by moment matching to the truncated
    Gaussian of that difference, sweep after sweep until no mean moves; the skills then follow from the
    performances in closed form. With one comparison it is exactly the 1-v-1 update; for a ranking fed as
    the chain of neighbouring ranks it reaches the fixed point the ``trueskill`` package's ``rate``
    iterates towards (its loop stops at 1e-4).
    """
    n = len(players)
    tau2, beta2 = float(env.tau) ** 2, float(env.beta) ** 2
    margin = env.draw_margin()
    v0 = [var[p] + tau2 for p in players]
    m0 = [mu[p] for p in players]
    m = list(m0)
    cov = [[(v0[i] + beta2) if i == j else 0.0 for j in range(n)] for i in range(n)]
    site_pi = [0.0] * len(factors)
    site_tau = [0.0] * len(factors)
    for _ in range(EP_SWEEPS if len(factors) > 1 else 1):
        moved = 0.0
        for k, (x, y, drawn) in enumerate(factors):
            w = [row[x] - row[y] for row in cov]  # cov @ u with u = e_x - e_y
            s = w[x] - w[y]
            mt = m[x] - m[y]
            cav_pi = 1.0 / s - site_pi[k]
            if cav_pi <= 0.0:
                continue
            cav_var = 1.0 / cav_pi
            cav_mean = (mt / s - site_tau[k]) * cav_var
            sd = math.sqrt(cav_var)
            if drawn:
                v, ww = _vw_draw(cav_mean / sd, margin / sd)
            else:
                v, ww = _vw_win((cav_mean - margin) / sd)
            ww = min(max(ww, 1e-15), 1.0 - 1e-15)
            new_var = cav_var * (1.0 - ww)
            new_pi = 1.0 / new_var - cav_pi
            new_tau = (cav_mean + sd * v) / new_var - (mt / s - site_tau[k])
            d_pi, d_tau = new_pi - site_pi[k], new_tau - site_tau[k]
            site_pi[k], site_tau[k] = new_pi, new_tau
            # rank-one update of the performance posterior: cov -= c w w^T, m += f w
            c = d_pi / (1.0 + d_pi * s)
            f = d_tau * (1.0 - c * s) - c * mt
            for i in range(n):
                m[i] += f * w[i]
                row, ci = cov[i], c * w[i]
                for j in range(n):
                    row[j] -= ci * w[j]
            moved = max(moved, abs(f) * max(abs(z) for z in w))
        if moved < EP_TOL:
            break
    for i, p in enumerate(players):
        r = v0[i] / (v0[i] + beta2)  # skill given performance: s = m0 + r (perf - m0)
        mu[p] = m0[i] + r * (m[i] - m0[i])
        var[p] = v0[i] - v0[i] * r + r * r * cov[i][i]


def _chain(ranks: Sequence[float]) -> list[tuple[int, int, bool]]:
    """A ranking as TrueSkill's chain of neighbours: positions sorted by rank (stable), each compared
    with the next, a draw where their ranks are equal."""
    order = sorted(range(len(ranks)), key=ranks.__getitem__)
    return [(x, y, ranks[x] == ranks[y]) for x, y in zip(order, order[1:], strict=False)]


def _group_factors(
    a: list[int], b: list[int], outcome: list[int]
) -> tuple[list[int], list[tuple[int, int, bool]]]:
    """The players of one round (in order of appearance) and the comparisons to rate it with, from its
    rank-broken battles.

    A complete, consistent set of pairs (an order of four, ties allowed, or best4's "no clear best") is a
    ranking and becomes TrueSkill's chain of neighbouring ranks: the other pairs follow from the chain and
    would count the same evidence twice. An incomplete set (best4's pick against each of the other three)
    is rated as it is: the pick outperformed each unpicked image, and nothing is said about how the three
    unpicked images compare (treating them as a three-way draw would pull them together and shrink their
    uncertainty on no evidence).
    """
    players: list[int] = []
    pos: dict[int, int] = {}
    for p in (*a, *b):
        if p not in pos:
            pos[p] = len(players)
            players.append(p)
    pairs = []
    for i, j, o in zip(a, b, outcome, strict=True):
        x, y = pos[i], pos[j]
        pairs.append((y, x, False) if o == 1 else (x, y, o >= 2))
    n = len(players)
    if len(pairs) == n * (n - 1) // 2:
        beaten = [0] * n
        for _, y, drawn in pairs:
            if not drawn:
                beaten[y] += 1
        ranks = [1 + k for k in beaten]
        if all((ranks[x] == ranks[y]) if drawn else (ranks[x] < ranks[y]) for x, y, drawn in pairs):
            return players, _chain(ranks)
    return players, pairs


def replay_trueskill(battles: Battles, env: TrueSkillEnv | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) per model after replaying ``battles`` in tstamp order (file order without tstamps).

    Each pair battle equals ``trueskill.rate_1vs1(winner, loser, drawn=...)`` in a ``trueskill.TrueSkill``
    environment with the same parameters; draws pass model_a first. Where the package would raise
    FloatingPointError (a winner hundreds of sigmas below the loser) the variance factor is clamped.

    Battles of one four-image round (a contiguous run sharing a ``group`` id) are one multi-way update
    (:func:`_rate_group`, see :func:`_group_factors` for how a round's battles become comparisons), not
    three or six independent games: the six pairs of an order share each image's one performance, so
    rating them apart would count one click as six games' worth of evidence. TrueSkill's own factor graph
    (rather than openskill's Plackett-Luce) keeps pairs and rounds in one model with one draw margin, and a
    round of two images is exactly the 1-v-1 update. Without groups the replay is the pair loop alone.
    """
    env = env or TrueSkillEnv()
    n = battles.n_models
    mu = [float(env.mu)] * n
    var = [float(env.sigma) ** 2] * n
    if not battles.has_groups:
        for ca, cb, co in battles.replay_chunks(CHUNK):  # chunks keep the Python lists small
            _replay_pairs(mu, var, ca.tolist(), cb.tolist(), co.tolist(), env)
        return np.asarray(mu), np.sqrt(np.asarray(var))
    order = battles.order()
    group = battles.groups()
    buf: tuple[list[int], list[int], list[int]] = ([], [], [])
    current = NO_GROUP
    for start in range(0, len(order), CHUNK):
        idx = order[start : start + CHUNK]
        a, b, o, g = (x[idx].tolist() for x in (battles.a, battles.b, battles.outcome, group))
        k, end = 0, len(idx)
        while k < end:
            if g[k] != current and buf[0]:  # a round ends: rate it
                _rate_group(mu, var, *_group_factors(*buf), env)
                buf = ([], [], [])
            current = g[k]
            if current == NO_GROUP:
                stop = k
                while stop < end and g[stop] == NO_GROUP:
                    stop += 1
                _replay_pairs(mu, var, a[k:stop], b[k:stop], o[k:stop], env)
                k = stop
            else:
                buf[0].append(a[k])
                buf[1].append(b[k])
                buf[2].append(o[k])
                k += 1
    if buf[0]:
        _rate_group(mu, var, *_group_factors(*buf), env)
    return np.asarray(mu), np.sqrt(np.asarray(var))


def rate_rounds(
    rounds: Iterable[Sequence[str]],
    ranks: Iterable[Sequence[int]] | None = None,
    env: TrueSkillEnv | None = None,
) -> dict[str, tuple[float, float]]:
    """N-way rounds (one prompt, several models, one ordering) rated with TrueSkill's multi-way update,
    in the given order, as ``replay_trueskill`` rates a four-image order.

    ``rounds`` lists the models of each round, best first; ``ranks`` (optional, 1 = best, equal ranks
    are ties) overrides that order. Returns {model: (mu, sigma)} for the models that played.
    """
    env = env or TrueSkillEnv()
    index: dict[str, int] = {}
    mu: list[float] = []
    var: list[float] = []
    rounds = [list(r) for r in rounds]
    rank_lists = [list(r) for r in ranks] if ranks is not None else None
    if rank_lists is not None and len(rank_lists) != len(rounds):
        raise InputError(f"{len(rounds)} rounds but {len(rank_lists)} rank lists; give one per round")
    for n, names in enumerate(rounds, start=1):
        given = rank_lists[n - 1] if rank_lists is not None else range(1, len(names) + 1)
        rank = [float(x) for x in given]
        if len(names) < 2 or len(set(names)) != len(names) or len(rank) != len(names):
            raise InputError(f"round {n}: needs two or more different models and one rank per model")
        for m in names:
            if m not in index:
                index[m] = len(mu)
                mu.append(float(env.mu))
                var.append(float(env.sigma) ** 2)
        _rate_group(mu, var, [index[m] for m in names], _chain(rank), env)
    return {m: (mu[k], math.sqrt(var[k])) for m, k in index.items()}
