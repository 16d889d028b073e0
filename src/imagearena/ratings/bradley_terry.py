"""Bradley-Terry maximum likelihood on the Elo scale, with sandwich or bootstrap 95% intervals.

P(i beats j) = 1 / (1 + 10 ** ((r_j - r_i) / 400)); ties and both_bad count as half a win for each side.

Why it is fast: identical (pair, outcome) rows carry the same information, so battles are first
aggregated into counts per unordered pair and outcome (at most 3 * m * (m - 1) / 2 cells whatever the
number of battles), and the likelihood, its gradient and its Hessian (a weighted graph Laplacian) are
computed on those cells. Newton's method then converges in a handful of m x m solves. The bootstrap
redraws the cell counts from one multinomial per round (the same distribution as resampling rows) and
warm-starts each fit from the full-data one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from imagearena.errors import InputError, UnknownNameError
from imagearena.ratings.battles import MODEL_A, MODEL_B, NO_GROUP, Battles
from imagearena.types import ELO_PER_LOGIT

#: Elo points per natural-log odds unit: 400 / ln 10.
ELO_PER_NAT = ELO_PER_LOGIT
CENTER = 1000.0
#: The standard normal's 97.5% quantile: a 95% interval is the estimate -/+ Z95 standard errors.
Z95 = 1.959963984540054
#: Default ridge penalty on the natural scale: keeps undefeated models finite, otherwise maximum likelihood.
RIDGE = 1e-6
#: Above this many models the m x m Hessian is not formed: L-BFGS fit, diagonal variance approximation.
DENSE_LIMIT = 2000
#: Battles aggregated at a time: bounds the temporaries whatever the battle count.
CHUNK = 1 << 18
#: Up to this many models the m x m solves run on one BLAS thread (see :func:`_one_blas_thread`).
SMALL_BLAS = 512
_blas_controller: Any = None


def _one_blas_thread(k: int) -> AbstractContextManager[Any]:
    """Run small dense solves on one BLAS thread.

    A 100 x 100 solve is microseconds of work; OpenBLAS's worker threads spin and wait on a busy
    2-core machine, and made the 100-model fit over 100 times slower in measurement (0.4 s vs 3 ms).
    """
    global _blas_controller
    if k > SMALL_BLAS:
        return nullcontext()
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional: without it BLAS keeps its default threads
            _blas_controller = False
        else:
            _blas_controller = ThreadpoolController()
    if _blas_controller is False:
        return nullcontext()
    limited: AbstractContextManager[Any] = _blas_controller.limit(limits=1, user_api="blas")
    return limited


@dataclass(frozen=True, eq=False)
class RoundBattles:
    """The battles rank-broken from four-image rounds, one row each, beside their counts.

    The likelihood reads them as plain pairs (their cells are in :class:`PairCounts`), but the pairs of
    one round come from one decision and are not independent: a best-of-4 pick is three wins that
    stand or fall together. Intervals that treat them as independent battles are too narrow (in
    simulation about half the real variance of best-of-4 ratings, 95% intervals covering 84%), so the
    sandwich sums each round's scores before squaring them and the bootstrap redraws whole rounds.
    ``row`` and ``rel`` locate each battle's cell in the counts (pair row; 0 lower index won, 1 higher
    won, 2 draw); ``round`` numbers the rounds 0..n_rounds-1; ``weight`` is the battle's weight (1
    without weights).
    """

    row: np.ndarray
    rel: np.ndarray
    round: np.ndarray
    weight: np.ndarray
    n_rounds: int


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Battles aggregated per unordered pair (i < j).

    ``n`` (P x 3) counts rows where i won, j won, or they drew (tie or both_bad); ``w`` holds the same
    cells' summed weights and ``w2`` their summed squared weights (both equal ``n`` without weights).
    ``rounds`` lists the battles that came from four-image rounds (None when there are none).
    """

    n_models: int
    i: np.ndarray
    j: np.ndarray
    n: np.ndarray
    w: np.ndarray
    w2: np.ndarray
    rounds: RoundBattles | None = None

    @classmethod
    def from_arrays(
        cls,
        n_models: int,
        i: np.ndarray,
        j: np.ndarray,
        win_i: np.ndarray,
        win_j: np.ndarray,
        tie: np.ndarray,
    ) -> PairCounts:
        """Counts from per-pair arrays (pairs may come in any orientation; each pair once)."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        n = np.stack([np.asarray(win_i, float), np.asarray(win_j, float), np.asarray(tie, float)], axis=1)
        swap = i > j
        n[swap] = n[swap][:, [1, 0, 2]]
        lo, hi = np.where(swap, j, i), np.where(swap, i, j)
        if np.any(lo == hi):
            raise InputError("a pair needs two different models")
        return cls(n_models, lo, hi, n, n, n)

    @classmethod
    def from_matrices(cls, wins: np.ndarray, ties: np.ndarray | None = None) -> PairCounts:
        """Counts from ``wins[i, j]`` (times i beat j) and an optional symmetric ``ties[i, j]``."""
        wins = np.asarray(wins, dtype=float)
        m = wins.shape[0]
        i, j = np.triu_indices(m, 1)
        t = np.zeros_like(wins) if ties is None else np.asarray(ties, dtype=float)
        return cls.from_arrays(m, i, j, wins[i, j], wins[j, i], t[i, j])


def _cell_keys(a: np.ndarray, b: np.ndarray, o: np.ndarray, m: int) -> np.ndarray:
    """Key of each battle's cell: (unordered pair, outcome relative to the lower index)."""
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    swap = a > b
    # outcome relative to (lo, hi): 0 lo wins, 1 hi wins, 2 draw
    rel = np.full(len(o), 2, dtype=np.int64)
    rel[((o == MODEL_A) & ~swap) | ((o == MODEL_B) & swap)] = 0
    rel[((o == MODEL_B) & ~swap) | ((o == MODEL_A) & swap)] = 1
    keys: np.ndarray = (np.minimum(a, b) * m + np.maximum(a, b)) * 3 + rel
    return keys


