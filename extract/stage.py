"""One stage of one video, as a template: check, lock, compute, write, record.

The decode, flow and features stages (:mod:`extract.decode`, :mod:`extract.flow`,
:mod:`extract.features`) each fill in the steps; the order, the reuse rule
(:func:`extract.reuse.why_stale`), the lock and the notice are the same for all of them:

- check: is the output there current? (kept when it is; the stage's notice says why not);
- lock: one writer per output, a second process refused at once;
- compute: the work (decoding, TV-L1, I3D);
- write: the output under its final name, atomically;
- record: what made it (its identity), written last.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extract.reuse import Output, Reuse, lock_path, why_stale
from extract.settings import ExtractionSettings
from extract.video import Video
from wtal.utils.files import exclusive_lock

log = logging.getLogger(__name__)

#: ``progress(step, done, total)``: how far a video's work is (``flow``: frames; ``rgb``,
#: ``i3d-flow``: segments).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Task:
    """One video's work at one stage: the video, where the output goes (a file; for the
    features, the video's folder), the files it is made from, and a flow file made
    beforehand (features only; ``None``: computed in the folder)."""

    video: Video
    output: Path
    made_from: tuple[Path, ...] = ()
    flow: Path | None = None
    progress: Progress | None = None


class Stage(ABC):
    """A stage: the steps it fills in and the one way they run (:meth:`run`)."""

    #: The stage's name (``decode``, ``flow``, ``features``).
    name: str
    #: What :meth:`start` is doing, for a message of a run interrupted then.
    starting = "while starting"

    def __init__(self, settings: ExtractionSettings, *, redo: bool = False) -> None:
        self.settings = settings
        self.redo = redo

    @abstractmethod
    def finished(self, task: Task) -> Output:
        """The output there, as the reuse rule reads it."""

    @abstractmethod
    def expected(self, task: Task) -> dict[str, Any]:
        """The identity the output would record if made now."""

    @abstractmethod
    def notice(self, task: Task, why: str) -> str:
        """The line saying that an output there is made again, and why."""

    def lock(self, task: Task) -> AbstractContextManager[None]:
        """Held while the output is made: ``.<name>.lock`` beside a file output."""
        return exclusive_lock(lock_path(task.output), task.output)

    @abstractmethod
    def compute(self, task: Task, identity: dict[str, Any]) -> Any:
        """The work; its result goes to :meth:`write` and :meth:`record`."""

    @abstractmethod
    def write(self, task: Task, result: Any) -> None:
        """The output under its final name."""

    @abstractmethod
    def record(self, task: Task, identity: dict[str, Any], result: Any) -> None:
        """What made the output, written last."""

    def start(self) -> None:  # noqa: B027 - a hook: most stages need nothing
        """What the stage needs before its first video is made (the networks), loaded once."""

    def check(self, task: Task, identity: dict[str, Any]) -> str | None:
        """Why the output is made (``""``: nothing there), or ``None`` when it is kept."""
        reuse = Reuse(task.made_from, self.redo)
        return why_stale(self.finished(task), identity, reuse)

    def make(self, task: Task, identity: dict[str, Any] | None = None) -> Any:
        """Lock, compute, write, record; the result of :meth:`compute`."""
        identity = self.expected(task) if identity is None else identity
        self.start()
        with self.lock(task):
            result = self.compute(task, identity)
            self.write(task, result)
            self.record(task, identity, result)
        return result

    def run(self, task: Task, identity: dict[str, Any] | None = None) -> bool:
        """Make the output unless it is current (:meth:`check`); whether it was made."""
        identity = self.expected(task) if identity is None else identity
        why = self.check(task, identity)
        if why is None:
            return False
        if why:
            log.warning(self.notice(task, why))
        self.make(task, identity)
        return True
