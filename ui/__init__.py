"""The PyQt6 panel (depends on ``vidmusician.core`` only). Arrives with its issue."""
