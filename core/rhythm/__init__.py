"""The rhythm stage: a tempo map whose beats land on the cuts (:mod:`.planner`),
the ``plan`` pipeline from analysed picture to that map (:mod:`.planning`), and
existing music stretched onto it (:mod:`.fit`)."""
