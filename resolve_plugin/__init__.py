"""The DaVinci Resolve bridge and menu script (depends on ``vidmusician.core``). Arrives with its issue."""
