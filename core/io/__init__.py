"""What lies outside the library, read and written safely: timelines
(:mod:`.timeline`, through OpenTimelineIO; :mod:`.composite` decides which
clip is seen at each frame, :mod:`.numbers` refuses hostile numbers), audio
files (:mod:`.audio`) and audio too long for memory (:mod:`.blockaudio`), the
analysis cache (:mod:`.cache`) and the limits on hostile files (:mod:`.guard`)."""
