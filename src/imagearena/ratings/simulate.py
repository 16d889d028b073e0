"""Simulated arenas: how fast does each pair sampler recover the true ranking?

True strengths are drawn on the Elo scale; a voter answers each pair by the Davidson model, the
Bradley-Terry model extended with draws (P(tie) = nu * sqrt(pi_a pi_b) / (pi_a + pi_b + nu * sqrt(pi_a
pi_b))), with nu calibrated so that about ``tie_rate`` of votes between uniformly chosen pairs are
draws (public image arenas report about a quarter). At each checkpoint the votes so far are fitted
with the leaderboard's Bradley-Terry fit (draws as half a win) and compared with the truth.

Four-image rounds (:func:`run_clicks`): the same crowd picks the best of four or orders four by
Plackett-Luce, and the budget is counted in human clicks (:data:`CLICKS`), so pairs, best-of-4 picks,
orders of four and a replay of Image Ranker's pair order can be compared per click.
Pure numpy/scipy: no files, no database.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import exp
from typing import Any

import numpy as np
from scipy.optimize import brentq

from imagearena.errors import InputError
from imagearena.ratings.bradley_terry import PairCounts, fit_bt
from imagearena.ratings.rounds import rank_break
from imagearena.ratings.sampling import make_sampler
from imagearena.ratings.trueskill import TrueSkillEnv, _replay_pairs
from imagearena.types import LOGIT_PER_ELO, Outcome, RoundType

#: A voter's answer code (see :meth:`DavidsonVoter.vote`) as the outcome a sampler observes.
_OUTCOMES = (Outcome.MODEL_A, Outcome.MODEL_B, Outcome.TIE)


def draw_strengths(n_models: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """True strengths on the Elo scale: normal with standard deviation ``spread``, mean 0."""
    return rng.normal(0.0, spread, size=n_models)


def _davidson(delta: np.ndarray, nu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(a wins), P(b wins), P(tie)) for natural-log strength differences ``delta = a - b``."""
    ea, eb = np.exp(delta / 2.0), np.exp(-delta / 2.0)
    den = ea + eb + nu
    return ea / den, eb / den, nu / den


def vote_information(delta: np.ndarray, nu: float) -> np.ndarray:
    """Fisher information about a strength difference ``delta`` (natural-log units) in one Davidson
    vote scored as the leaderboard scores it (win 1, draw 1/2, loss 0): slope^2 / variance of the
    score. Without draws it is p (1 - p); draws make votes between close models worth less, which is
    what caps the gain of serving close pairs."""
    ea, eb = np.exp(delta / 2.0), np.exp(-delta / 2.0)
    den = ea + eb + nu
    win, tie = ea / den, nu / den
    mean = win + 0.5 * tie
    slope = (1.0 + 0.25 * nu * (ea + eb)) / den**2
    return slope**2 / (win + 0.25 * tie - mean**2)


def davidson_nu(strengths: np.ndarray, tie_rate: float) -> float:
    """The Davidson draw parameter that gives ``tie_rate`` draws on average over all pairs."""
    if tie_rate <= 0.0:
        return 0.0
    if tie_rate >= 1.0:
        raise InputError(f"tie rate must be below 1, got {tie_rate}")
    i, j = np.triu_indices(len(strengths), k=1)
    delta = (strengths[i] - strengths[j]) * LOGIT_PER_ELO

    def gap(log_nu: float) -> float:
        return float(_davidson(delta, exp(log_nu))[2].mean()) - tie_rate

    return exp(brentq(gap, -30.0, 30.0))


class DavidsonVoter:
    """Answers pairs like a crowd whose preferences follow Bradley-Terry with Davidson draws."""

    def __init__(self, strengths: np.ndarray, nu: float, rng: np.random.Generator) -> None:
        self.strengths = strengths * LOGIT_PER_ELO
        self.nu = nu
        self._rng = rng

    def vote(self, i: int, j: int) -> int:
        """Outcome code: 0 (i wins), 1 (j wins) or 2 (tie)."""
        pa, pb, _ = _davidson(np.array([self.strengths[i] - self.strengths[j]]), self.nu)
        u = self._rng.random()
        return 0 if u < pa[0] else 1 if u < pa[0] + pb[0] else 2


