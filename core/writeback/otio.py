"""The timeline with music as OpenTimelineIO JSON (``.otio``): written every time."""

from __future__ import annotations

import opentimelineio as otio

from .registry import WriteJob, Writer


def write(job: WriteJob) -> str:
    """The OTIO JSON text of the timeline with the music."""
    return str(otio.adapters.write_to_string(job.result, "otio_json"))


WRITER = Writer("otio", ".otio", write, always=True)
