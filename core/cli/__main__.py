"""``python -m vidmusician.core.cli``: the command line."""

from . import entry

if __name__ == "__main__":  # importing this module (a package walk) runs nothing
    entry()
