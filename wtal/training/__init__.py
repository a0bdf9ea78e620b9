"""Training TSM + VLC: batches (:mod:`.batches`), the four-step update (:mod:`.step`,
:mod:`.optim`, :mod:`.schedule`), models and text from the data (:mod:`.setup`), the run
state (:mod:`.state`), resuming (:mod:`.resume`), selection and the test report
(:mod:`.selection`) and the loop (:mod:`.loop`: :func:`~wtal.training.loop.train`)."""
