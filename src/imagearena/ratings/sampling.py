"""Which pair or group of four to show next: uniform draws as the baseline, and an active sampler that
spends votes where they most improve the ranking.

Both samplers are small stateful objects with the same interface, usable in a web server or in a
simulation: ``observe`` (one vote), ``observe_round`` (a four-image round's ranks), ``observe_battles``
(bulk, from :class:`Battles`), ``next_pair``, ``next_group`` and ``add_model``. They are not
thread-safe: a server keeps one per study behind a lock. Votes are kept aggregated per pair that met,
so memory grows with the pairs played, not with the square of the pool.

The active rule (see ``docs/ratings.md``): fit Bradley-Terry (the leaderboard's own fit) with a
Gaussian prior whose spread is estimated from the votes, then score every pair by how much one more
vote on it is expected to reduce the number of wrongly ordered pairs in the leaderboard, counting the
information it also gives about other pairs through the shared covariance. The best pair is served, except for a share ``explore`` of
uniformly drawn pairs so no model starves. A group of four starts from that pair and adds, one at a
time, the name whose comparisons with the names already chosen are worth most. Above ``dense_max``
names (a folder of thousands of images) the same rule runs on a diagonal covariance and looks for
partners only among the names ranked near each candidate, so a call costs O(names), never O(names^2).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import erf, expit, ndtri
from scipy.stats import rankdata

from imagearena.errors import InputError, UnknownNameError
from imagearena.ratings.battles import NO_GROUP, Battles
from imagearena.ratings.bradley_terry import PairCounts, _one_blas_thread, fit_bt
from imagearena.ratings.rounds import parse_round_type, rank_break
from imagearena.registry import Registry
from imagearena.types import LOGIT_PER_ELO, Outcome, RoundType, Sampler

#: One Elo point in natural-log strength units.
ELO_TO_NATURAL = LOGIT_PER_ELO

#: Above this many names the active sampler keeps a diagonal covariance and looks for partners among
#: the names ranked near each candidate (O(names) per call instead of O(names^2), refits O(votes)).
DENSE_MAX = 256
#: Share of groups (size > 2) the active sampler draws uniformly (see ActiveSampler).
GROUP_EXPLORE = 0.2
#: Groups the full-covariance mode scores for a round: every choice of the group's size among this
#: many names ranked next to each other, at each place of the ranking, and this many uniform groups.
GROUP_WINDOW = 6
GROUP_RANDOM = 200
#: How far ahead the active sampler weighs a pair's chance of being misordered: at the variance its
#: difference will have after as many decisions again as were made so far (half today's). Weighing
#: today's chance instead spreads the rounds too thin: in simulation (30 models, best-of-4 rounds,
#: 40 seeds) it took 4% more clicks to Kendall tau 0.9 and its mean tau was lower up to 3600 clicks.
HORIZON = 0.5
#: Names on each side, in the current ranking, among which the diagonal mode looks for partners.
WINDOW = 24

#: Prior spread of strengths (Elo) before any vote, and the range an estimated one is kept in.
INITIAL_PRIOR_SD = 200.0
PRIOR_SD_RANGE = (25.0, 1000.0)
#: How much of the prior spread an outside score (``seed_scores``, a reward model's pre-rank) is
#: trusted to explain: the prior mean of a name is this times the prior spread times its normal score.
#: Reward models agree with people on roughly 60-65% of pairs, a weak but real signal: enough to
#: make the first rounds compare images the scorer finds close, too little to outweigh a few votes.
SEED_SCORE_WEIGHT = 0.5

#: Battle outcome code -> 0 (model_a wins), 1 (model_b wins) or 2 (draw: tie or both_bad).
_DRAW_CODE = np.array([2 if o.is_draw else o.code for o in Outcome])
_DRAW_CODE_OF = {o.value: int(_DRAW_CODE[o.code]) for o in Outcome}


def _winner_code(winner: str) -> int:
    code = _DRAW_CODE_OF.get(str(getattr(winner, "value", winner)))
    if code is None:
        raise InputError(f"unknown winner {winner!r}; use one of {', '.join(Outcome)}")
    return code


class _PairVotes:
    """Votes aggregated per unordered pair that met: (lo, hi) rows of [lo won, hi won, draws]."""

    def __init__(self) -> None:
        self._row: dict[int, int] = {}
        self.lo = np.zeros(16, dtype=np.int64)
        self.hi = np.zeros(16, dtype=np.int64)
        self.n = np.zeros((16, 3))
        self.size = 0

    def _rows(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        rows = np.empty(len(lo), dtype=np.int64)
        for k, (x, y) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
            key = (x << 32) | y
            r = self._row.get(key)
            if r is None:
                r = self._row[key] = self.size
                if self.size == len(self.lo):
                    grow = len(self.lo)
                    self.lo = np.append(self.lo, np.zeros(grow, dtype=np.int64))
                    self.hi = np.append(self.hi, np.zeros(grow, dtype=np.int64))
                    self.n = np.vstack([self.n, np.zeros((grow, 3))])
                self.lo[r], self.hi[r] = x, y
                self.size += 1
            rows[k] = r
        return rows

    def add(self, a: np.ndarray, b: np.ndarray, code: np.ndarray) -> None:
        """``code`` 0: ``a`` won, 1: ``b`` won, 2: draw."""
        swap = a > b
        lo, hi = np.where(swap, b, a), np.where(swap, a, b)
        col = np.where(swap & (code < 2), 1 - code, code)
        if len(a) == 1:
            row = int(self._rows(lo, hi)[0])  # first: it may grow self.n
            self.n[row, int(col[0])] += 1.0
            return
        keys = (lo << 32) | hi
        uniq, inverse = np.unique(keys, return_inverse=True)
        cells = np.bincount(inverse * 3 + col, minlength=3 * len(uniq)).reshape(-1, 3)
        rows = self._rows(uniq >> 32, uniq & 0xFFFFFFFF)  # first: it may grow self.n
        self.n[rows] += cells

    def counts(self, m: int) -> PairCounts:
        k = self.size
        return PairCounts.from_arrays(
            m, self.lo[:k], self.hi[:k], self.n[:k, 0], self.n[:k, 1], self.n[:k, 2]
        )

    def matrices(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(decisive, draws): ``decisive[i, j]`` votes i won against j, ``draws`` symmetric."""
        k = self.size
        lo, hi, n = self.lo[:k], self.hi[:k], self.n[:k]
        decisive, draws = np.zeros((m, m)), np.zeros((m, m))
        decisive[lo, hi] = n[:, 0]
        decisive[hi, lo] = n[:, 1]
        draws[lo, hi] = draws[hi, lo] = n[:, 2]
        return decisive, draws


