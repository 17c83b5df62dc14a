"""``python -m vidmusician.core.cli``: the command line."""

from . import entry

entry()
