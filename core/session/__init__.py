"""Sessions: the typed records and the store (:mod:`.store`: lock, atomic save),
the pipeline that makes takes for every backend (:mod:`.pipeline`, on the
options of :mod:`.settings`), regenerating, picking, listing and exporting
them (:mod:`.retake`), splicing a regenerated range (:mod:`.splice`),
the ``fit`` command's pipeline (:mod:`.fitting`) and the hand-off file between
the panel and Resolve's menu script (:mod:`.handoff`)."""
