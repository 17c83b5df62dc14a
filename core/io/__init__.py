"""Reading and writing what lies outside the library: audio files (:mod:`.audio`)."""
