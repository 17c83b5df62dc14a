"""What a take measures and shows: metrics (:mod:`.metrics`), the result folder's
report (:mod:`.results`) and plots (:mod:`.plot`)."""
