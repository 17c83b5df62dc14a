"""What lies outside the library, read and written safely: timelines
(:mod:`.timeline`, through OpenTimelineIO), audio files (:mod:`.audio`) and
audio too long for memory (:mod:`.blockaudio`), the analysis cache
(:mod:`.cache`) and the limits on hostile files (:mod:`.guard`)."""