def _rounds_of(
    group: np.ndarray, a: np.ndarray, b: np.ndarray, draw: np.ndarray
) -> tuple[np.ndarray, list[RoundType]]:
    """The rounds behind rank-broken battles: each round id's four names ((n, 4), sorted) and its type,
    read from its battles: six with a decided one come from an order of four; three (a pick), or six
    draws (no clear best, or an order of four all tied), count as a best-of-4 pick. Vectorised: a
    study's whole history is read this way when its pool loads."""
    ids, per_battle, battles = np.unique(group, return_inverse=True, return_counts=True)
    decided = np.bincount(per_battle, ~draw, minlength=len(ids)) > 0
    # each round's distinct names, sorted by round then name
    pairs = np.unique(np.stack([np.concatenate([per_battle, per_battle]), np.concatenate([a, b])]), axis=1)
    names_per_round = np.bincount(pairs[0], minlength=len(ids))
    four = names_per_round == 4
    rows = pairs[1][four[pairs[0]]].reshape(-1, 4)
    order4 = (battles == 6) & decided
    kinds = [RoundType.ORDER4 if o else RoundType.BEST4 for o in order4[four].tolist()]
    return rows.astype(np.int64), kinds


class _RoundCounts:
    """Four-image rounds aggregated per (round type, set of four names), and their rank-broken
    battles per pair, so a refit can count each round's information as one decision."""

    _KINDS = (RoundType.BEST4, RoundType.ORDER4)

    def __init__(self) -> None:
        self._row: dict[tuple[int, ...], int] = {}
        self.names = np.zeros((16, 4), dtype=np.int64)
        self.kind = np.zeros(16, dtype=np.int64)
        self.n = np.zeros(16)
        self.size = 0
        self.battles = _PairVotes()

    def add(self, groups: np.ndarray, kinds: Sequence[RoundType], a: np.ndarray, b: np.ndarray) -> None:
        for names, rt in zip(np.sort(groups, axis=1).tolist(), kinds, strict=True):
            kind = self._KINDS.index(rt)
            key = (kind, *names)
            r = self._row.get(key)
            if r is None:
                r = self._row[key] = self.size
                if self.size == len(self.n):
                    self.names = np.vstack([self.names, np.zeros_like(self.names)])
                    self.kind = np.append(self.kind, np.zeros_like(self.kind))
                    self.n = np.append(self.n, np.zeros_like(self.n))
                self.names[r], self.kind[r] = names, kind
                self.size += 1
            self.n[r] += 1.0
        self.battles.add(a, b, np.zeros(len(a), dtype=np.int64))

    def games(self, m: int) -> np.ndarray:
        """Rank-broken battles of the rounds per pair (m x m, symmetric)."""
        decisive, _ = self.battles.matrices(m)
        out: np.ndarray = decisive + decisive.T
        return out

    def information(self, theta: np.ndarray) -> np.ndarray:
        """The rounds' expected Fisher information about ``theta`` (m x m): each round's
        :func:`round_information` at these strengths, times how often it was played."""
        m = len(theta)
        out = np.zeros(m * m)
        for kind, rt in enumerate(self._KINDS):
            at = np.flatnonzero(self.kind[: self.size] == kind)
            if not len(at):
                continue
            names = self.names[at]
            info = round_information(theta[names], rt) * self.n[at, None, None]
            cells = names[:, :, None] * m + names[:, None, :]
            out += np.bincount(cells.ravel(), info.ravel(), minlength=m * m)
        return out.reshape(m, m)


