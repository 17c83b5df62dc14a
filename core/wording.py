"""How the console says things: counts, tempos, figures, record timecodes,
where a cut landed.

One helper for each kind of thing, so that every command says it the same
way: ``1 shot`` and ``3 shots``, ``60 BPM`` (never ``60.0-60.0 BPM``),
``102.9 BPM``, ``13%``, ``01:00:03:14``, ``no cuts to follow``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .units import record_timecode


def plural(n: int, word: str, many: str | None = None, zero: str = "no") -> str:
    """``1 shot``, ``3 shots``, ``no shots`` (``many``: an irregular plural;
    ``zero=""``: ``0 shots``)."""
    if n == 1:
        return f"1 {word}"
    if many is None:
        many = word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{zero} {many}" if n == 0 and zero else f"{n} {many}"


def number(x: float, digits: int = 1) -> str:
    """``x`` to ``digits`` decimals, without trailing zeros: ``60``, ``102.9``."""
    text = f"{float(x):.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def bpm(x: float) -> str:
    """A tempo: ``60 BPM``, ``102.9 BPM``."""
    return f"{number(x)} BPM"


def span(lo: float, hi: float, digits: int = 1, unit: str = "") -> str:
    """A range whose equal ends are said once: ``60``, ``90-102.9``."""
    a, b = number(lo, digits), number(hi, digits)
    text = a if a == b else f"{a}-{b}"
    return f"{text} {unit}" if unit else text


def bpm_range(lo: float, hi: float) -> str:
    """``60 BPM`` for a range of equal ends, else ``90-102.9 BPM``."""
    return span(lo, hi, 1, "BPM")


def percent(share: float) -> str:
    """A share in [0, 1] as a whole percentage: ``13%``."""
    return f"{round(100 * float(share))}%"


def duration(s: float) -> str:
    """A length a person reads at a glance: ``0.79 s``, ``30 s``, ``2 min 17 s``."""
    s = float(s)
    if s < 1:
        return f"{number(s, 2)} s"
    if s < 60:
        return f"{number(s, 1)} s"
    whole = int(round(s))
    h, rem = divmod(whole, 3600)
    m, sec = divmod(rem, 60)
    head = f"{h} h {m} min" if h else f"{m} min"
    return f"{head} {sec} s" if sec else head


class RecordClock:
    """Record timecodes of a timeline: ``tc(frame)`` and ``at(seconds)``
    (both counted from the first frame, whose timecode is ``start_timecode``)."""

    def __init__(self, start_timecode: str, rate: float):
        self.start_timecode = start_timecode
        self.rate = float(rate)

    @classmethod
    def of(cls, timeline: Any) -> RecordClock:
        """The clock of a :class:`~vidmusician.core.model.Timeline` (or of a
        session's timeline record, a dict with ``start_timecode`` and ``rate``)."""
        if isinstance(timeline, Mapping):
            return cls(timeline.get("start_timecode") or "00:00:00:00", timeline["rate"])
        return cls(timeline.start_timecode, timeline.rate)

    def tc(self, frame: int) -> str:
        return record_timecode(self.start_timecode, int(frame), self.rate)

    def at(self, seconds: float) -> str:
        return self.tc(int(round(float(seconds) * self.rate)))

    def range(self, start_frame: int, end_frame: int) -> str:
        return f"{self.tc(start_frame)}-{self.tc(end_frame)}"


# --------------------------------------------------------------------------- anchors and cuts

#: How an anchor kind is counted in words.
ANCHOR_WORDS = {
    "cut": ("cut", "cuts"),
    "transition": ("transition", "transitions"),
    "scene": ("scene cut", "scene cuts"),
    "marker": ("marker", "markers"),
    "motion": ("visual beat", "visual beats"),
}


def anchor_counts(kinds: Iterable[str]) -> str:
    """``9 cuts, 1 transition, 25 visual beats`` (in the order of :data:`ANCHOR_WORDS`)."""
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    order = list(ANCHOR_WORDS) + sorted(k for k in counts if k not in ANCHOR_WORDS)
    parts = []
    for k in order:
        if counts.get(k):
            one, many = ANCHOR_WORDS.get(k, (k, k + "s"))
            parts.append(plural(counts[k], one, many))
    return ", ".join(parts)


#: Where a cut can land, in the order they are counted.
LANDINGS = ("downbeat", "beat", "eighth", "sixteenth", "missed")
LANDING_WORDS = {
    "downbeat": "on a downbeat",
    "beat": "on a beat",
    "eighth": "on an eighth",
    "sixteenth": "on a sixteenth",
    "missed": "off the grid",
}


def _subdivision(meter: str) -> int:
    from .model import METERS

    m = METERS.get(meter)
    return m.subdivision if m is not None else 4


def landing(anchor: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """Where a planned anchor (a ``plan.json`` anchor) landed: ``downbeat``,
    ``beat``, ``eighth``, ``sixteenth`` or ``missed``. The plan's
    ``subdivision`` is told apart by its place in the beat: half way is an
    eighth (4/4, 3/4), a quarter of the way a sixteenth; the steps of 6/8's
    dotted-quarter beat are eighths."""
    on = str(anchor["on"])
    if on != "subdivision":
        return on
    sub = _subdivision(str(plan.get("meter", "4/4")))
    if sub != 4:
        return "eighth"
    beats: Sequence[float] = plan.get("beats_s") or []
    t = float(anchor["time_s"])
    import bisect

    i = bisect.bisect_right(beats, t) - 1
    if i < 0 or i + 1 >= len(beats):
        return "sixteenth"
    frac = (t - beats[i]) / max(beats[i + 1] - beats[i], 1e-9)
    return "eighth" if abs(frac - 0.5) < 0.125 else "sixteenth"


def bar_beat(t: float, plan: Mapping[str, Any]) -> tuple[int, int] | None:
    """(bar, beat), both from 1, of the beat at or before ``t`` seconds; bar 0
    is the pickup before the first downbeat (its beats counted as the end of
    a whole bar: a one-beat pickup in 4/4 is beat 4). None before the first beat."""
    import bisect

    from .model import METERS

    downs: Sequence[float] = plan.get("downbeats_s") or []
    beats: Sequence[float] = plan.get("beats_s") or []
    eps = 1e-6
    beat = bisect.bisect_right(beats, t + eps) - 1
    if beat < 0 or not downs:
        return None
    bar = bisect.bisect_right(downs, t + eps) - 1
    if bar < 0:
        meter = METERS.get(str(plan.get("meter", "4/4")))
        per_bar = meter.beats if meter is not None else 4
        first = bisect.bisect_left(beats, downs[0] - eps)
        return 0, per_bar - (first - beat) + 1
    first = bisect.bisect_left(beats, downs[bar] - eps)
    return bar + 1, beat - first + 1


def hard_cuts(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The plan's hard anchors (cuts and transitions), in time order."""
    return [a for a in plan.get("anchors", []) if a.get("hard")]


def landings(plan: Mapping[str, Any]) -> str:
    """``9 cuts: 2 on a downbeat, 7 on a beat``; ``1 cut, on a sixteenth``;
    ``no cuts to follow``. Only what happened is said."""
    cuts = hard_cuts(plan)
    if not cuts:
        return "no cuts to follow"
    counts = {k: 0 for k in LANDINGS}
    for a in cuts:
        counts[landing(a, plan)] += 1
    said = [(k, n) for k, n in counts.items() if n]
    if len(said) == 1:
        k, n = said[0]
        every = "" if n == 1 else ("both " if n == 2 else "all ")
        return f"{plural(len(cuts), 'cut')}, {every}{LANDING_WORDS[k]}"
    return f"{plural(len(cuts), 'cut')}: " + ", ".join(f"{n} {LANDING_WORDS[k]}" for k, n in said)


def sync_figures(plan: Mapping[str, Any]) -> str:
    """What the plan promises, honestly: ``23 of 25 cuts within +-40 ms of a
    beat (92%, 20 exactly on their frame), 4% on eighths, 4% on sixteenths,
    0% off the grid; beat intervals vary 1.2% (CV)``. Empty for a plan
    without these figures (one written before them)."""
    land = plan.get("cut_landings")
    if not land:
        return ""
    cv = float(plan.get("beat_cv") or 0.0)
    steady = f"beat intervals vary {100 * cv:.1f}% (CV)"
    n = int(land.get("n") or 0)
    if not n:
        return f"no cuts to follow; {steady}"
    w = 1000 * float(plan.get("sync_window_s", 0.04))
    caught = round(float(land["beat"]) * n)
    exact = round(float(land["exact"]) * n)
    return (
        f"{caught} of {plural(n, 'cut')} within +-{w:g} ms of a beat ({percent(land['beat'])}, "
        f"{exact} exactly on their frame), {percent(land['eighth'])} on eighths, "
        f"{percent(land['sixteenth'])} on sixteenths, {percent(land['off'])} off the grid; {steady}"
    )


# --------------------------------------------------------------------------- what librosa heard


def beat_hits(m: Mapping[str, Any]) -> str:
    """``9 of 9 cuts on a beat (chance 13%)`` from eval's figures (a tracked beat within 70 ms); ``no cuts to follow``."""
    n = int(m.get("n_cuts") or 0)
    hit = m.get("cut_beat_hit")
    if not n or hit is None:
        return "no cuts to follow"
    hits = int(round(float(hit) * n))
    chance = m.get("cut_beat_hit_chance")
    tail = f" (chance {percent(chance)})" if chance is not None else ""
    return f"{hits} of {plural(n, 'cut')} on a beat{tail}"


def accent(m: Mapping[str, Any]) -> str:
    """``accent at the cuts 9.0x the average (chance 2.5x)``; ``no cuts to follow``."""
    a = m.get("cut_accent")
    if a is None:
        return "no cuts to follow"
    chance = m.get("cut_accent_chance")
    tail = f" (chance {float(chance):.1f}x)" if chance is not None else ""
    return f"{float(a):.1f}x the average{tail}"


def heard(m: Mapping[str, Any], accents: bool = False) -> str:
    """What librosa hears in a take: ``tempo 60.1 BPM, 9 of 9 cuts on a beat
    (chance 13%)``; with ``accents``, ``, onsets at the cuts 9.0x the average
    (chance 2.5x)`` after it."""
    text = f"tempo {bpm(m['tempo_bpm'])}, {beat_hits(m)}"
    if accents and m.get("cut_accent") is not None:
        text += f", onsets at the cuts {accent(m)}"
    return text


# --------------------------------------------------------------------------- takes


def take_music(t: Mapping[str, Any]) -> str:
    """What a take (a ``session.json`` take object) is: ``cinematic in D minor
    at 93.8 BPM``, ``rock (debug)`` for MusicGen's takes (no key). Every
    figure a take may lack is left out, never formatted as a number."""
    style = t.get("style") or "music"
    if t.get("key"):
        what = f"{style} in {t['key']}"
    elif t.get("model"):
        what = f"{style} ({t['model']})"
    else:
        what = style
    tempo = t.get("bpm") or []
    if len(tempo) == 2 and None not in tempo:
        what += f" at {bpm_range(float(tempo[0]), float(tempo[1]))}"
    return what


def sync_heard(m: Mapping[str, Any]) -> str:
    """``3 within +-40 ms (chance 12%), beat intervals vary 1.4% (CV)`` from
    eval's figures; empty where they lack them (an older take)."""
    n = int(m.get("n_cuts") or 0)
    parts = []
    if n and m.get("cut_sync_hit") is not None:
        chance = m.get("cut_sync_hit_chance")
        tail = f" (chance {percent(chance)})" if chance is not None else ""
        parts.append(f"{round(float(m['cut_sync_hit']) * n)} within +-40 ms{tail}")
    if m.get("beat_cv") is not None:
        parts.append(f"beat intervals vary {100 * float(m['beat_cv']):.1f}% (CV)")
    return ", ".join(parts)


def take_summary(t: Mapping[str, Any]) -> str:
    """One line on a take, the panel's and the console's: ``take 2: cinematic
    in D minor at 90-102.9 BPM; 4 of 5 cuts on a beat (chance 25%); 3 within
    +-40 ms (chance 12%), beat intervals vary 1.4% (CV)``, the beats as
    librosa hears them (a beat within 70 ms, then within the 40-ms sync
    window); a cut without hard cuts says ``no cuts to follow``."""
    m = t.get("metrics") or {}
    sync = sync_heard(m)
    return f"take {t.get('id', '?')}: {take_music(t)}; {beat_hits(m)}" + (f"; {sync}" if sync else "")
