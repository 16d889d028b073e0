"""TrueSkill for 1-v-1 battles with draws, plus N-way rounds through openskill's Plackett-Luce.

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
from typing import Any

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import Battles

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


def replay_trueskill(battles: Battles, env: TrueSkillEnv | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) per model after replaying ``battles`` in tstamp order (file order without tstamps).

    Each battle equals ``trueskill.rate_1vs1(winner, loser, drawn=...)`` in a ``trueskill.TrueSkill``
    environment with the same parameters; draws pass model_a first. Where the package would raise
    FloatingPointError (a winner hundreds of sigmas below the loser) the variance factor is clamped.
    """
    env = env or TrueSkillEnv()
    n = battles.n_models
    mu = [float(env.mu)] * n
    var = [float(env.sigma) ** 2] * n
    tau2 = float(env.tau) ** 2
    beta2x2 = 2.0 * float(env.beta) ** 2
    margin = env.draw_margin()
    sqrt, exp, tail = math.sqrt, math.exp, _tail
    one_minus = 1.0 - 1e-15
    for ca, cb, co in battles.replay_chunks(CHUNK):  # chunks keep the Python lists small
        for i, j, o in zip(ca.tolist(), cb.tolist(), co.tolist(), strict=True):
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
    return np.asarray(mu), np.sqrt(np.asarray(var))


def rate_rounds(
    rounds: Iterable[Sequence[str]],
    ranks: Iterable[Sequence[int]] | None = None,
    env: TrueSkillEnv | None = None,
) -> dict[str, tuple[float, float]]:
    """N-way rounds (best-of-4 style: one prompt, several models, one ordering) rated with openskill's
    Plackett-Luce model, in the given order.

    ``rounds`` lists the models of each round, best first; ``ranks`` (optional, 1 = best, equal ranks
    are ties) overrides that order. Returns {model: (mu, sigma)} on the same scale as the environment.
    """
    from openskill.models import PlackettLuce

    env = env or TrueSkillEnv()
    model = PlackettLuce(mu=env.mu, sigma=env.sigma, beta=env.beta, tau=env.tau)
    ratings: dict[str, Any] = {}
    rounds = [list(r) for r in rounds]
    rank_lists = [list(r) for r in ranks] if ranks is not None else None
    if rank_lists is not None and len(rank_lists) != len(rounds):
        raise InputError(f"{len(rounds)} rounds but {len(rank_lists)} rank lists; give one per round")
    for n, names in enumerate(rounds, start=1):
        given = rank_lists[n - 1] if rank_lists is not None else range(1, len(names) + 1)
        rank = [float(x) for x in given]
        if len(names) < 2 or len(set(names)) != len(names) or len(rank) != len(names):
            raise InputError(f"round {n}: needs two or more different models and one rank per model")
        teams = [[ratings.get(m) or model.rating(name=m)] for m in names]
        for m, (r,) in zip(names, model.rate(teams, ranks=rank), strict=True):
            ratings[m] = r
    return {m: (float(r.mu), float(r.sigma)) for m, r in ratings.items()}
