"""``score --backend musicgen``: MusicGen steered by the picture, on the plan.

MusicGen writes about 30 s at a time, so a timeline is generated in
overlapping windows: the first from the text prompt, each next one with
audiocraft's continuation from the last :data:`OVERLAP_S` seconds of the
music so far, every window conditioned on its own slice of the picture (the
semantic vectors of its seconds, the rhythm curve from its first step). The
joined music is then fitted to the cut with the rhythm engine (``fit``: beat
tracking, a tempo map near the music's tempo, piecewise time-stretching), so
cuts still land on beats, and brought to the arranger's loudness target and
true-peak ceiling.

Regenerating a shot continues from the audio before the shot's bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import units
from ..errors import Cancelled, InputError, OptionError
from ..model import VideoFeatures
from ..progress import CancelToken, ProgressFn, report
from ..rhythm.planner import RhythmPlan
from . import conditioning
from .adapters import VidMusicianAdapters, musicgen_t5
from .musicgen import load

OUT_SR = units.OUTPUT_SR
OVERLAP_S = 10.0


@dataclass(frozen=True)
class NeuralMusic:
    """What the backend made: ``mix`` (2, n) at 48 kHz from the first frame."""

    mix: np.ndarray
    plan: RhythmPlan
    model: str
    adapters: str | None
    prompt: str
    warnings: tuple[str, ...]


def prompt_text(feats: VideoFeatures, style: str, user_prompt: str = "") -> str:
    """MusicGen's text: the style, the analysis' most frequent mood words and the user's words."""
    counts: dict[str, int] = {}
    for f in feats.shots:
        for w in (*f.prompt, *getattr(f, "tags", ())):
            counts[w] = counts.get(w, 0) + 1
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:4]]
    parts = [f"{style.replace('-', ' ')} music", *words]
    if user_prompt.strip():
        parts.append(user_prompt.strip())
    return ", ".join(parts)


