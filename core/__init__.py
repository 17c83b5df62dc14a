"""VidMusician's library: timeline, analysis, rhythm, generation, write-back, CLI.

``core`` never imports the Qt panel (``vidmusician.ui``), the Resolve bridge
(``vidmusician.resolve_plugin``), Qt or Resolve; torch and audiocraft are
imported only inside the neural backend.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
