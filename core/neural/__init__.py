"""The neural seam: the only part of VidMusician that imports torch (and, with
the MusicGen backend, audiocraft). Modules here import them inside functions,
so importing the package costs nothing and works where they are absent."""
