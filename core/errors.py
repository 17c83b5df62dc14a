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


class DiskError(OutputError, OSError):
    """The file system refused a write: the disk is full, read-only or failing,
    a name is too long, or permission is denied.

    It is the user's environment, not a bug (exit status 2), and it is still an
    :class:`OSError` (with ``errno``), so that code which shrugs off a failed
    write of something optional (the analysis cache) keeps doing so.
    """

    def __init__(self, message: str, errno: int | None = None, filename: str | None = None):
        OSError.__init__(self, errno, message)
        self.message = message
        if filename is not None:
            self.filename = filename

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.errno, self.filename))
