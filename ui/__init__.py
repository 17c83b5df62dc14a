"""The PyQt6 panel: open a cut, generate, listen, regenerate a shot, export.

``window.py`` holds the main window (building, jobs, opening, generating);
``session_view.py`` the session it shows, with its shots and takes;
``export.py`` export and Send to Resolve; ``timeline_view.py``, ``controls.py``,
``player.py`` and ``jobs.py`` the timeline, the options form, playback and the
worker thread; ``app.py`` and ``cli.py`` the ``vidmusician panel`` command.

It imports the facade ``vidmusician.core`` only (``tests/test_layering.py``
checks), and never the Resolve bridge."""
