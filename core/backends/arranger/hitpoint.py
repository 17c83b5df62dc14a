"""Hit points: the held parts draw back for an instant before each cut's hit.

A hit heard on a cut is a change, and a change needs room: an arranger
writing to picture leaves a breath before the hit point (the ensemble's
short rest before a "kick", the trailer's suck-back before an impact), so
the hit lands on a cleared floor instead of on top of a held chord. Here
the sustained parts (bass, harmony, pad, lead; the drums and the form's
risers and fills keep going into the cut) dip by the style's
:attr:`~vidmusician.core.styles.MixSpec.hit_dip_db` in the last moment
before each hit of the form (``Score.hits``: impacts fully, crashes and
stabs by :data:`PLAIN_SHARE`), and are back at full level on the hit:

- the dip lasts :data:`PRE_S`, or :data:`SHARE_OF_GAP` of the time since
  the previous hit when hits come faster (a montage: shorter breaths);
- it falls along a raised cosine over its first :data:`FALL_SHARE` and
  rises over the last :data:`RISE_S` before the hit.

The gain is computed from the sample index alone, so blocks
(:func:`.render.render_long`) agree with the whole signal sample for sample.
"""

from __future__ import annotations

import math

import numpy as np

from ... import units

SR = units.OUTPUT_SR
#: the longest dip before a hit (s)
PRE_S = 0.09
#: when hits come faster, the dip takes at most this share of the time since the previous hit
SHARE_OF_GAP = 0.4
#: the share of the dip spent falling to its depth
FALL_SHARE = 0.25
#: the rise back to full level, ending on the hit (s)
RISE_S = 0.006
#: the depth (of the style's) before a crash or a stab; an impact gets all of it
PLAIN_SHARE = 0.7
#: the parts that dip
DIPPED = ("bass", "harmony", "pad", "lead")
DIPS_BEFORE = {"impact": 1.0, "crash": PLAIN_SHARE, "stab": PLAIN_SHARE}


def dips(hits: list[tuple[float, str]], depth_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dips of ``hits`` ((time s, kind), as ``Score.hits``): their hit
    times (s), lengths (s) and depths (dB), sorted by time."""
    times = sorted((float(t), DIPS_BEFORE[k]) for t, k in hits if k in DIPS_BEFORE)
    if depth_db <= 0 or not times:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    at = np.array([t for t, _ in times])
    gaps = np.diff(at, prepend=-np.inf)
    length = np.minimum(PRE_S, SHARE_OF_GAP * gaps)
    length = np.minimum(length, at)  # nothing before the music's start
    return at, length, depth_db * np.array([s for _, s in times])


def gain(plan: tuple[np.ndarray, np.ndarray, np.ndarray], a: int, b: int) -> np.ndarray:
    """The held parts' gain (float32) on samples ``[a, b)`` for the dips
    ``plan`` (:func:`dips`); 1 away from them, the deeper where two overlap."""
    m = max(0, b - a)
    out = np.ones(m, np.float64)
    at, length, depth = plan
    if m == 0 or len(at) == 0:
        return out.astype(np.float32)
    end_s = at
    lo_k, hi_k = np.searchsorted(end_s, [a / SR, (b / SR) + PRE_S])
    for k in range(lo_k, min(hi_k + 1, len(at))):
        t1, span, d = float(at[k]), float(length[k]), float(depth[k])
        if span <= 0 or d <= 0:
            continue
        s0, s1 = int(math.floor((t1 - span) * SR)), int(math.ceil(t1 * SR))
        lo, hi = max(a, s0), min(b, s1)
        if hi <= lo:
            continue
        t = np.arange(lo, hi) / SR - (t1 - span)  # time into the dip
        fall, rise = FALL_SHARE * span, min(RISE_S, 0.5 * span)
        into = np.clip(t / fall, 0.0, 1.0)
        out_of = np.clip((span - t) / rise, 0.0, 1.0)
        shape = np.minimum(0.5 - 0.5 * np.cos(math.pi * into), 0.5 - 0.5 * np.cos(math.pi * out_of))
        g = 10 ** (-d * shape / 20)
        np.minimum(out[lo - a : hi - a], g, out=out[lo - a : hi - a])
    return out.astype(np.float32)