class _Sampler:
    """Shared bookkeeping: model names, the random generator, per-model vote counts."""

    def __init__(self, models: Sequence[str], *, seed: int | None = None) -> None:
        self.models: list[str] = []
        self._index: dict[str, int] = {}
        self._rng = np.random.default_rng(seed)
        self._served = np.zeros(0, dtype=np.int64)
        for name in models:
            self.add_model(name)

    # -- models -------------------------------------------------------------------------------------
    def add_model(self, name: str) -> None:
        """Add a contestant; it starts with no votes, so the active sampler favours it until it has some."""
        if not isinstance(name, str) or not name:
            raise InputError(f"model names must be non-empty strings, got {name!r}")
        if name in self._index:
            raise InputError(f"model {name!r} is already in the sampler")
        self._index[name] = len(self.models)
        self.models.append(name)
        if len(self.models) > len(self._served):
            self._served = np.append(self._served, np.zeros(max(16, len(self._served)), dtype=np.int64))
        self._grow(len(self.models))

    def _grow(self, m: int) -> None:
        """Hook for subclasses that keep per-model state."""

    def _idx(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise UnknownNameError(
                f"model {name!r} is not in the sampler; add it first with add_model({name!r})"
            ) from None

    def seed_scores(self, scores: Mapping[str, float]) -> None:
        """A guess at the order before any vote, from an outside score such as a reward model's
        (higher is better; names without a score, or with a non-finite one, get no guess). The uniform
        sampler ignores it; the active sampler centres its prior on it (``SEED_SCORE_WEIGHT``), so its
        first rounds compare names the score finds close. Votes alone decide every leaderboard."""
        for name in scores:
            self._idx(name)

    @property
    def votes(self) -> dict[str, int]:
        """Battles observed per model (a four-image round counts its rank-broken pairs)."""
        return {name: int(n) for name, n in zip(self.models, self._served.tolist(), strict=False)}

    # -- observations -------------------------------------------------------------------------------
    def observe(self, model_a: str, model_b: str, winner: str) -> None:
        """Record one vote; ``winner`` is ``model_a``, ``model_b``, ``tie`` or ``both_bad``."""
        i, j = self._idx(model_a), self._idx(model_b)
        if i == j:
            raise InputError(f"model {model_a!r} cannot play itself")
        code = _winner_code(winner)
        self._served[i] += 1
        self._served[j] += 1
        self._record(np.array([i]), np.array([j]), np.array([code]))

    def observe_round(self, models: Sequence[str], ranks: Sequence[int], round_type: RoundType | str) -> None:
        """Record one round: ``models`` in display order and their ranks (1 = best, equal = tie), as
        :func:`imagearena.ratings.rounds.validate_ranks` takes them. The strengths read the round as its
        rank-broken pairs (a best-of-4 pick as the pick beating each other image, an order as all six
        pairs), as the leaderboard does; the active sampler's certainty counts it as one decision."""
        rt = parse_round_type(round_type)
        idx = [self._idx(name) for name in models]
        if len(set(idx)) != len(idx):
            raise InputError("a round shows each model once; got one twice")
        pairs = rank_break(rt, ranks)  # validates the ranks and their number
        a = np.array([idx[i] for i, _, _ in pairs], dtype=np.int64)
        b = np.array([idx[j] for _, j, _ in pairs], dtype=np.int64)
        code = _DRAW_CODE[[o.code for _, _, o in pairs]]
        np.add.at(self._served, a, 1)
        np.add.at(self._served, b, 1)
        self._record(a, b, code)
        self._record_rounds(np.array([idx], dtype=np.int64), [rt], a, b)

    def observe_battles(self, battles: Battles) -> None:
        """Record many votes at once from a :class:`imagearena.ratings.battles.Battles` (rank-broken
        rounds included: their pairs count as the round's information).

        Every model in ``battles.models`` must be in the sampler (``add_model`` the new ones first), so a
        retired model in an old log is never silently brought back into rotation.
        """
        used = np.zeros(len(battles.models), dtype=bool)
        used[np.asarray(battles.a)] = True
        used[np.asarray(battles.b)] = True
        unknown = [name for k, name in enumerate(battles.models) if used[k] and name not in self._index]
        if unknown:
            raise UnknownNameError(
                f"battles mention models not in the sampler: {', '.join(sorted(unknown))}; "
                "add them with add_model() or filter the battles first"
            )
        remap = np.array([self._index.get(name, -1) for name in battles.models], dtype=np.int64)
        a = remap[np.asarray(battles.a, dtype=np.int64)]
        b = remap[np.asarray(battles.b, dtype=np.int64)]
        if np.any(a == b):
            raise InputError("a battle has a model playing itself")
        outcome = np.asarray(battles.outcome, dtype=np.int64)
        if len(outcome) and (outcome.min() < 0 or outcome.max() >= len(Outcome)):
            codes = ", ".join(f"{o.code} ({o.value})" for o in Outcome)
            raise InputError(f"battle outcome codes must be one of {codes}")
        m = len(self._served)
        self._served += np.bincount(a, minlength=m) + np.bincount(b, minlength=m)
        self._record(a, b, _DRAW_CODE[outcome])
        if battles.has_groups:
            grouped = np.flatnonzero(battles.groups() != NO_GROUP)
            draw = _DRAW_CODE[outcome[grouped]] == 2
            groups, kinds = _rounds_of(battles.groups()[grouped], a[grouped], b[grouped], draw)
            self._record_rounds(groups, kinds, a[grouped], b[grouped])

    def _record(self, a: np.ndarray, b: np.ndarray, code: np.ndarray) -> None:
        """Hook for subclasses: ``code`` is 0 when ``a`` won, 1 when ``b`` won, 2 for a draw."""

    def _record_rounds(
        self, groups: np.ndarray, kinds: Sequence[RoundType], a: np.ndarray, b: np.ndarray
    ) -> None:
        """Hook for subclasses: four-image rounds ``groups`` ((n, 4) indices) of ``kinds``, whose
        rank-broken battles (``a``, ``b``) were just passed to ``_record``."""

    # -- serving ------------------------------------------------------------------------------------
    def _check_servable(self, size: int = 2) -> None:
        if len(self.models) < 2:
            raise InputError("pair sampling needs at least two models; add more with add_model()")
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 2:
            raise InputError(f"a group needs at least 2 names, got size {size!r}")
        if size > len(self.models):
            raise InputError(
                f"a group of {size} needs at least {size} models, the sampler has {len(self.models)}; "
                "add more with add_model() or use smaller rounds"
            )

    def _ordered(self, i: int, j: int) -> tuple[str, str]:
        """Random left/right order, so position bias averages out."""
        if self._rng.random() < 0.5:
            i, j = j, i
        return self.models[i], self.models[j]

    def _uniform_group(self, size: int) -> list[int]:
        """``size`` distinct indices drawn uniformly, in random order (O(size^2), whatever the pool)."""
        m = len(self.models)
        out: list[int] = []
        while len(out) < size:
            k = int(self._rng.integers(m))
            if k not in out:
                out.append(k)
        return out

    def _shown(self, group: list[int]) -> tuple[str, ...]:
        """The group in random display order, so position bias averages out."""
        return tuple(self.models[k] for k in self._rng.permutation(group).tolist())

    #: Probability with which the last ``next_pair`` chose its pair (either order): the propensity
    #: for inverse-propensity weights, ``weights=1 / p`` in :func:`imagearena.ratings.leaderboard`.
    last_probability: float = float("nan")

    def next_pair(self) -> tuple[str, str]:
        """The pair to show next, in random left/right order."""
        raise NotImplementedError

    def next_group(self, size: int, round_type: RoundType | str | None = None) -> tuple[str, ...]:
        """``size`` distinct names to show next, in random display order; size 2 is :meth:`next_pair`.
        ``round_type`` (``best4``, ``order4``) says what the round will ask, so the active sampler can
        weigh what its answer is worth."""
        raise NotImplementedError

    def pair_probability(self, model_a: str, model_b: str) -> float:
        """Probability that the next call serves this pair (in either order): the propensity to use
        for inverse-propensity weighting of adaptively collected votes."""
        raise NotImplementedError


class UniformSampler(_Sampler):
    """Every unordered pair (or group) equally likely: the baseline. O(1) per pair and O(models)
    memory, so it also serves rankings of thousands of items."""

    def next_group(self, size: int, round_type: RoundType | str | None = None) -> tuple[str, ...]:
        self._check_servable(size)
        if size == 2:
            return self.next_pair()
        self.last_probability = float("nan")
        return self._shown(self._uniform_group(size))

    def next_pair(self) -> tuple[str, str]:
        self._check_servable()
        m = len(self.models)
        i = int(self._rng.integers(m))
        j = int(self._rng.integers(m - 1))
        j += j >= i
        self.last_probability = 2.0 / (m * (m - 1))
        return self._ordered(i, j)

    def pair_probability(self, model_a: str, model_b: str) -> float:
        self._check_servable()
        if self._idx(model_a) == self._idx(model_b):
            return 0.0
        m = len(self.models)
        return 2.0 / (m * (m - 1))


def _misorder_weight(diff: np.ndarray, var: np.ndarray, horizon: float = HORIZON) -> np.ndarray:
    """Expected drop in a pair's chance of being misordered, ``horizon`` ahead, per unit of variance
    removed today; ``diff`` is the estimated difference and ``var`` its variance (positive).

    Derivation (docs/ratings.md): the true difference is d ~ N(diff, var); the ranking read later,
    its estimate's variance then v = horizon * var, misorders the pair with probability
    Phi(-|d| / sqrt v). Information added today lowers v by horizon^2 times what it lowers today's
    variance (precisions add), so the weight is horizon^2 E_d[dPhi/dv], in closed form below. It
    peaks for pairs whose order is uncertain and vanishes for pairs already clearly apart, which
    uniform sampling keeps paying for; a horizon below 1 also lets go of pairs too close to settle.
    """
    v = horizon * var
    total = v + var
    # d weighted by the derivative's Gaussian factor: normal with this mean and spread
    mean = diff * (horizon / (1.0 + horizon))
    sd = np.sqrt(var * (horizon / (1.0 + horizon)))
    folded = sd * np.sqrt(2.0 / np.pi) * np.exp(-0.5 * (mean / sd) ** 2) + mean * erf(
        mean / (sd * np.sqrt(2.0))
    )
    weight: np.ndarray = (
        horizon**2 * np.exp(-0.5 * diff**2 / total) * folded / (2.0 * v * np.sqrt(2.0 * np.pi * total))
    )
    return weight


#: The sets of names still to be placed when an order of four makes its second and third choice:
#: all but one (4), all but two (6).
_LEFT_AFTER_ONE = 1.0 - np.eye(4)
_FIRST_TWO = list(itertools.combinations(range(4), 2))
_LEFT_AFTER_TWO = np.array([[0.0 if k in pair else 1.0 for k in range(4)] for pair in _FIRST_TWO])


def _choice_information(e: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """Fisher information of one multinomial-logit choice among ``remaining`` (0/1 masks, (..., k)),
    the items' exp-strengths ``e`` (..., k): diag(q) - q q^T with q the choice probabilities."""
    w = e * remaining
    q = w / w.sum(axis=-1, keepdims=True)
    info: np.ndarray = q[..., :, None] * np.eye(q.shape[-1]) - q[..., :, None] * q[..., None, :]
    return info


def round_information(strengths: np.ndarray, round_type: RoundType | None) -> np.ndarray:
    """Expected Fisher information about the strengths (natural scale) of the names of a round, for
    each row of ``strengths`` ((n, k) -> (n, k, k)), under the crowd model the simulations use.

    ``best4``: one Plackett-Luce pick, diag(p) - p p^T. ``order4``: a Plackett-Luce order, the sum of
    its three choices' informations; a choice's information depends only on the names left, so it is
    the first choice's, plus the second's over the 4 names that can go first, plus the third's over
    the 6 pairs that can go first and second, each by its probability. Otherwise (no round type
    known, pairs): the rank-broken pairs as independent Bradley-Terry votes, the Laplacian of
    p (1 - p) over the pairs.
    """
    t = strengths - strengths.max(axis=-1, keepdims=True)
    e = np.exp(t)
    k = strengths.shape[-1]
    if round_type is RoundType.BEST4:
        return _choice_information(e, np.ones(k))
    if round_type is RoundType.ORDER4 and k == 4:
        total = e.sum(axis=-1, keepdims=True)
        first = e / total  # (..., 4): who is placed first
        # P(the first two are {a, b}) = p_a e_b / (S - e_a) + p_b e_a / (S - e_b)
        a, b = (np.array(x) for x in zip(*_FIRST_TWO, strict=True))
        two = first[..., a] * e[..., b] / (total - e[..., a]) + first[..., b] * e[..., a] / (
            total - e[..., b]
        )
        info = _choice_information(e, np.ones(k))
        info = info + np.einsum(
            "...s,...sij->...ij", first, _choice_information(e[..., None, :], _LEFT_AFTER_ONE)
        )
        info = info + np.einsum(
            "...s,...sij->...ij", two, _choice_information(e[..., None, :], _LEFT_AFTER_TWO)
        )
        out: np.ndarray = info
        return out
    p = expit(strengths[..., :, None] - strengths[..., None, :])
    w = p * (1.0 - p) * (1.0 - np.eye(k))
    lap: np.ndarray = w.sum(axis=-1)[..., :, None] * np.eye(k) - w
    return lap


class ActiveSampler(_Sampler):
    """Chooses the pair whose next vote most reduces the expected number of wrongly ordered pairs.

    Every ``refit_every`` votes (default: half the number of models, at least 4) the next call refits
    Bradley-Terry strengths and their covariance (O(models^3)). Each pair served in between is booked
    as a "virtual" vote: an exact rank-one update of the covariance and of the pair scores
    (O(models^2)), so consecutive or concurrent requests spread over the most useful pairs instead of
    repeating one, and the real outcomes are folded in at the next refit (which also comes after
    ``4 * refit_every`` served pairs, should their votes never arrive).

    ``explore`` is the share of pairs drawn uniformly, the floor that keeps every model served (each
    model appears in at least ``explore * 2 / models`` of the matches in expectation). ``power``
    sharpens the choice: pairs are drawn with probability proportional to score ** power, and the
    default ``inf`` takes the best pair (ties broken at random). ``prior_sd`` (Elo points) fixes the
    prior spread of strengths; by default (``None``) it is estimated from the votes at every refit
    (empirical Bayes), because a prior much wider or narrower than the real spread misjudges which
    pairs are still uncertain. ``criterion="ci"`` scores a pair by the shrinkage of its own confidence
    interval instead (the Chatbot Arena rule, paper Eq. 9, in its model-based form).

    A refit's precision counts each four-image round by its own expected information (below), not
    its rank-broken battles as independent votes, which made the sampler about twice as sure as it
    should be. ``next_group(size, round_type)`` scores whole rounds: the round's expected Fisher information F
    under the Plackett-Luce crowd (a pick for ``best4``, an order for ``order4``; see
    :func:`round_information`) lowers the covariance by C K C^T with K = (I + F A)^-1 F (C the
    group's columns of the covariance, A its block), so its value, the drop in the weighted
    difference variances, is tr(K (cov G cov)[group, group]): O(size^3) per group once cov G cov is
    known. The groups scored are every ``size`` of the ``GROUP_WINDOW`` names ranked next to each
    other, at every place of the ranking, and ``GROUP_RANDOM`` uniform groups; the best is served and
    booked by that exact update. A share ``group_explore`` (default 0.2, as for pairs) of groups is
    drawn uniformly, so each name is in at least ``group_explore * size / models`` of them. Above
    ``dense_max`` names (or with ``criterion="ci"``) a group starts from the best pair and adds one
    name at a time, the one whose comparisons with those chosen are worth most. Above ``dense_max``
    names the covariance is kept diagonal (the same scores with the cross terms dropped, each name's
    uncertainty mass summed over the ``WINDOW`` names ranked nearest on each side) and partners are
    looked for in those windows; ``pair_probability`` is then the exploration floor plus the current
    favourite.
    """

    def __init__(
        self,
        models: Sequence[str],
        *,
        seed: int | None = None,
        explore: float = 0.2,
        refit_every: int | None = None,
        prior_sd: float | None = None,
        criterion: str = "rank",
        power: float = float("inf"),
        dense_max: int = DENSE_MAX,
        group_explore: float = GROUP_EXPLORE,
    ) -> None:
        if not 0.0 <= explore <= 1.0:
            raise InputError(f"explore must be between 0 and 1, got {explore}")
        if criterion not in ("rank", "ci"):
            raise InputError(f"unknown criterion {criterion!r}; use 'rank' or 'ci'")
        if prior_sd is not None and not prior_sd > 0:
            raise InputError(f"prior_sd must be positive, got {prior_sd}")
        if refit_every is not None and refit_every < 1:
            raise InputError(f"refit_every must be at least 1, got {refit_every}")
        if not power > 0:
            raise InputError(f"power must be positive, got {power}")
        if not 0.0 <= group_explore <= 1.0:
            raise InputError(f"group_explore must be between 0 and 1, got {group_explore}")
        if dense_max < 2:
            raise InputError(f"dense_max must be at least 2, got {dense_max}")
        self.explore = explore
        self.group_explore = group_explore
        self.dense_max = dense_max
        self.criterion = criterion
        self.power = power
        self._refit_every = refit_every
        self._estimate_prior = prior_sd is None
        self._ridge = 1.0 / ((prior_sd or INITIAL_PRIOR_SD) * ELO_TO_NATURAL) ** 2
        self._votes = _PairVotes()
        self._rounds = _RoundCounts()
        self._theta = np.zeros(0)
        self._pending = 0
        self._booked = 0  # virtual votes since the last refit
        self._fitted = False
        # State of the last refit, advanced by virtual votes: covariance, Fisher information of one
        # vote per pair, variance of each difference, the misorder-weight Laplacian and cov @ lap @ cov.
        empty: np.ndarray = np.zeros((0, 0))
        self._cov = self._info = self._var_d = self._lap = self._mm = empty
        # Diagonal mode: variances, the ranking (order and each name's position) and each name's
        # uncertainty mass (row sums of the misorder weights over its window).
        self._var = self._mass = np.zeros(0)
        self._order = self._pos = np.zeros(0, dtype=np.int64)
        # Normal scores of an outside score per name (seed_scores), 0 where there is none or for
        # names added after it.
        self._seed_z = np.zeros(0)
        super().__init__(models, seed=seed)

    @property
    def refit_every(self) -> int:
        return self._refit_every or max(4, len(self.models) // 2)

    def _grow(self, m: int) -> None:
        self._fitted = False  # the pair set changed: refit before serving

    def seed_scores(self, scores: Mapping[str, float]) -> None:
        idx, values = [], []
        for name, value in scores.items():
            k = self._idx(name)
            if np.isfinite(value):
                idx.append(k)
                values.append(float(value))
        z = np.zeros(len(self.models))
        if len(idx) >= 2:
            ranks = rankdata(values)  # normal scores of the ranks: the score's scale does not matter
            z[idx] = ndtri((ranks - 0.5) / len(idx))
        self._seed_z = z
        self._fitted = False

    def _prior_mean(self) -> np.ndarray | None:
        """Centre of the prior per name (natural scale), from ``seed_scores``; None without one."""
        if not self._seed_z.any():
            return None
        z = np.append(self._seed_z, np.zeros(len(self.models) - len(self._seed_z)))  # names added since
        mean: np.ndarray = SEED_SCORE_WEIGHT * z / np.sqrt(self._ridge)
        return mean

    def _record(self, a: np.ndarray, b: np.ndarray, code: np.ndarray) -> None:
        self._pending += len(a)
        self._votes.add(a, b, code)

    def _record_rounds(
        self, groups: np.ndarray, kinds: Sequence[RoundType], a: np.ndarray, b: np.ndarray
    ) -> None:
        if self._dense:  # only the full-covariance refit reads them; a pool never shrinks back
            self._rounds.add(groups, kinds, a, b)

    @property
    def _dense(self) -> bool:
        return len(self.models) <= self.dense_max

    def _padded_theta(self) -> np.ndarray:
        """Strengths of the last refit, 0 (the mean) for names added since."""
        m = len(self.models)
        if len(self._theta) < m:
            self._theta = np.append(self._theta, np.zeros(m - len(self._theta)))
        return self._theta

    @property
    def prior_sd(self) -> float:
        """The prior spread of strengths in use, Elo points (estimated unless fixed)."""
        return float(1.0 / np.sqrt(self._ridge) / ELO_TO_NATURAL)

    @property
    def ratings(self) -> dict[str, float]:
        """Current strength estimates on the Elo scale (mean 0), as of the last refit."""
        return {n: float(t / ELO_TO_NATURAL) for n, t in zip(self.models, self._padded_theta(), strict=True)}

    def refit(self) -> None:
        """Refit strengths, covariance and pair scores now (``next_pair`` does this lazily)."""
        if not self._dense:
            self._refit_diagonal()
            return
        decisive, draws = self._votes.matrices(len(self.models))
        counts = PairCounts.from_matrices(decisive, draws)
        mean = self._prior_mean()
        theta = fit_bt(
            counts, init=self._padded_theta(), reg=self._ridge, tol=1e-6, covariance=False, prior_mean=mean
        ).theta
        games = decisive + decisive.T + draws
        p = expit(theta[:, None] - theta[None, :])
        self._info = p * (1.0 - p)  # Fisher information of one more vote on the pair
        m = len(theta)
        # posterior precision: the pair votes' Laplacian, each four-image round's own information
        # (its rank-broken battles are not independent votes: read as such, a best-of-4 pick would
        # count about twice what it is worth) and the prior
        w = (games - self._rounds.games(m)) * self._info
        hess = np.diag(w.sum(axis=1) + self._ridge) - w + self._rounds.information(theta)
        with _one_blas_thread(m):  # small dense algebra: BLAS threads only wait on a busy machine
            cov = np.linalg.inv(hess)
            self._theta, self._cov = theta, cov
            self._pending = self._booked = 0
            dc = np.diag(cov)
            self._var_d = np.maximum(dc[:, None] + dc[None, :] - 2.0 * cov, 0.0)
            if self.criterion == "rank":
                safe = np.where(self._var_d > 0, self._var_d, 1.0)
                g = _misorder_weight(theta[:, None] - theta[None, :], safe)
                np.fill_diagonal(g, 0.0)
                self._lap = np.diag(g.sum(axis=1)) - g
                self._mm = cov @ self._lap @ cov
        if self._estimate_prior and m > 2 and games.any():
            self._update_prior(theta if mean is None else theta - mean, cov)
        self._fitted = True

    def _update_prior(self, theta: np.ndarray, cov: np.ndarray) -> None:
        """One EM step on the prior variance of the strength contrasts, for the next refit: the mean of
        E[(theta_i - prior mean_i)^2 | votes] over the m - 1 free directions (the overall level is not
        identified); ``theta`` comes already less the prior mean."""
        m = len(theta)
        theta = theta - theta.mean()
        centred_trace = float(np.trace(cov) - cov.sum() / m)
        var = (float(theta @ theta) + centred_trace) / (m - 1)
        lo, hi = (v * ELO_TO_NATURAL for v in PRIOR_SD_RANGE)
        self._ridge = 1.0 / min(max(var, lo * lo), hi * hi)

    def _scores(self) -> np.ndarray:
        """Value of one more vote on each pair (m x m, zero diagonal).

        ``rank``: a vote on (a, b) lowers the variance of every difference (i, j) by
        shrink * (c_i - c_j)^2 with c = cov @ (e_a - e_b) and shrink = info / (1 + info * var_ab).
        Weighting each (i, j) by how much its variance matters for its order and summing gives
        shrink * u^T (cov G cov) u, with G the Laplacian of the weights: O(1) per pair from ``_mm``.
        ``ci``: the drop of the pair's own standard deviation.
        """
        info, var_d = self._info, self._var_d
        shrink = info * var_d
        shrink += 1.0
        score: np.ndarray
        if self.criterion == "ci":
            score = np.sqrt(var_d) * (1.0 - 1.0 / np.sqrt(shrink))
        else:
            np.divide(info, shrink, out=shrink)
            dm = np.diag(self._mm)
            score = dm[:, None] + dm[None, :]
            score -= self._mm
            score -= self._mm
            score *= shrink
        np.maximum(score, 0.0, out=score)
        np.fill_diagonal(score, 0.0)
        return score

    def _virtual_vote(self, a: int, b: int) -> None:
        """Book one expected vote on (a, b): exact rank-one updates of the covariance, the difference
        variances and cov @ lap @ cov, holding the strengths and weights of the last refit."""
        self._booked += 1
        c = self._cov[:, a] - self._cov[:, b]
        k = self._info[a, b] / (1.0 + self._info[a, b] * (c[a] - c[b]))
        if self.criterion == "rank":
            # cov' = cov - k c c^T, so cov' G cov' = mm - (c s^T + s c^T) with
            # s = k cov G c - k^2 (c^T G c) c / 2
            lc = self._lap @ c
            s = self._cov @ lc
            s *= k
            s -= (0.5 * k * k * float(c @ lc)) * c
            cs = np.outer(c, s)
            self._mm -= cs
            self._mm -= cs.T
        cc = np.outer(c, c)
        cc *= k
        self._cov -= cc
        d = np.subtract.outer(c, c)
        np.square(d, out=d)
        d *= k
        self._var_d -= d
        np.maximum(self._var_d, 0.0, out=self._var_d)

    def _distribution(self, score: np.ndarray) -> np.ndarray:
        """Serving probabilities over all ordered index pairs (m x m, each unordered pair counted once)."""
        m = len(score)
        upper = np.triu(np.ones((m, m), dtype=bool), k=1)
        s = np.where(upper, score, 0.0)
        top = s.max(initial=0.0)
        if top <= 0.0:
            active = upper / upper.sum()
        elif np.isinf(self.power):
            best = s >= top
            active = best / best.sum()
        else:
            w = np.where(upper, (s / top) ** self.power, 0.0)
            active = w / w.sum()
        mixed: np.ndarray = (1.0 - self.explore) * active + self.explore * upper / upper.sum()
        return mixed

    def _ensure_fitted(self) -> None:
        # Served pairs whose votes never come back (abandoned matches) also trigger a refit, so their
        # virtual votes cannot pile up.
        if not self._fitted or self._pending >= self.refit_every or self._booked >= 4 * self.refit_every:
            self.refit()

    # -- groups -------------------------------------------------------------------------------------
    def _book(self, a: int, b: int) -> None:
        """Book a served comparison as a virtual vote, in whichever covariance mode is in use."""
        if self._dense:
            self._virtual_vote(a, b)
        else:
            self._virtual_diagonal(a, b)

    def next_group(self, size: int, round_type: RoundType | str | None = None) -> tuple[str, ...]:
        self._check_servable(size)
        if size == 2:
            return self.next_pair()
        rt = None if round_type is None else parse_round_type(round_type)
        self._ensure_fitted()
        self.last_probability = float("nan")
        exact = self._dense and self.criterion == "rank"
        group = None
        if self._rng.random() >= self.group_explore:
            if exact:
                group = self._best_group(size, rt)
            else:
                group = self._dense_group(size) if self._dense else self._diagonal_group(size)
        if group is None:  # exploration, or nothing left to learn
            group = self._uniform_group(size)
            if exact:
                self._book_group(np.array(group), rt)
            else:
                for x, a in enumerate(group):
                    for b in group[:x]:
                        self._book(a, b)
        return self._shown(group)

    def _candidate_groups(self, size: int) -> np.ndarray:
        """Groups worth scoring, (n, size) sorted indices: every ``size`` of the ``GROUP_WINDOW`` names
        ranked next to each other at each place of the current ranking (where the uncertain orders
        are), and ``GROUP_RANDOM`` uniform groups."""
        m = len(self.models)
        w = min(GROUP_WINDOW, m)
        order = np.argsort(self._theta, kind="stable")
        starts = np.arange(m - w + 1)
        subsets = np.array(list(itertools.combinations(range(w), size)))
        windows = order[starts[:, None, None] + subsets[None, :, :]].reshape(-1, size)
        randoms = np.array([self._uniform_group(size) for _ in range(GROUP_RANDOM)])
        groups = np.sort(np.concatenate([windows, randoms]), axis=1)
        unique: np.ndarray = np.unique(groups, axis=0)
        return unique

    def _group_gain(self, groups: np.ndarray, rt: RoundType | None) -> tuple[np.ndarray, np.ndarray]:
        """(value, K) per group: the expected drop in misordered pairs from one round on it, and the
        matrix K = (I + F A)^-1 F that books it, with F the round's information and A the groups'
        covariance block. The round lowers the covariance by C K C^T (C = cov[:, group]), so the
        weighted sum of difference variances drops by tr(K (cov G cov)[group, group])."""
        info = round_information(self._theta[groups], rt)
        block = self._cov[groups[:, :, None], groups[:, None, :]]
        weights = self._mm[groups[:, :, None], groups[:, None, :]]
        eye = np.eye(groups.shape[1])
        k = np.linalg.solve(eye + info @ block, info)
        k = 0.5 * (k + np.swapaxes(k, -1, -2))  # symmetric in exact arithmetic
        value: np.ndarray = np.einsum("nij,nji->n", k, weights)
        return value, k

    def _best_group(self, size: int, rt: RoundType | None) -> list[int] | None:
        """The candidate group whose round is worth most (full covariance)."""
        groups = self._candidate_groups(size)
        with _one_blas_thread(len(self.models)):
            value, k = self._group_gain(groups, rt)
        if value.max() <= 0.0:
            return None
        best = self._pick(value)
        self._book_round(groups[best], k[best])
        return [int(g) for g in groups[best]]

    def _book_group(self, group: np.ndarray, rt: RoundType | None) -> None:
        _, k = self._group_gain(np.sort(group)[None, :], rt)
        self._book_round(np.sort(group), k[0])

    def _book_round(self, group: np.ndarray, k: np.ndarray) -> None:
        """Book a served round as its expected information: cov' = cov - C K C^T, and the difference
        variances and cov G cov to match, holding the strengths and weights of the last refit."""
        self._booked += len(group) * (len(group) - 1) // 2
        c = self._cov[:, group]
        ck = c @ k
        lc = self._lap @ c
        # cov' G cov' = mm - R G cov - cov G R + R G R, with R = C K C^T
        rgc = ck @ (lc.T @ self._cov)
        self._mm -= rgc
        self._mm -= rgc.T
        self._mm += ck @ (lc.T @ c) @ ck.T
        self._cov -= ck @ c.T
        dc = np.diag(self._cov)
        self._var_d = np.maximum(dc[:, None] + dc[None, :] - 2.0 * self._cov, 0.0)

    def _pick(self, values: np.ndarray) -> int:
        """Index of the largest value, ties broken at random."""
        best = np.flatnonzero(values >= values.max())
        return int(best[0] if len(best) == 1 else self._rng.choice(best))

    def _dense_group(self, size: int) -> list[int] | None:
        """The best pair, then greedily the name worth most with those chosen (full covariance)."""
        m = len(self.models)
        tri = np.triu(self._scores(), k=1)
        if tri.max() <= 0.0:
            return None
        i, j = divmod(self._pick(tri.ravel()), m)
        group = [i, j]
        self._virtual_vote(i, j)
        while len(group) < size:
            total = self._scores()[:, group].sum(axis=1)
            total[group] = -np.inf
            c = self._pick(total)
            for g in group:
                self._virtual_vote(c, g)
            group.append(c)
        return group

    # -- diagonal mode (large pools) -----------------------------------------------------------------
    def _refit_diagonal(self) -> None:
        """Strengths by the same Bradley-Terry fit (on the pairs that met only), a diagonal Laplace
        variance per name, the ranking, and each name's uncertainty mass: O(votes + names * WINDOW)."""
        m = len(self.models)
        counts = self._votes.counts(m)
        theta = self._padded_theta()
        mean = self._prior_mean()
        if len(counts.i):
            # Newton while few names have votes (L-BFGS costs more there), L-BFGS beyond
            theta = fit_bt(
                counts,
                init=theta,
                reg=self._ridge,
                tol=1e-6,
                covariance=False,
                dense_limit=512,
                prior_mean=mean,
            ).theta
        elif mean is not None:
            theta = mean.copy()
        p = expit(theta[counts.i] - theta[counts.j])
        w = counts.n.sum(axis=1) * p * (1.0 - p)
        precision = np.bincount(counts.i, w, m) + np.bincount(counts.j, w, m) + self._ridge
        self._theta, self._var = theta, np.asarray(1.0 / precision, dtype=np.float64)
        self._order = np.argsort(theta, kind="stable")
        self._pos = np.empty(m, dtype=np.int64)
        self._pos[self._order] = np.arange(m)
        self._mass = self._masses(np.arange(m))
        self._pending = self._booked = 0
        if self._estimate_prior and m > 2 and len(counts.i):
            off = theta if mean is None else theta - mean
            off = off - off.mean()
            var = (float(off @ off) + float(self._var.sum())) / (m - 1)
            lo, hi = (v * ELO_TO_NATURAL for v in PRIOR_SD_RANGE)
            self._ridge = 1.0 / min(max(var, lo * lo), hi * hi)
        self._fitted = True

    def _window(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(neighbours, valid): for each item the names ranked up to WINDOW places above and below it."""
        m = len(self._order)
        w = min(WINDOW, m - 1)
        offsets = np.concatenate([np.arange(-w, 0), np.arange(1, w + 1)])
        at = self._pos[items][:, None] + offsets[None, :]
        valid = (at >= 0) & (at < m)
        return self._order[np.clip(at, 0, m - 1)], valid

    def _weights(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Misorder weight over the difference's variance for pairs (a, b): the diagonal of G."""
        var_d = self._var[a] + self._var[b]
        g: np.ndarray = _misorder_weight(self._theta[a] - self._theta[b], var_d)
        return g

    def _masses(self, items: np.ndarray) -> np.ndarray:
        neighbours, valid = self._window(items)
        g = self._weights(items[:, None], neighbours)
        mass: np.ndarray = np.where(valid, g, 0.0).sum(axis=1)
        return mass

    def _pair_values(self, a: int, cands: np.ndarray) -> np.ndarray:
        """Value of one more vote on (a, c) for each candidate c: the dense scores with the cross
        covariances dropped (``rank``: shrink * (v_a^2 S_a + v_c^2 S_c + 2 v_a v_c g_ac))."""
        var, theta = self._var, self._theta
        var_d = var[a] + var[cands]
        p = expit(theta[a] - theta[cands])
        info = p * (1.0 - p)
        if self.criterion == "ci":
            ci: np.ndarray = np.sqrt(var_d) * (1.0 - 1.0 / np.sqrt(1.0 + info * var_d))
            return ci
        spread = var[a] ** 2 * self._mass[a] + var[cands] ** 2 * self._mass[cands]
        spread += 2.0 * var[a] * var[cands] * self._weights(np.full(len(cands), a), cands)
        value: np.ndarray = info / (1.0 + info * var_d) * spread
        return value

    def _first(self) -> int:
        """The name whose own uncertainty matters most: where the best comparison starts."""
        return self._pick(self._var if self.criterion == "ci" else self._var**2 * self._mass)

    def _diagonal_group(self, size: int) -> list[int]:
        group = [self._first()]
        while len(group) < size:
            neighbours, valid = self._window(np.array(group))
            cands = np.setdiff1d(neighbours[valid], group)
            if not len(cands):  # every neighbour is taken: any other name
                cands = np.setdiff1d(np.arange(len(self.models)), group)
            total = sum(self._pair_values(g, cands) for g in group)
            c = int(cands[self._pick(np.asarray(total))])
            for g in group:
                self._virtual_diagonal(c, g)
            group.append(c)
        return group

    def _virtual_diagonal(self, a: int, b: int) -> None:
        """Book one expected vote on (a, b) in the diagonal mode: both variances shrink as a vote's
        Fisher information says, and the two names' uncertainty masses are recomputed."""
        self._booked += 1
        var = self._var
        p = float(expit(self._theta[a] - self._theta[b]))
        info = p * (1.0 - p)
        k = info / (1.0 + info * (var[a] + var[b]))
        var[a] -= k * var[a] ** 2
        var[b] -= k * var[b] ** 2
        both = np.array([a, b])
        self._mass[both] = self._masses(both)

    def _diagonal_pair(self) -> tuple[int, int, bool]:
        """(i, j, chosen actively) for ``next_pair`` in the diagonal mode."""
        if self._rng.random() < self.explore:
            i, j = self._uniform_group(2)
            self._virtual_diagonal(i, j)
            return i, j, False
        i, j = self._diagonal_group(2)
        return i, j, True

    def next_pair(self) -> tuple[str, str]:
        self._check_servable()
        self._ensure_fitted()
        m = len(self.models)
        n_pairs = m * (m - 1) // 2
        if not self._dense:
            i, j, active = self._diagonal_pair()
            self.last_probability = (1.0 - self.explore) * active + self.explore / n_pairs
            return self._ordered(i, j)
        tri = np.triu(self._scores(), k=1)
        top = float(tri.max())
        explore = self.explore if top > 0.0 else 1.0  # nothing left to learn: uniform
        if np.isinf(self.power):
            best = np.flatnonzero(tri >= top) if top > 0.0 else np.zeros(0, dtype=np.int64)
            weight = None
        else:
            weight = (tri / top) ** self.power if top > 0.0 else tri
            total = float(weight.sum())
        if self._rng.random() < explore:
            i = int(self._rng.integers(m))
            j = int(self._rng.integers(m - 1))
            j += j >= i
            i, j = min(i, j), max(i, j)
        else:
            if weight is None:
                k = int(best[0] if len(best) == 1 else self._rng.choice(best))
            else:
                cdf = np.cumsum(weight.ravel())
                k = min(int(np.searchsorted(cdf, self._rng.random() * cdf[-1], side="right")), m * m - 1)
            i, j = divmod(k, m)
        if weight is None:
            chosen = (1.0 - explore) / len(best) if top > 0.0 and tri[i, j] >= top else 0.0
        else:
            chosen = (1.0 - explore) * float(weight[i, j]) / total if total > 0 else 0.0
        self.last_probability = chosen + explore / n_pairs
        self._virtual_vote(i, j)
        return self._ordered(i, j)

    def pair_probability(self, model_a: str, model_b: str) -> float:
        self._check_servable()
        i, j = self._idx(model_a), self._idx(model_b)
        if i == j:
            return 0.0
        self._ensure_fitted()
        if not self._dense:
            m = len(self.models)
            first = int(np.argmax(self._var if self.criterion == "ci" else self._var**2 * self._mass))
            neighbours, valid = self._window(np.array([first]))
            cands = neighbours[valid]
            partner = int(cands[np.argmax(self._pair_values(first, cands))])
            active = {i, j} == {first, partner}
            return (1.0 - self.explore) * active + self.explore * 2.0 / (m * (m - 1))
        return float(self._distribution(self._scores())[min(i, j), max(i, j)])


#: Pair samplers by name. The built-ins are registered here and, like third-party ones, through the
#: ``imagearena.samplers`` entry point group; a factory takes ``(models, *, seed=None, **options)``.
samplers: Registry[Sampler[Battles]] = Registry("sampler", "imagearena.samplers")
samplers.register("uniform", UniformSampler)
samplers.register("active", ActiveSampler)


def make_sampler(
    name: str, models: Sequence[str], *, seed: int | None = None, **options: Any
) -> Sampler[Battles]:
    """Build a sampler by name (``uniform``, ``active`` or any registered one)."""
    return samplers.factory(name)(models, seed=seed, **options)
