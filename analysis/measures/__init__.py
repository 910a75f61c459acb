"""Numbers from arrays: metrics, slice levels, AHA segments, strain, and the metric rows of
one tracked subject (:mod:`.evaluate`) or one registered ED/ES pair (:mod:`.pair`)."""
