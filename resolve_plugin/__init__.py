"""The DaVinci Resolve bridge and menu script: export the timeline, open the
panel, put the music on new audio tracks.

It imports the facade ``vidmusician.core`` only (``tests/test_layering.py``
checks); ``bridge`` connects to Resolve and exports its timeline, ``music`` reads
a session's music as Resolve will place it, ``apply`` puts it on the timeline."""
