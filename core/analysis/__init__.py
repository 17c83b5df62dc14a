"""What the picture offers the music: the input read into a timeline
(:mod:`.inputs`; a plain video is cut where the picture cuts, :mod:`.video`),
then one decode pass per source range (:mod:`.decode`, :mod:`.scan`) that
finds cuts inside media (PySceneDetect's detectors, :mod:`.scenes`), motion
and visual beats (:mod:`.motion`) and each shot's mood (:mod:`.semantics`),
assembled by :mod:`.features` and run as a stage by :mod:`.analyze`."""
