"""One exception root for everything VidMusician reports to a user.

The command line turns a :class:`VidMusicianError` into its message and exit
status 2 (``--debug`` shows the traceback); the panel and the Resolve bridge
turn it into a dialog. Messages say what is wrong and what to do about it.
"""

from __future__ import annotations


class VidMusicianError(Exception):
    """Root of every error VidMusician raises on purpose."""

    exit_code = 2


class InputError(VidMusicianError):
    """An input file is missing, unreadable, corrupt or makes no sense."""


class UnsupportedFormatError(InputError):
    """No installed reader handles this kind of file."""


class NoVideoError(InputError):
    """The timeline holds no picture to score (no video track, or empty)."""


class OptionError(VidMusicianError):
    """An option or a configuration value is out of range or malformed."""


class OutputError(VidMusicianError):
    """An output cannot be written (exists already, folder not writable, ...)."""


class Cancelled(VidMusicianError):
    """The user cancelled a long job."""

    exit_code = 130