def kendall_tau(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Kendall tau-a between two score vectors (tied estimates count as neither right nor wrong)."""
    i, j = np.triu_indices(len(truth), k=1)
    return float(np.mean(np.sign(truth[i] - truth[j]) * np.sign(estimate[i] - estimate[j])))


def top_k_overlap(truth: np.ndarray, estimate: np.ndarray, k: int) -> float:
    """Share of the true top ``k`` that the estimate also puts in its top ``k``."""
    k = min(k, len(truth))
    return len(set(np.argsort(-truth)[:k]) & set(np.argsort(-estimate)[:k])) / k


@dataclass(frozen=True)
class RunTrace:
    """One simulated arena: metrics at each checkpoint."""

    tau: np.ndarray
    top1: np.ndarray
    topk: np.ndarray
    ties: int
    votes: int


def run_arena(
    sampler: str,
    strengths: np.ndarray,
    nu: float,
    checkpoints: Sequence[int],
    *,
    seed: int,
    top_k: int = 5,
    sampler_options: dict[str, Any] | None = None,
    stream: int = 0,
) -> RunTrace:
    """Play ``sampler`` against a Davidson voter up to the last checkpoint. ``stream`` picks another
    random stream for the sampler and the voter with the same ``seed`` (an A/A control)."""
    m = len(strengths)
    names = [f"model-{k:03d}" for k in range(m)]
    index = {n: k for k, n in enumerate(names)}
    seq = np.random.SeedSequence(seed if stream == 0 else [seed, stream])
    sampler_seed, voter_seed = (int(s.generate_state(1)[0]) for s in seq.spawn(2))
    smp = make_sampler(sampler, names, seed=sampler_seed, **(sampler_options or {}))
    voter = DavidsonVoter(strengths, nu, np.random.default_rng(voter_seed))
    decisive, draws = np.zeros((m, m)), np.zeros((m, m))
    theta = np.zeros(m)
    stops = sorted(set(int(c) for c in checkpoints))
    tau, top1, topk = (np.zeros(len(stops)) for _ in range(3))
    best = int(np.argmax(strengths))
    done, ties = 0, 0
    for c, stop in enumerate(stops):
        while done < stop:
            left, right = smp.next_pair()
            i, j = index[left], index[right]
            code = voter.vote(i, j)
            smp.observe(left, right, _OUTCOMES[code])
            if code == 2:
                ties += 1
                draws[i, j] += 1
                draws[j, i] += 1
            else:
                decisive[(i, j) if code == 0 else (j, i)] += 1
            done += 1
        # the leaderboard's own fit (maximum likelihood with its tiny default ridge), warm-started
        theta = fit_bt(PairCounts.from_matrices(decisive, draws), init=theta, covariance=False).theta
        tau[c] = kendall_tau(strengths, theta)
        top1[c] = float(np.argmax(theta) == best)
        topk[c] = top_k_overlap(strengths, theta, top_k)
    return RunTrace(tau, top1, topk, ties, done)


def default_checkpoints(votes: int, count: int = 10) -> list[int]:
    """``count`` evenly spaced checkpoints ending at ``votes``."""
    return sorted({max(1, round(votes * k / count)) for k in range(1, count + 1)})


@dataclass(frozen=True)
class SimulationResult:
    """Metrics per sampler, seeds in rows and checkpoints in columns."""

    checkpoints: list[int]
    tau: dict[str, np.ndarray]
    top1: dict[str, np.ndarray]
    topk: dict[str, np.ndarray]
    tie_share: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)

    def votes_to_reach(self, sampler: str, target: float) -> np.ndarray:
        """Per seed, the first checkpoint where Kendall tau reaches ``target`` (NaN if never)."""
        hit = self.tau[sampler] >= target
        first = np.argmax(hit, axis=1)
        cps = np.asarray(self.checkpoints, dtype=float)
        return np.where(hit.any(axis=1), cps[first], np.nan)

    def summary(self) -> dict[str, Any]:
        """Plain data for JSON output: mean metrics per sampler and checkpoint."""
        out: dict[str, Any] = {"settings": self.settings, "checkpoints": self.checkpoints, "samplers": {}}
        for name in self.tau:
            rows = []
            for c, votes in enumerate(self.checkpoints):
                rows.append(
                    {
                        "votes": votes,
                        "kendall_tau": round(float(self.tau[name][:, c].mean()), 4),
                        "kendall_tau_median": round(float(np.median(self.tau[name][:, c])), 4),
                        "top1": round(float(self.top1[name][:, c].mean()), 4),
                        "topk": round(float(self.topk[name][:, c].mean()), 4),
                    }
                )
            reach = np.median(np.nan_to_num(self.votes_to_reach(name, 0.9), nan=np.inf))
            out["samplers"][name] = {
                "checkpoints": rows,
                "tie_share": round(self.tie_share[name], 4),
                # None when fewer than half the seeds reach it by the last checkpoint
                "median_votes_to_tau_0.9": float(reach) if np.isfinite(reach) else None,
            }
        return out


def simulate(
    *,
    models: int = 30,
    votes: int = 5000,
    samplers: Sequence[str] = ("active", "uniform"),
    seeds: int = 20,
    first_seed: int = 0,
    tie_rate: float = 0.25,
    spread: float = 100.0,
    checkpoints: Sequence[int] | None = None,
    top_k: int = 5,
    sampler_options: dict[str, dict[str, Any]] | None = None,
    stream: int = 0,
) -> SimulationResult:
    """Run every sampler on the same ``seeds`` arenas (same true strengths per seed) and collect metrics.

    ``stream`` changes the random draws of samplers and voter but not the true strengths: comparing
    a sampler with itself on another stream shows how much of a difference is noise.
    """
    if models < 2:
        raise InputError(f"a simulation needs at least 2 models, got {models}")
    if votes < 1 or seeds < 1:
        raise InputError("votes and seeds must be at least 1")
    if not 0.0 <= tie_rate < 1.0:
        raise InputError(f"tie rate must be in [0, 1), got {tie_rate}")
    if spread <= 0:
        raise InputError(f"spread must be positive, got {spread}")
    cps = default_checkpoints(votes) if not checkpoints else sorted(set(int(c) for c in checkpoints))
    if cps[0] < 1 or cps[-1] > votes:
        raise InputError(f"checkpoints must lie between 1 and --votes ({votes}), got {cps}")
    tau: dict[str, np.ndarray] = {}
    top1: dict[str, np.ndarray] = {}
    topk: dict[str, np.ndarray] = {}
    tie_share: dict[str, float] = {}
    for name in samplers:
        tau[name], top1[name], topk[name] = (np.zeros((seeds, len(cps))) for _ in range(3))
        n_ties = 0
        for s in range(seeds):
            seed = first_seed + s
            strengths = draw_strengths(models, spread, np.random.default_rng([seed, 1]))
            nu = davidson_nu(strengths, tie_rate)
            trace = run_arena(
                name,
                strengths,
                nu,
                cps,
                seed=seed,
                top_k=top_k,
                sampler_options=(sampler_options or {}).get(name),
                stream=stream,
            )
            tau[name][s], top1[name][s], topk[name][s] = trace.tau, trace.top1, trace.topk
            n_ties += trace.ties
        tie_share[name] = n_ties / (seeds * cps[-1])
    settings = {
        "models": models,
        "votes": cps[-1],
        "seeds": seeds,
        "first_seed": first_seed,
        "tie_rate": tie_rate,
        "spread": spread,
        "top_k": top_k,
    }
    return SimulationResult(cps, tau, top1, topk, tie_share, settings)


# -- four-image rounds and label efficiency ----------------------------------------------------------

#: Human clicks per round: a pair vote and a best-of-4 pick are one click each; an order of four takes
#: three (the best, the next, the next; the last image follows).
CLICKS: dict[RoundType, int] = {RoundType.PAIR: 1, RoundType.BEST4: 1, RoundType.ORDER4: 3}


class RoundVoter(DavidsonVoter):
    """A crowd on hidden strengths for every round type: pairs by the Davidson model (draws), a best of
    four picked with Plackett-Luce probability (softmax of the strengths), an order of four drawn
    from Plackett-Luce (the strengths plus Gumbel noise, sorted). Four-image rounds have no ties: the
    crowd always names a best and an order."""

    def best4(self, idx: Sequence[int]) -> list[int]:
        """Ranks in display order: 1 for the pick, 2 for the others."""
        theta = self.strengths[list(idx)]
        p = np.exp(theta - theta.max())
        pick = int(self._rng.choice(len(idx), p=p / p.sum()))
        return [1 if k == pick else 2 for k in range(len(idx))]

    def order4(self, idx: Sequence[int]) -> list[int]:
        """Ranks in display order of a Plackett-Luce order (Gumbel-max: sorting perturbed strengths)."""
        keys = self.strengths[list(idx)] + self._rng.gumbel(size=len(idx))
        ranks = np.empty(len(idx), dtype=np.int64)
        ranks[np.argsort(-keys)] = np.arange(1, len(idx) + 1)
        return [int(r) for r in ranks]


class ImageRankerReplay:
    """The pair order of Image Ranker (github.com/QuentinWach/image-ranker, ``app.py``), replayed as a
    sampler, with its TrueSkill ratings: the images are shuffled; first a ring pass (each image against
    the next, the ring's pairs shuffled), then every other pair in combination order; "smart shuffle"
    re-sorts the pairs not yet shown by TrueSkill mu difference plus 0.8 x the two images' comparison
    counts, smallest first. The app leaves smart shuffle to a button; the replay presses it after the
    ring pass and then every ``len(models)`` clicks. The app stops once every pair was shown; the replay
    starts another pass (new shuffle, ring, all pairs). The app has no tie button: a tie here is a
    TrueSkill draw."""

    def __init__(self, models: Sequence[str], *, seed: int | None = None) -> None:
        self.models = list(models)
        self._index = {name: k for k, name in enumerate(self.models)}
        self._rng = np.random.default_rng(seed)
        m = len(self.models)
        self.mu = [25.0] * m
        self._var = [(25.0 / 3.0) ** 2] * m
        self._count = [0] * m
        self._env = TrueSkillEnv()
        self._queue: list[tuple[int, int]] = []
        self._next = 0
        self._clicks = 0
        self._new_pass()

    def _new_pass(self) -> None:
        m = len(self.models)
        order = self._rng.permutation(m).tolist()
        ring = [(order[k], order[(k + 1) % m]) for k in range(m)]
        ring = [ring[k] for k in self._rng.permutation(m).tolist()]
        in_ring = set(ring)
        rest = [(x, y) for x, y in itertools.combinations(order, 2) if (x, y) not in in_ring]
        self._queue, self._next, self._ring_end = ring + rest, 0, m

    def _smart_shuffle(self) -> None:
        mu, count = self.mu, self._count
        rest = self._queue[self._next :]
        rest.sort(key=lambda p: abs(mu[p[0]] - mu[p[1]]) + 0.8 * (count[p[0]] + count[p[1]]))
        self._queue, self._next, self._ring_end = rest, 0, 0

    def next_pair(self) -> tuple[str, str]:
        if self._next >= len(self._queue):
            self._new_pass()
        m = len(self.models)
        if self._next >= self._ring_end and self._clicks >= m and self._clicks % m == 0:
            self._smart_shuffle()
        i, j = self._queue[self._next]
        self._next += 1
        return self.models[i], self.models[j]

    def observe(self, model_a: str, model_b: str, winner: str) -> None:
        i, j = self._index[model_a], self._index[model_b]
        self._clicks += 1
        self._count[i] += 1
        self._count[j] += 1
        code = Outcome(winner).code
        _replay_pairs(self.mu, self._var, [i], [j], [code], self._env)


#: Strategies of :func:`run_clicks`: a sampler (``uniform``, ``active`` or ``imageranker``) and a round type.
STRATEGIES: dict[str, tuple[str, RoundType]] = {
    "uniform-pair": ("uniform", RoundType.PAIR),
    "imageranker": ("imageranker", RoundType.PAIR),
    "active-pair": ("active", RoundType.PAIR),
    "uniform-best4": ("uniform", RoundType.BEST4),
    "active-best4": ("active", RoundType.BEST4),
    "uniform-order4": ("uniform", RoundType.ORDER4),
    "active-order4": ("active", RoundType.ORDER4),
}


@dataclass(frozen=True)
class ClickTrace:
    """One simulated ranking session: Kendall tau of the leaderboard's Bradley-Terry fit (on the
    rank-broken battles) at each click checkpoint, and for Image Ranker also of its own TrueSkill mu."""

    tau: np.ndarray
    own_tau: np.ndarray | None
    rounds: int


def run_clicks(
    strategy: str,
    strengths: np.ndarray,
    nu: float,
    checkpoints: Sequence[int],
    *,
    seed: int,
    sampler_options: dict[str, Any] | None = None,
) -> ClickTrace:
    """Play ``strategy`` (a key of :data:`STRATEGIES`) against a :class:`RoundVoter` until the last
    checkpoint, counting human clicks (:data:`CLICKS`). A checkpoint is read after the first round that
    reaches it, so an order of four may pass one by up to two clicks."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    kind, rt = STRATEGIES[strategy]
    m = len(strengths)
    names = [f"model-{k:03d}" for k in range(m)]
    index = {n: k for k, n in enumerate(names)}
    sampler_seed, voter_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2))
    if kind == "imageranker":
        smp: Any = ImageRankerReplay(names, seed=sampler_seed)
    else:
        smp = make_sampler(kind, names, seed=sampler_seed, **(sampler_options or {}))
    voter = RoundVoter(strengths, nu, np.random.default_rng(voter_seed))
    decisive, draws = np.zeros((m, m)), np.zeros((m, m))
    theta = np.zeros(m)
    stops = sorted(set(int(c) for c in checkpoints))
    tau = np.zeros(len(stops))
    own = np.zeros(len(stops)) if kind == "imageranker" else None
    clicks = rounds = c = 0
    cost = CLICKS[rt]
    while c < len(stops):
        if rt is RoundType.PAIR:
            left, right = smp.next_pair()
            i, j = index[left], index[right]
            code = voter.vote(i, j)
            smp.observe(left, right, _OUTCOMES[code])
            if code == 2:
                draws[i, j] += 1
                draws[j, i] += 1
            else:
                decisive[(i, j) if code == 0 else (j, i)] += 1
        else:
            group = smp.next_group(4, rt)
            idx = [index[g] for g in group]
            ranks = voter.best4(idx) if rt is RoundType.BEST4 else voter.order4(idx)
            smp.observe_round(group, ranks, rt)
            for x, y, outcome in rank_break(rt, ranks):
                i, j = idx[x], idx[y]
                if outcome is Outcome.TIE:
                    draws[i, j] += 1
                    draws[j, i] += 1
                else:
                    decisive[(i, j) if outcome is Outcome.MODEL_A else (j, i)] += 1
        clicks += cost
        rounds += 1
        while c < len(stops) and clicks >= stops[c]:
            theta = fit_bt(PairCounts.from_matrices(decisive, draws), init=theta, covariance=False).theta
            tau[c] = kendall_tau(strengths, theta)
            if own is not None:
                own[c] = kendall_tau(strengths, np.asarray(smp.mu))
            c += 1
    return ClickTrace(tau, own, rounds)


__all__ = [
    "CLICKS",
    "STRATEGIES",
    "ClickTrace",
    "DavidsonVoter",
    "ImageRankerReplay",
    "RoundVoter",
    "SimulationResult",
    "davidson_nu",
    "default_checkpoints",
    "draw_strengths",
    "kendall_tau",
    "run_arena",
    "run_clicks",
    "simulate",
    "top_k_overlap",
    "vote_information",
]
