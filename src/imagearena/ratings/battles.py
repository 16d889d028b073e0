"""Columnar battles: the one input every rating method reads.

Battles are kept as parallel integer arrays (model indices and outcome codes) rather than a list of
objects, so a million votes cost a few megabytes and every method can aggregate them with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from imagearena.errors import InputError
from imagearena.types import Battle, Outcome

#: :attr:`Battles.group` of a pair vote: it belongs to no four-image round.
NO_GROUP = -1

#: Outcome codes stored in :attr:`Battles.outcome` (:attr:`imagearena.types.Outcome.code`).
MODEL_A, MODEL_B, TIE, BOTH_BAD = (o.code for o in Outcome)

#: Winner strings accepted in input, mapped to outcome codes. ``tie (bothbad)`` is how the public
#: Chatbot Arena logs spell ``both_bad``; accepting it lets those logs load unchanged.
OUTCOME_CODES: dict[str, int] = {o.value: o.code for o in Outcome} | {"tie (bothbad)": BOTH_BAD}
#: Outcomes by code.
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)


def _winner_error(row: int, value: object) -> InputError:
    allowed = ", ".join(o.value for o in OUTCOMES)
    return InputError(f"row {row}: unknown winner {value!r}; use one of {allowed}")


def _self_play_error(row: int, model: str) -> InputError:
    return InputError(f"row {row}: model {model!r} plays itself; each battle needs two different models")


@dataclass(frozen=True, eq=False)
class Battles:
    """Battles as parallel arrays.

    ``models`` names the contestants; ``a[i]`` and ``b[i]`` index into it; ``outcome[i]`` is 0 (model_a
    wins), 1 (model_b wins), 2 (tie) or 3 (both_bad); ``tstamp`` (seconds, optional) orders the online
    methods, which otherwise replay in the given (file) order. ``group`` (optional, int64) is
    :data:`NO_GROUP` (-1) for a pair vote and otherwise the id of the four-image round the battle was
    rank-broken from; the battles of one round are contiguous and share the id, so TrueSkill can rate
    them as one multi-way update while Elo and Bradley-Terry read them as plain pairs. Row numbers in
    error messages are 1-based positions in the input, so they match a JSONL line or a CSV data row.
    """

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    tstamp: np.ndarray | None = None
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        # accept any integer sequences; arrays already of the right dtype are not copied
        object.__setattr__(self, "a", np.asarray(self.a, dtype=np.int32))
        object.__setattr__(self, "b", np.asarray(self.b, dtype=np.int32))
        object.__setattr__(self, "outcome", np.asarray(self.outcome, dtype=np.int8))
        if self.tstamp is not None:
            object.__setattr__(self, "tstamp", np.asarray(self.tstamp, dtype=np.float64))
        if self.group is not None:
            object.__setattr__(self, "group", np.asarray(self.group, dtype=np.int64))
        n = len(self.a)
        if (
            len(self.b) != n
            or len(self.outcome) != n
            or (self.tstamp is not None and len(self.tstamp) != n)
            or (self.group is not None and len(self.group) != n)
        ):
            raise InputError("battle columns have different lengths")

    def __len__(self) -> int:
        return len(self.a)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def has_groups(self) -> bool:
        """Whether any battle comes from a four-image round."""
        return self.group is not None and bool(np.any(self.group != NO_GROUP))

    def groups(self) -> np.ndarray:
        """The group column, :data:`NO_GROUP` everywhere when the battles carry none."""
        if self.group is None:
            return np.full(len(self), NO_GROUP, dtype=np.int64)
        return self.group

    def take(self, index: np.ndarray | slice) -> Battles:
        """The battles at ``index`` (an index array, a boolean mask or a slice), same models, every
        column kept; a prefix in replay order is ``take(order()[:k])``."""
        return Battles(
            self.models,
            self.a[index],
            self.b[index],
            self.outcome[index],
            None if self.tstamp is None else self.tstamp[index],
            None if self.group is None else self.group[index],
        )

    @classmethod
    def concat(cls, parts: Sequence[Battles]) -> Battles:
        """Battles of ``parts`` one after another (pair votes and rank-broken rounds, say).

        Models are the union: kept as they are when every part names the same list, sorted otherwise.
        tstamps are kept only if every non-empty part has them; groups are kept if any part has them
        (pair votes of the others get :data:`NO_GROUP`).
        """
        if not parts:
            return cls.empty()
        first = parts[0].models
        if all(p.models == first for p in parts):
            models = list(first)
        else:
            models = sorted(set().union(*(p.models for p in parts)))
        index = {m: i for i, m in enumerate(models)}
        a, b = [], []
        for p in parts:
            lookup = np.fromiter(map(index.__getitem__, p.models), dtype=np.int32, count=len(p.models))
            a.append(lookup[p.a])
            b.append(lookup[p.b])
        filled = [p for p in parts if len(p)]
        ts = None
        if filled and all(p.tstamp is not None for p in filled):
            ts = np.concatenate([p.tstamp for p in filled if p.tstamp is not None])
        group = None
        if any(p.group is not None for p in parts):
            group = np.concatenate([p.groups() for p in parts])
        return cls(
            models,
            np.concatenate(a),
            np.concatenate(b),
            np.concatenate([p.outcome for p in parts]),
            ts,
            group,
        )

    @classmethod
    def from_records(
        cls,
        model_a: Sequence[str],
        model_b: Sequence[str],
        winner: Sequence[str],
        tstamp: Sequence[float | None] | None = None,
        *,
        first_row: int = 1,
        group: Sequence[int | None] | None = None,
    ) -> Battles:
        """Build from columns of strings; validates winners and self-play, naming the offending row.

        ``first_row`` is the number the first record gets in error messages (a CSV reader passes 2 when
        line 1 is the header). ``group`` (optional) is each battle's four-image round id, None or -1 for
        a pair vote (a battle log's ``round_id`` column).
        """
        n = len(model_a)
        if (
            len(model_b) != n
            or len(winner) != n
            or (tstamp is not None and len(tstamp) != n)
            or (group is not None and len(group) != n)
        ):
            raise InputError("model_a, model_b, winner, tstamp and group columns have different lengths")
        names = set(model_a).union(model_b)
        if not all(isinstance(x, str) and x for x in names):
            bad = next(
                i
                for i in range(n)
                if not (
                    isinstance(model_a[i], str) and model_a[i] and isinstance(model_b[i], str) and model_b[i]
                )
            )
            raise InputError(
                f"row {bad + first_row}: model names must be non-empty strings, "
                f"got model_a={model_a[bad]!r}, model_b={model_b[bad]!r}"
            )
        models = sorted(names)
        index = {m: i for i, m in enumerate(models)}
        a = np.fromiter(map(index.__getitem__, model_a), dtype=np.int32, count=n)
        b = np.fromiter(map(index.__getitem__, model_b), dtype=np.int32, count=n)
        codes = OUTCOME_CODES
        try:
            outcome = np.fromiter(map(codes.__getitem__, winner), dtype=np.int8, count=n)
        except (KeyError, TypeError):
            bad = next(i for i in range(n) if not isinstance(winner[i], str) or winner[i] not in codes)
            raise _winner_error(bad + first_row, winner[bad]) from None
        same = np.flatnonzero(a == b)
        if len(same):
            raise _self_play_error(int(same[0]) + first_row, models[a[same[0]]])
        ts = None
        if tstamp is not None:
            ts = _to_tstamp(tstamp, first_row)
        return cls(models, a, b, outcome, ts, None if group is None else _to_group(group, first_row))

    @classmethod
    def from_battles(cls, battles: Iterable[Battle]) -> Battles:
        """Build from :class:`imagearena.types.Battle` objects; tstamps are kept only if every battle has one."""
        rows = list(battles)
        winners = [b.winner.value if isinstance(b.winner, Outcome) else b.winner for b in rows]
        ts = [b.tstamp for b in rows]
        has_ts = bool(rows) and all(t is not None for t in ts)
        return cls.from_records(
            [b.model_a for b in rows], [b.model_b for b in rows], winners, ts if has_ts else None
        )

    @classmethod
    def empty(cls, models: Sequence[str] = ()) -> Battles:
        """No battles yet (a fresh study still has a leaderboard of unrated models)."""
        z = np.zeros(0, dtype=np.int32)
        return cls(list(models), z, z.copy(), np.zeros(0, dtype=np.int8), None)

    def order(self) -> np.ndarray:
        """Replay order for online methods: stable sort by tstamp, or the given order without tstamps."""
        if self.tstamp is None:
            return np.arange(len(self), dtype=np.int64)
        return np.argsort(self.tstamp, kind="stable")

    def replay_chunks(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(a, b, outcome) slices in replay order, ``size`` battles at a time; without tstamps no index
        array is built, so online methods hold only one chunk beyond the input arrays."""
        order = None if self.tstamp is None else self.order()
        for start in range(0, len(self), size):
            if order is None:
                sl: slice | np.ndarray = slice(start, start + size)
            else:
                sl = order[start : start + size]
            yield self.a[sl], self.b[sl], self.outcome[sl]

    def to_battles(self) -> list[Battle]:
        """Back to :class:`Battle` objects (for small sets: exports, tests)."""
        ts = self.tstamp.tolist() if self.tstamp is not None else [None] * len(self)
        m = self.models
        return [
            Battle(m[i], m[j], OUTCOMES[o], t)
            for i, j, o, t in zip(self.a.tolist(), self.b.tolist(), self.outcome.tolist(), ts, strict=True)
        ]

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-model (votes, wins, losses, ties); ties counts both tie and both_bad."""
        m = self.n_models
        # counts per (model, outcome code) for each side, in chunks to keep temporaries small
        as_a = np.zeros(4 * m, dtype=np.int64)
        as_b = np.zeros(4 * m, dtype=np.int64)
        for start in range(0, len(self), 1 << 18):
            sl = slice(start, start + (1 << 18))
            o = self.outcome[sl]
            as_a += np.bincount(self.a[sl].astype(np.int64) * 4 + o, minlength=4 * m)
            as_b += np.bincount(self.b[sl].astype(np.int64) * 4 + o, minlength=4 * m)
        ca, cb = as_a.reshape(m, 4), as_b.reshape(m, 4)
        votes = ca.sum(axis=1) + cb.sum(axis=1)
        wins = ca[:, MODEL_A] + cb[:, MODEL_B]
        losses = ca[:, MODEL_B] + cb[:, MODEL_A]
        return votes, wins, losses, votes - wins - losses


def _to_group(values: Sequence[int | None], first_row: int) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if v is None:
            out[i] = NO_GROUP
        elif isinstance(v, bool) or not isinstance(v, int | np.integer) or v < NO_GROUP:
            raise InputError(
                f"row {i + first_row}: round id {v!r} is not a round id; give a non-negative integer, "
                "or none for a pair vote"
            )
        else:
            out[i] = v
    return out


def _to_tstamp(values: Sequence[float | None], first_row: int) -> np.ndarray:
    try:
        ts = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        ts = None
    if ts is None or ts.ndim != 1 or np.isnan(ts).any():
        for i, v in enumerate(values):
            try:
                ok = v is not None and not np.isnan(float(v))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(
                    f"row {i + first_row}: tstamp {v!r} is not a number; give every row a tstamp, or none"
                )
    assert ts is not None
    return ts