def aggregate(battles: Battles, weights: np.ndarray | None = None, *, chunk: int = CHUNK) -> PairCounts:
    """Aggregate battles into :class:`PairCounts`; ``weights`` (one per battle, e.g. inverse propensity).

    Works through the battles ``chunk`` at a time, so the memory used beyond the input arrays is bounded
    by the number of cells, not by the number of battles.
    """
    m = battles.n_models
    n_rows = len(battles)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n_rows,):
            raise InputError(f"weights need one value per battle ({n_rows}), got shape {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise InputError("weights must be positive finite numbers (inverse propensities)")
    size = 3 * m * m
    dense = size <= max(n_rows, 1 << 20)
    if dense:
        cnt = np.zeros(size, dtype=np.int64)
        wsum = np.zeros(size) if weights is not None else None
        w2sum = np.zeros(size) if weights is not None else None
    else:
        cells: np.ndarray = np.zeros(0, dtype=np.int64)
        ncell: np.ndarray = np.zeros(0, dtype=np.int64)
        wcell: np.ndarray = np.zeros(0)
        w2cell: np.ndarray = np.zeros(0)
    for start in range(0, n_rows, chunk):
        sl = slice(start, start + chunk)
        key = _cell_keys(battles.a[sl], battles.b[sl], battles.outcome[sl], m)
        w = weights[sl] if weights is not None else None
        if dense:
            cnt += np.bincount(key, minlength=size)
            if w is not None:
                wsum += np.bincount(key, w, minlength=size)  # type: ignore[operator]
                w2sum += np.bincount(key, w * w, minlength=size)  # type: ignore[operator]
            continue
        # merge this chunk's cells into the running sorted cell list
        merged, inv = np.unique(np.concatenate([cells, key]), return_inverse=True)
        k = len(merged)
        ones = np.ones(len(key), dtype=np.int64)
        ncell = np.bincount(inv, np.concatenate([ncell, ones]), minlength=k).astype(np.int64)
        if w is not None:
            wcell = np.bincount(inv, np.concatenate([wcell, w]), minlength=k)
            w2cell = np.bincount(inv, np.concatenate([w2cell, w * w]), minlength=k)
        cells = merged
    if dense:
        cells = np.flatnonzero(cnt)
        ncell = cnt[cells]
        if weights is not None:
            wcell = wsum[cells]  # type: ignore[index]
            w2cell = w2sum[cells]  # type: ignore[index]
    pair_key, rel = np.divmod(cells, 3)
    pairs, pinv = np.unique(pair_key, return_inverse=True)
    n = np.zeros((len(pairs), 3))
    n[pinv, rel] = ncell
    if weights is None:
        wt = w2t = n
    else:
        wt = np.zeros_like(n)
        w2t = np.zeros_like(n)
        wt[pinv, rel] = wcell
        w2t[pinv, rel] = w2cell
    i, j = np.divmod(pairs, m)
    return PairCounts(m, i, j, n, wt, w2t, _round_battles(battles, weights, pairs, m))


def _round_battles(
    battles: Battles, weights: np.ndarray | None, pairs: np.ndarray, m: int
) -> RoundBattles | None:
    """The battles of four-image rounds with their cells among ``pairs`` (sorted pair keys)."""
    if not battles.has_groups:
        return None
    at = np.flatnonzero(battles.groups() != NO_GROUP)
    pair_key, rel = np.divmod(_cell_keys(battles.a[at], battles.b[at], battles.outcome[at], m), 3)
    ids, rnd = np.unique(battles.groups()[at], return_inverse=True)
    weight = np.ones(len(at)) if weights is None else weights[at]
    return RoundBattles(np.searchsorted(pairs, pair_key), rel, rnd, weight, len(ids))


@dataclass(frozen=True, eq=False)
class BTFit:
    """A Bradley-Terry fit: Elo-scale ``ratings`` (mean 1000) and their sandwich covariance ``cov``.

    ``cov`` is m x m, or only its diagonal (1-d) above ``dense_limit`` (:data:`DENSE_LIMIT`) models.
    Models without any battle keep rating 1000 and infinite variance.
    """

    ratings: np.ndarray
    cov: np.ndarray
    theta: np.ndarray  # natural-log-odds scale, mean 0: warm start for the next fit
    n_iter: int

    @property
    def std(self) -> np.ndarray:
        d = np.diag(self.cov) if self.cov.ndim == 2 else self.cov
        return np.sqrt(np.maximum(d, 0.0))


@dataclass(frozen=True)
class _Objective:
    """The penalised negative log-likelihood a fit minimises: the counts ``c``, each row's score ``s``
    (wins plus half the ties) and total ``tot``, and the Gaussian ridge ``reg`` centred on ``mu``."""

    c: PairCounts
    s: np.ndarray
    tot: np.ndarray
    reg: float
    mu: np.ndarray | float

    def value(self, theta: np.ndarray) -> float:
        d = theta[self.c.i] - theta[self.c.j]
        off = theta - self.mu
        # -[s log p + (tot - s) log(1 - p)] with p = sigmoid(d), written stably
        return float(np.sum(self.tot * np.logaddexp(0.0, d) - self.s * d) + 0.5 * self.reg * off @ off)

    def ascent(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gradient of the log-posterior, p = sigmoid(theta_i - theta_j) per row)."""
        c, k = self.c, self.c.n_models
        p = 1.0 / (1.0 + np.exp(-(theta[c.i] - theta[c.j])))
        r = self.s - self.tot * p  # d loglik / d theta_i per pair
        g = np.bincount(c.i, r, minlength=k) - np.bincount(c.j, r, minlength=k) - self.reg * (theta - self.mu)
        return g, p


def _laplacian(m: int, i: np.ndarray, j: np.ndarray, h: np.ndarray) -> np.ndarray:
    flat = np.bincount(i * m + j, h, minlength=m * m) + np.bincount(j * m + i, h, minlength=m * m)
    lap = -flat.reshape(m, m)
    lap[np.diag_indices(m)] = np.bincount(i, h, minlength=m) + np.bincount(j, h, minlength=m)
    return lap


def fit_bt(
    counts: PairCounts,
    *,
    init: np.ndarray | None = None,
    reg: float = RIDGE,
    tol: float = 1e-10,
    max_iter: int = 100,
    covariance: bool = True,
    dense_limit: int = DENSE_LIMIT,
    prior_mean: np.ndarray | None = None,
) -> BTFit:
    """Fit Bradley-Terry to aggregated counts.

    Args:
        counts: :class:`PairCounts` (from :func:`aggregate`, :meth:`PairCounts.from_arrays` or
            :meth:`PairCounts.from_matrices`); ties count half a win to each side.
        init: warm start on the natural scale (a previous ``BTFit.theta``), length ``n_models``.
        reg: ridge penalty on the natural scale; keeps undefeated models and disconnected groups finite.
        tol: stop when the largest Newton step is below this (natural units).
        covariance: compute the sandwich covariance (skip it inside bootstrap rounds).
        dense_limit: above this many models with battles, L-BFGS and a diagonal variance instead of
            Newton and the full m x m covariance.
        prior_mean: centre of the ridge per model (natural scale), for a prior guess of the strengths
            such as a reward model's scores; default 0 for every model. Models without battles get it
            as their ``theta``.

    Returns:
        :class:`BTFit` with ``ratings`` (Elo scale, mean 1000 over models that have battles), ``cov``
        (sandwich covariance of those ratings, Elo points squared) and ``theta``.
    """
    m = counts.n_models
    played = np.zeros(m, dtype=bool)
    played[counts.i] = True
    played[counts.j] = True
    idx = np.flatnonzero(played)
    k = len(idx)
    ratings = np.full(m, CENTER)
    if prior_mean is not None:
        prior_mean = np.asarray(prior_mean, dtype=float)
        if prior_mean.shape != (m,) or not np.all(np.isfinite(prior_mean)):
            raise InputError(
                f"prior_mean needs one finite value per model ({m}), got shape {prior_mean.shape}"
            )
    theta_full = np.zeros(m) if prior_mean is None else prior_mean.copy()
    if k < 2:
        cov = np.full((m, m) if m <= dense_limit else m, np.inf)
        return BTFit(ratings, cov, theta_full, 0)
    remap = np.full(m, -1, dtype=np.int64)
    remap[idx] = np.arange(k)
    c = PairCounts(k, remap[counts.i], remap[counts.j], counts.n, counts.w, counts.w2, counts.rounds)
    s = c.w[:, 0] + 0.5 * c.w[:, 2]
    tot = c.w.sum(axis=1)
    if init is None:
        theta = np.zeros(k)
    else:
        init = np.asarray(init, dtype=float)
        if init.shape != (m,):
            raise InputError(f"init needs one value per model ({m}), got shape {init.shape}")
        theta = init[idx] - init[idx].mean()
    # The fit runs centred; so does the prior's centre (the likelihood ignores the common level).
    level = 0.0 if prior_mean is None else float(prior_mean[idx].mean())
    mu: np.ndarray | float = 0.0 if prior_mean is None else prior_mean[idx] - level
    obj = _Objective(c, s, tot, reg, mu)
    if k > dense_limit:
        theta, n_iter = _fit_lbfgs(theta, obj, tol, max_iter)
    else:
        with _one_blas_thread(k):
            theta, n_iter = _fit_newton(theta, obj, tol, max_iter)
    theta -= theta.mean()
    theta_full[idx] = theta + level
    ratings[idx] = CENTER + ELO_PER_NAT * theta
    if not covariance:
        cov = np.zeros(0)
    else:
        with _one_blas_thread(k):
            cov_k = _sandwich(theta, c, reg, dense_limit)
        if cov_k.ndim == 2:
            cov = np.full((m, m), np.nan)
            cov[np.ix_(idx, idx)] = cov_k
            cov[~played, ~played] = np.inf
        else:
            cov = np.full(m, np.inf)
            cov[idx] = cov_k
    return BTFit(ratings, cov, theta_full, n_iter)


def _fit_newton(theta: np.ndarray, obj: _Objective, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    c = obj.c
    k = c.n_models
    ones = np.full((k, k), 1.0 / k)
    f = obj.value(theta)
    for it in range(1, max_iter + 1):
        g, p = obj.ascent(theta)
        hess = _laplacian(k, c.i, c.j, obj.tot * p * (1.0 - p))
        hess[np.diag_indices(k)] += obj.reg
        step = np.linalg.solve(hess + ones, g)
        # backtracking keeps Newton monotone when a model is (nearly) undefeated
        t = 1.0
        while True:
            new = theta + t * step
            f_new = obj.value(new)
            if f_new <= f + 1e-12 * abs(f) or t < 1e-6:
                break
            t *= 0.5
        theta, f = new, f_new
        if np.max(np.abs(t * step)) < tol:
            return theta, it
    return theta, max_iter


def _fit_lbfgs(theta: np.ndarray, obj: _Objective, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    from scipy.optimize import minimize

    def fun(th: np.ndarray) -> tuple[float, np.ndarray]:
        return obj.value(th), -obj.ascent(th)[0]

    res = minimize(fun, theta, jac=True, method="L-BFGS-B", options={"maxiter": 50 * max_iter, "gtol": 1e-9})
    return res.x, int(res.nit)


def _sandwich(theta: np.ndarray, c: PairCounts, reg: float, dense_limit: int) -> np.ndarray:
    """Sandwich covariance H^+ B H^+ of the centred ratings, in Elo points squared.

    H is the Fisher information (a Laplacian, singular along the all-ones direction that centring
    removes); B sums the outer products of per-row scores, so it stays right when ties make the
    model misspecified and when rows carry weights.
    """
    k = c.n_models
    d = theta[c.i] - theta[c.j]
    p = 1.0 / (1.0 + np.exp(-d))
    tot = c.w.sum(axis=1)
    h = tot * p * (1.0 - p)
    meat = c.w2[:, 0] * (1.0 - p) ** 2 + c.w2[:, 1] * p**2 + c.w2[:, 2] * (0.5 - p) ** 2
    cross = _round_cross_scores(c, p, diagonal=k > dense_limit)
    if k > dense_limit:
        hd = np.bincount(c.i, h, minlength=k) + np.bincount(c.j, h, minlength=k) + reg
        bd = np.bincount(c.i, meat, minlength=k) + np.bincount(c.j, meat, minlength=k)
        if cross is not None:
            bd += cross
        return ELO_PER_NAT**2 * bd / hd**2
    hess = _laplacian(k, c.i, c.j, h)
    hess[np.diag_indices(k)] += reg
    ones = np.full((k, k), 1.0 / k)
    hinv = np.linalg.inv(hess + ones) - ones  # the pseudo-inverse on the centred subspace
    b = _laplacian(k, c.i, c.j, meat)
    if cross is not None:
        b += cross
    cov: np.ndarray = ELO_PER_NAT**2 * (hinv @ b @ hinv)
    return cov


def _round_cross_scores(c: PairCounts, p: np.ndarray, *, diagonal: bool) -> np.ndarray | None:
    """What the battles of one round add to the sandwich's meat beyond independent battles: the sum
    over rounds of the cross products of their battles' scores, S^T S less its per-battle part, with
    S the sparse rounds x models matrix of summed weighted scores. k x k, or its diagonal when
    ``diagonal``; None without rounds."""
    rounds = c.rounds
    if rounds is None:
        return None
    from scipy.sparse import csr_matrix  # here: a plain rating of pair votes does not load scipy

    k = c.n_models
    lo, hi = c.i[rounds.row], c.j[rounds.row]
    # the lower-index model's residual: won 1 - p, lost -p, drew 1/2 - p
    r = rounds.weight * (np.array([1.0, 0.0, 0.5])[rounds.rel] - p[rounds.row])
    at = np.concatenate([rounds.round, rounds.round])
    scores = csr_matrix((np.concatenate([r, -r]), (at, np.concatenate([lo, hi]))), shape=(rounds.n_rounds, k))
    if diagonal:
        per_battle = np.bincount(lo, r * r, minlength=k) + np.bincount(hi, r * r, minlength=k)
        diag: np.ndarray = np.asarray(scores.multiply(scores).sum(axis=0)).ravel() - per_battle
        return diag
    cross: np.ndarray = (scores.T @ scores).toarray() - _laplacian(k, lo, hi, r * r)
    return cross


def anchor_ratings(models: list[str], ratings: np.ndarray, anchor: tuple[str, float]) -> np.ndarray:
    """Shift ratings so the anchor model sits at the anchor rating."""
    name, value = anchor
    try:
        k = models.index(name)
    except ValueError:
        raise UnknownNameError(
            f"anchor model {name!r} has no battles; pick one of the rated models"
        ) from None
    shifted: np.ndarray = ratings - ratings[..., k : k + 1] + value
    return shifted


def anchored_std(cov: np.ndarray, k: int) -> np.ndarray:
    """Standard errors relative to model ``k`` (whose own interval becomes zero-width)."""
    if cov.ndim == 1:
        var = cov + cov[k]
        var[k] = 0.0
    else:
        d = np.diag(cov)
        var = d + d[k] - 2.0 * cov[:, k]
    var = np.where(np.isnan(var), np.inf, var)  # models without battles: unbounded
    return np.sqrt(np.maximum(var, 0.0))


def bootstrap_bt(
    counts: PairCounts,
    *,
    rounds: int = 100,
    seed: int = 0,
    init: np.ndarray | None = None,
    reg: float = RIDGE,
) -> np.ndarray:
    """Ratings (rounds x m, Elo scale, mean 1000) from a seeded multinomial bootstrap of the battles.

    Each round draws how many times each (pair, outcome) cell appears among N resampled pair votes;
    weighted cells keep their mean weight per battle. Four-image rounds (``counts.rounds``) are
    redrawn whole, their battles together, since they come from one decision each.
    """
    if rounds < 1:
        raise InputError("bootstrap needs at least one round (--rounds)")
    rng = np.random.default_rng(seed)
    shape = counts.n.shape
    n, w, w2 = counts.n.ravel(), counts.w.ravel(), counts.w2.ravel()
    unweighted = counts.w is counts.n
    group = counts.rounds
    if group is not None:  # the cells of pair votes alone
        cell = group.row * 3 + group.rel
        n = n - np.bincount(cell, minlength=n.size)
        w = w - np.bincount(cell, group.weight, minlength=n.size)
        w2 = w2 - np.bincount(cell, group.weight**2, minlength=n.size)
    total = int(round(n.sum()))
    prob = n / max(n.sum(), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wmean = np.where(n > 0, w / n, 0.0)
        w2mean = np.where(n > 0, w2 / n, 0.0)
    out = np.empty((rounds, counts.n_models))
    for r in range(rounds):
        draw = rng.multinomial(total, prob).astype(float) if total else np.zeros(n.size)
        dw, dw2 = draw * wmean, draw * w2mean
        if group is not None:
            times = rng.multinomial(group.n_rounds, np.full(group.n_rounds, 1.0 / group.n_rounds))
            per_battle = times[group.round].astype(float)
            draw += np.bincount(cell, per_battle, minlength=n.size)
            dw += np.bincount(cell, per_battle * group.weight, minlength=n.size)
            dw2 += np.bincount(cell, per_battle * group.weight**2, minlength=n.size)
        nd = draw.reshape(shape)
        if unweighted:
            c = PairCounts(counts.n_models, counts.i, counts.j, nd, nd, nd)
        else:
            c = PairCounts(counts.n_models, counts.i, counts.j, nd, dw.reshape(shape), dw2.reshape(shape))
        out[r] = fit_bt(c, init=init, reg=reg, covariance=False).ratings
    return out
