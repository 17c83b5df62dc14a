"""The neural seam: the only part of VidMusician that imports torch (and, with
the MusicGen backend, audiocraft or transformers).

``adapters``, ``backend`` and ``train`` import torch at the top: nothing
outside this package imports them except inside the function that needs them
(the ``musicgen`` backend's generate, ``vidmusician train``). ``musicgen``,
``clip`` and ``status`` import torch inside their functions, and
``conditioning`` is numpy only, so importing this package, ``doctor``'s
report and the analysis work where torch is absent (``tests/test_layering.py``
imports every module with torch hidden).
"""
