"""Sessions: the typed records and the store (:mod:`.store`: lock, atomic save),
the pipeline that makes, regenerates, picks and exports takes for every
backend (:mod:`.pipeline`), splicing a regenerated range (:mod:`.splice`),
the ``fit`` command's pipeline (:mod:`.fitting`) and the hand-off file between
the panel and Resolve's menu script (:mod:`.handoff`)."""
