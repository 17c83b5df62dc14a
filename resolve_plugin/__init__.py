"""The DaVinci Resolve bridge and menu script: export the timeline, open the
panel, put the music on new audio tracks.

It imports the facade ``vidmusician.core`` only (``tests/test_layering.py``
checks); ``bridge`` is the one module that talks to Resolve."""
