"""What the neural backend's two paths read, from the analysis (numpy only).

- :func:`semantic` — one vector per second of picture: CLIP [CLS] embeddings
  when a CLIP checkpoint ran, otherwise the analysis' shot descriptors
  (:data:`DESCRIPTOR_KEYS`, the mood and a one-hot style) of the shot under
  that second. The one-hot follows a style list: the registry's
  (:mod:`vidmusician.core.styles`) for new adapters, the list trained
  adapters were made with for them (:func:`style_order`).
- :func:`rhythm` — per step at the token rate: the picture's change
  ``d_t = 1 - cos(p_t, p_{t-1})`` (``d_0 = 1``) of per-frame features ``p_t``
  (the motion curve's magnitude, camera and object motion and direction, at
  25 fps), and the timeline's hard cuts as unit impulses; two channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import styles as _styles
from ..errors import InputError
from ..model import VideoFeatures
from ..rhythm.planner import hard_cut_times

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
#: The descriptor vector's width with the built-in styles (what adapters saved
#: before they recorded their style list read); see :func:`descriptor_dim`.
DESCRIPTOR_DIM = len(DESCRIPTOR_KEYS) + 3 + len(_styles.BUILTIN_NAMES)


def descriptor_dim(styles: Sequence[str] | None = None) -> int:
    """The descriptor vector's width for the style list ``styles`` (None: the registry's)."""
    return len(DESCRIPTOR_KEYS) + 3 + len(_styles.names() if styles is None else styles)


def style_order(trained: Sequence[str], label: str = "--adapters") -> tuple[tuple[str, ...], str | None]:
    """The one-hot style order for adapters trained with the style list
    ``trained``, and a note for the user (None when there is nothing to say).

    The same list as the registry's: that order, no note. The registry holds
    every trained style and more (styles added since, the trained list a
    prefix of it) or in another order: the trained order, mapped by name, and
    a note that the other styles read as none. A trained style that the
    registry lacks: an ``InputError`` that says which, and what to do.
    """
    trained = tuple(trained)
    now = _styles.names()
    if trained == now:
        return trained, None
    missing = [s for s in trained if s not in now]
    if missing:
        raise InputError(
            f"{label}: the adapters were trained with the styles {', '.join(trained)}; this "
            f"installation has no {', '.join(missing)}. Register the same styles "
            "(vidmusician.core.styles.register) or train adapters with these: "
            f"{', '.join(now)}."
        )
    extra = [s for s in now if s not in trained]
    note = "the adapters' style vector is mapped by name"
    if extra:
        note += (
            f" (they were trained before {', '.join(extra)} existed: shots in "
            f"{'that style' if len(extra) == 1 else 'those styles'} read as no style to them)"
        )
    return trained, note + "."


def descriptor_vector(f: object, styles: Sequence[str] | None = None) -> np.ndarray:
    """One shot's descriptor vector (:func:`descriptor_dim` floats; the
    one-hot style in the order of ``styles``, None: the registry's)."""
    d = getattr(f, "descriptors", {})
    v = [float(d.get(k, 0.0)) for k in DESCRIPTOR_KEYS]
    v[DESCRIPTOR_KEYS.index("cut_rate")] /= 60.0  # cuts per minute -> per second
    v += [
        float(getattr(f, "valence", 0.0)),
        float(getattr(f, "arousal", 0.0)),
        float(getattr(f, "analysed", 0)),
    ]
    style = getattr(f, "style", "")
    v += [1.0 if style == s else 0.0 for s in (_styles.names() if styles is None else styles)]
    return np.asarray(v, np.float32)


def semantic(
    feats: VideoFeatures, use_clip: bool = True, styles: Sequence[str] | None = None
) -> tuple[np.ndarray, str]:
    """([seconds, dim] vectors, ``"clip"`` or ``"descriptors"``), one row per
    second; descriptors carry the one-hot style in the order of ``styles``
    (None: the registry's)."""
    n = max(1, int(np.ceil(feats.timeline.duration_s)))
    if use_clip and feats.clip is not None and len(feats.clip.cls):
        times = np.asarray(feats.clip.times_s, float)
        idx = np.clip(np.searchsorted(times, np.arange(n) + 0.5) - 1, 0, len(times) - 1)
        return np.asarray(feats.clip.cls, np.float32)[idx], "clip"
    shots = feats.timeline.shots
    order = _styles.names() if styles is None else tuple(styles)
    vecs = [descriptor_vector(f, order) for f in feats.shots]
    out = np.zeros((n, descriptor_dim(order)), np.float32)
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
