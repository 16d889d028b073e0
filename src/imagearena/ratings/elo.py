"""Online Elo: base 10, scale 400, initial 1000, ties and both_bad count as half a win.

The replay is a plain Python loop over lists: each update depends on the previous one, so it cannot be
vectorised, and a scalar loop over Python floats is faster than indexing numpy arrays element by
element (measured by benchmarks/bench_ratings.py: benchmarks/README.md, "bench_ratings.py", online Elo).
"""

from __future__ import annotations

import numpy as np

from imagearena.ratings.battles import Battles
from imagearena.types import ELO_SCALE, Outcome

#: Score of model_a for each outcome code: 1 when it wins, 0 when it loses, a half for a draw.
SCORE_A = tuple(0.5 if o.is_draw else float(o is Outcome.MODEL_A) for o in Outcome)
#: Battles converted to Python lists at a time: bounds memory whatever the battle count.
CHUNK = 1 << 16


def online_elo(
    battles: Battles,
    *,
    k: float = 32.0,
    base: float = 10.0,
    scale: float = ELO_SCALE,
    initial: float = 1000.0,
) -> np.ndarray:
    """Ratings after replaying ``battles`` in tstamp order (file order without tstamps); one per model."""
    from math import exp

    r = [float(initial)] * battles.n_models
    # 1 / (1 + base ** ((rb - ra) / scale)) == 1 / (1 + exp(c * (rb - ra)))
    c = float(np.log(base)) / scale
    score = SCORE_A
    for ca, cb, co in battles.replay_chunks(CHUNK):  # chunks keep the Python lists small
        for i, j, o in zip(ca.tolist(), cb.tolist(), co.tolist(), strict=True):
            ri = r[i]
            rj = r[j]
            d = k * (score[o] - 1.0 / (1.0 + exp(c * (rj - ri))))
            r[i] = ri + d
            r[j] = rj - d
    return np.asarray(r, dtype=np.float64)
