"""Reports: figures (:mod:`.timeline`, :mod:`.precision_recall`, :mod:`.class_ap`,
:mod:`.losses`, all drawn as :mod:`.plotting` says), the figures of an inference run
(:mod:`.inference`), the Markdown run report (:mod:`.markdown`), run comparisons
(:mod:`.compare`) and experiment-sheet tables (:mod:`.sheet`)."""
