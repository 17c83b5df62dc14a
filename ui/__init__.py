"""The PyQt6 panel: open a cut, generate, listen, regenerate a shot, export.

It imports the facade ``vidmusician.core`` only (``tests/test_layering.py``
checks), and never the Resolve bridge."""
