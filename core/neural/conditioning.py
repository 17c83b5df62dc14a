"""What the neural backend's two paths read, from the analysis (numpy only).

- :func:`semantic` — one vector per second of picture: CLIP [CLS] embeddings
  when a CLIP checkpoint ran, otherwise the analysis' shot descriptors
  (:data:`DESCRIPTOR_KEYS`, the mood and a one-hot style) of the shot under
  that second.
- :func:`rhythm` — per step at the token rate: the picture's change
  ``d_t = 1 - cos(p_t, p_{t-1})`` (``d_0 = 1``) of per-frame features ``p_t``
  (the motion curve's magnitude, camera and object motion and direction, at
  25 fps), and the timeline's hard cuts as unit impulses; two channels.
"""

from __future__ import annotations

import numpy as np

from ..analysis.semantics import STYLES
from ..model import VideoFeatures
from ..rhythm import hard_cut_times

#: The shot descriptors in the semantic vector, in order (then valence, arousal, analysed, style one-hot).
DESCRIPTOR_KEYS = (
    "brightness",
    "contrast",
    "saturation",
    "colourfulness",
    "warmth",
    "faces",
    "motion_level",
    "camera_motion",
    "object_motion",
    "cut_rate",
)
DESCRIPTOR_DIM = len(DESCRIPTOR_KEYS) + 3 + len(STYLES)


def descriptor_vector(f: object) -> np.ndarray:
    """One shot's descriptor vector (:data:`DESCRIPTOR_DIM` floats)."""
    d = getattr(f, "descriptors", {})
    v = [float(d.get(k, 0.0)) for k in DESCRIPTOR_KEYS]
    v[DESCRIPTOR_KEYS.index("cut_rate")] /= 60.0  # cuts per minute -> per second
    v += [
        float(getattr(f, "valence", 0.0)),
        float(getattr(f, "arousal", 0.0)),
        float(getattr(f, "analysed", 0)),
    ]
    style = getattr(f, "style", "")
    v += [1.0 if style == s else 0.0 for s in STYLES]
    return np.asarray(v, np.float32)


def semantic(feats: VideoFeatures, use_clip: bool = True) -> tuple[np.ndarray, str]:
    """([seconds, dim] vectors, ``"clip"`` or ``"descriptors"``), one row per second."""
    n = max(1, int(np.ceil(feats.timeline.duration_s)))
    if use_clip and feats.clip is not None and len(feats.clip.cls):
        times = np.asarray(feats.clip.times_s, float)
        idx = np.clip(np.searchsorted(times, np.arange(n) + 0.5) - 1, 0, len(times) - 1)
        return np.asarray(feats.clip.cls, np.float32)[idx], "clip"
    shots = feats.timeline.shots
    vecs = [descriptor_vector(f) for f in feats.shots]
    out = np.zeros((n, DESCRIPTOR_DIM), np.float32)
    for sec in range(n):
        t = sec + 0.5
        k = next((i for i, s in enumerate(shots) if s.start_s <= t < s.end_s), len(shots) - 1)
        if vecs:
            out[sec] = vecs[min(k, len(vecs) - 1)]
    return out, "descriptors"


def change_curve(p: np.ndarray) -> np.ndarray:
    """``d_t = 1 - cos(p_t, p_{t-1})`` with ``d_0 = 1`` for per-frame features
    ``p`` [frames, dims]; 0 where both frames are still (zero vectors)."""
    p = np.asarray(p, np.float64)
    d = np.ones(len(p))
    if len(p) > 1:
        a, b = p[1:], p[:-1]
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        cos = np.where((na > 1e-9) & (nb > 1e-9), np.sum(a * b, axis=1) / np.maximum(na * nb, 1e-12), 1.0)
        d[1:] = 1.0 - cos
    return d


def motion_features(feats: VideoFeatures) -> np.ndarray:
    """Per-frame features of the motion curve [frames, 5]: magnitude, camera,
    object, and the direction as a unit vector scaled by the magnitude."""
    m = feats.motion
    values = np.asarray(m.values, float)
    direction = np.nan_to_num(np.asarray(m.direction, float), nan=0.0)
    still = np.isnan(np.asarray(m.direction, float))
    dx = np.where(still, 0.0, np.cos(direction)) * values
    dy = np.where(still, 0.0, np.sin(direction)) * values
    return np.stack([values, np.asarray(m.camera, float), np.asarray(m.object, float), dx, dy], axis=1)


def rhythm(feats: VideoFeatures, rate_hz: float, duration_s: float) -> np.ndarray:
    """[steps, 2] at ``rate_hz`` over ``duration_s``: the picture's change
    curve and the cut impulses."""
    steps = int(np.ceil(duration_s * rate_hz))
    out = np.zeros((steps, 2), np.float32)
    hop = feats.motion.hop_s
    p = motion_features(feats)
    if len(p):
        d = change_curve(p)
        t_frames = np.arange(len(d)) * hop
        t_steps = np.arange(steps) / rate_hz
        # the largest change within each step (a peak between two steps is kept)
        idx = np.clip(np.searchsorted(t_frames, t_steps, side="left"), 0, len(d) - 1)
        nxt = np.clip(np.searchsorted(t_frames, t_steps + 1 / rate_hz, side="left"), 0, len(d))
        out[:, 0] = [d[i : max(i + 1, j)].max() for i, j in zip(idx, nxt)]
    for t in hard_cut_times(feats.anchors):
        k = int(round(t * rate_hz))
        if 0 <= k < steps:
            out[k, 1] = 1.0
    return out