def to_out_rate(audio: np.ndarray, sr: int) -> np.ndarray:
    """(channels, n) at ``sr`` -> (2, m) at 48 kHz."""
    from scipy.signal import resample_poly

    g = math.gcd(OUT_SR, sr)
    y = resample_poly(np.asarray(audio, np.float64), OUT_SR // g, sr // g, axis=-1)
    if y.shape[0] == 1:
        y = np.repeat(y, 2, axis=0)
    return y[:2].astype(np.float32)


def from_out_rate(audio: np.ndarray, sr: int) -> np.ndarray:
    """(2, n) at 48 kHz -> (1, m) at ``sr`` (mono)."""
    from scipy.signal import resample_poly

    g = math.gcd(OUT_SR, sr)
    return resample_poly(
        np.asarray(audio, np.float64).mean(axis=0, keepdims=True), sr // g, OUT_SR // g, axis=-1
    )


class Generator:
    """A loaded MusicGen with (optionally) VidMusician's modules attached."""

    def __init__(self, model: str, adapters: str | None = None, device: str = "cpu"):
        self.model_name = model
        self.adapters_path = adapters
        self.mg = load(model, device)
        self.sr = int(self.mg.sample_rate)
        self.rate = float(self.mg.frame_rate)
        self.adapters: VidMusicianAdapters | None = None
        self.styles: tuple[str, ...] | None = None  # the one-hot style order (None: the registry's)
        self.notes: list[str] = []
        if adapters:
            self.adapters = VidMusicianAdapters.load(adapters, t5=musicgen_t5(self.mg.lm))
            if self.adapters.config.feature == "descriptors":
                self.styles, note = conditioning.style_order(
                    self.adapters.config.styles, f"--adapters {adapters}"
                )
                self.notes += [f"--adapters {adapters}: {note}"] if note else []
            self.adapters.attach(self.mg.lm)
            self.adapters.eval()

    def features(self, feats: VideoFeatures, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        use_clip = self.adapters is not None and self.adapters.config.feature == "clip"
        if use_clip and feats.clip is None:
            raise OptionError(
                f"--adapters {self.adapters_path}: they read CLIP embeddings; analyse with --clip PATH "
                "(the CLIP checkpoint they were trained with)."
            )
        sem, _ = conditioning.semantic(feats, use_clip, self.styles)
        if self.adapters is not None and sem.shape[1] != self.adapters.config.video_dim:
            raise OptionError(
                f"--adapters {self.adapters_path}: they read {self.adapters.config.video_dim}-wide "
                f"vectors, the analysis gives {sem.shape[1]} (another CLIP model?)."
            )
        return sem, conditioning.rhythm(feats, self.rate, duration_s)

    def _condition(self, sem: np.ndarray, rhy: np.ndarray, t0: float, length_s: float) -> None:
        if self.adapters is None:
            return
        a, b = int(math.floor(t0)), max(int(math.floor(t0)) + 1, int(math.ceil(t0 + length_s)))
        video = torch.from_numpy(sem[a:b] if a < len(sem) else sem[-1:]).float()[None]
        k = int(round(t0 * self.rate))
        curve = torch.from_numpy(rhy[k:]).float()[None]
        with torch.no_grad():
            self.adapters.condition(video, curve)

    def _progress(
        self, progress: ProgressFn | None, cancel: CancelToken | None, lo: float, hi: float
    ) -> None:
        def cb(done: int, total: int) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            report(progress, lo + (hi - lo) * done / max(total, 1), "generating")

        self.mg.set_custom_progress_callback(cb)

    def generate(
        self,
        feats: VideoFeatures,
        text: str,
        duration_s: float,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """(1, n) at the model's rate: ``duration_s`` of music in overlapping windows."""
        sem, rhy = self.features(feats, duration_s)
        window = float(min(self.mg.max_duration, duration_s))
        overlap = min(OVERLAP_S, window / 3)
        n_windows = 1 + max(0, math.ceil((duration_s - window) / (window - overlap)))
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(seed)
            self.mg.set_generation_params(duration=window, use_sampling=True, top_k=250, cfg_coef=3.0)
            self._progress(progress, cancel, 0.0, 1.0 / n_windows)
            self._condition(sem, rhy, 0.0, window)
            audio = self.mg.generate([text])[0].cpu().numpy()
            w = 1
            while audio.shape[1] < int(duration_s * self.sr):
                t0 = audio.shape[1] / self.sr - overlap
                self._progress(progress, cancel, w / n_windows, (w + 1) / n_windows)
                self._condition(sem, rhy, t0, window)
                prompt = torch.from_numpy(audio[:, -int(overlap * self.sr) :]).float()[None]
                seg = self.mg.generate_continuation(prompt, self.sr, [text])[0].cpu().numpy()
                audio = np.concatenate([audio, seg[:, int(overlap * self.sr) :]], axis=1)
                w += 1
        return audio[:, : int(duration_s * self.sr)]

    def continue_from(
        self,
        feats: VideoFeatures,
        text: str,
        before: np.ndarray,
        start_s: float,
        length_s: float,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """(1, n) at the model's rate: ``length_s`` seconds that continue
        ``before`` (the music up to ``start_s``, (1, m) at the model's rate)."""
        total = start_s + length_s
        sem, rhy = self.features(feats, max(total, feats.timeline.duration_s))
        overlap = min(OVERLAP_S, start_s, self.mg.max_duration / 3)
        prompt_n = int(overlap * self.sr)
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(seed)
            self._progress(progress, cancel, 0.0, 1.0)
            self.mg.set_generation_params(
                duration=min(self.mg.max_duration, overlap + length_s),
                use_sampling=True,
                top_k=250,
                cfg_coef=3.0,
            )
            self._condition(sem, rhy, start_s - overlap, overlap + length_s)
            if prompt_n > 0:
                prompt = torch.from_numpy(before[:, -prompt_n:]).float()[None]
                out = self.mg.generate_continuation(prompt, self.sr, [text])[0].cpu().numpy()[:, prompt_n:]
            else:
                out = self.mg.generate([text])[0].cpu().numpy()
        return out[:, : int(length_s * self.sr)]


def score_music(
    feats: VideoFeatures,
    plan: RhythmPlan,
    style: str,
    user_prompt: str,
    model: str,
    adapters: str | None,
    seed: int,
    meter: str,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    loudness: float | None = None,
) -> NeuralMusic:
    """Generate the whole cut's music, fit it to the cut, level it (to
    ``loudness`` LUFS, the arranger's bus; None: its default)."""
    from ..backends.arranger.master import bus_gain
    from ..rhythm.fit import fit

    gen = Generator(model, adapters)
    text = prompt_text(feats, style, user_prompt)
    duration = plan.duration_s + plan.ring_out_s
    raw = gen.generate(feats, text, duration, seed, _sub(progress, 0.0, 0.8), cancel)
    y = to_out_rate(raw, gen.sr)
    warnings: list[str] = list(gen.notes)
    try:
        fitted = fit(y, feats, 0.08, meter, plan.ring_out_s, _sub(progress, 0.8, 0.95), cancel)
        y, used = fitted.audio, fitted.plan
        warnings += list(fitted.warnings)
    except InputError as e:  # music with too few clear beats (a random test model's)
        warnings.append(f"the generated music was not fitted to the cut: {e}")
        used = plan
    n = int(round((used.duration_s + used.ring_out_s) * OUT_SR))
    y = np.pad(y, ((0, 0), (0, max(0, n - y.shape[1]))))[:, :n]
    gain, _ = bus_gain(y, loudness)
    mix = (y * gain[None, :]).astype(np.float32)
    return NeuralMusic(mix, used, model, adapters, text, tuple(warnings))


def _sub(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    from ..progress import scaled

    return scaled(progress, lo, hi)


def regenerate_range(
    feats: VideoFeatures,
    base_mix: np.ndarray,
    start_s: float,
    end_s: float | None,
    text: str,
    model: str,
    adapters: str | None,
    seed: int,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """(2, n) at 48 kHz, as long as ``base_mix``: new music from ``start_s``
    to ``end_s`` continuing the base's audio before it (elsewhere the base)."""
    gen = Generator(model, adapters)
    n = base_mix.shape[1]
    end = n / OUT_SR if end_s is None else end_s
    before = from_out_rate(base_mix[:, : int(round(start_s * OUT_SR))], gen.sr)
    new = gen.continue_from(feats, text, before, start_s, end - start_s + 0.1, seed, progress, cancel)
    y = to_out_rate(new, gen.sr)
    out = np.array(base_mix, np.float32, copy=True)
    a = int(round(start_s * OUT_SR))
    k = min(y.shape[1], n - a)
    # the base take was levelled as a whole; the new bars come at the model's own level
    old_rms = float(np.sqrt(np.mean(out[:, a : a + k] ** 2)))
    new_rms = float(np.sqrt(np.mean(y[:, :k] ** 2)))
    gain = float(np.clip(old_rms / new_rms, 0.1, 10.0)) if old_rms > 0 and new_rms > 0 else 1.0
    peak = float(np.abs(y[:, :k]).max()) * gain
    if peak > 0.87:  # under -1 dBFS, like the rest of the take
        gain *= 0.87 / peak
    out[:, a : a + k] = y[:, :k] * gain
    return out
