"""The per-video loop of every extraction run (``wtal extract``, ``wtal localize``, a workflow
job of any stage): one stage over many videos.

First every video is checked (what is current is kept, and a line says so), then the others
are made one after the other, the next video probed on a background thread meanwhile; what
the stage needs before its first video (the I3D networks) is loaded only if some video needs
it. A video's problem (it cannot be read or decoded, a file does not fit, another process is
writing its output) is recorded and the others go on; an error of the output (a full disk, a
read-only folder) stops the run, since it would fail every other video too, unless
``isolate``: then any error of a video is that video's failure, as if each ran in a process
of its own (the workflow's jobs), its traceback in the log. A line is logged as each video
ends (``extract`` logger, INFO). Ctrl-C raises :class:`Interrupted` saying how far it got.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from tqdm import tqdm

from extract.errors import StageError, Undecodable, VideoError
from extract.prefetch import prefetched
from extract.stage import Stage, Task
from wtal.errors import Interrupted
from wtal.utils.files import BusyError

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

#: A video's own problems: recorded as its failure, never stopping the others.
VIDEO_PROBLEMS = (VideoError, ValueError, RuntimeError, BusyError)


@dataclass
class Outcome(Generic[K]):
    """What happened to each video (in the order given): done (made, or kept as current),
    kept, known not to decode (with why), failed (with why), and the seconds each took."""

    done: list[K] = field(default_factory=list)
    kept: list[K] = field(default_factory=list)
    undecodable: dict[K, str] = field(default_factory=dict)
    failed: dict[K, str] = field(default_factory=dict)
    seconds: dict[K, float] = field(default_factory=dict)

    def state(self, video: K) -> str:
        """``done``, ``done (current, kept)``, ``cannot be decoded: ...``, ``FAILED: ...``."""
        if video in self.kept:
            return "done (current, kept)"
        if video in self.done:
            return "done"
        if video in self.undecodable:
            return f"cannot be decoded: {self.undecodable[video]}"
        return f"FAILED: {self.failed[video]}"

    def ended(self) -> int:
        return len(self.done) + len(self.undecodable) + len(self.failed)

    def in_order(self, videos: Sequence[K]) -> Outcome[K]:
        """The same, each list and mapping in the order of ``videos``."""
        position = {video: i for i, video in enumerate(videos)}

        def ordered(mapping: dict[K, Any]) -> dict[K, Any]:
            return dict(sorted(mapping.items(), key=lambda item: position[item[0]]))

        return Outcome(
            sorted(self.done, key=position.__getitem__),
            sorted(self.kept, key=position.__getitem__),
            ordered(self.undecodable),
            ordered(self.failed),
            ordered(self.seconds),
        )


@dataclass
class _Pending:
    """A video to make: its position, the task and the identity it will record."""

    position: int
    video: Hashable
    task: Task
    identity: dict[str, Any]
    seconds: float


class _Loop(Generic[K]):
    """One run of :func:`run_videos` (its state, so that each step stays small)."""

    def __init__(self, stage: Stage, videos: Sequence[K], isolate: bool, progress: bool):
        self.stage, self.videos, self.isolate, self.progress = stage, videos, isolate, progress
        self.outcome: Outcome[K] = Outcome()
        self.where = "while checking the finished outputs"

    def settle(self, video: K, exc: Exception) -> None:
        """Record a video's error as its outcome, or raise it when it is not the video's."""
        if isinstance(exc, StageError):
            raise exc
        if isinstance(exc, Undecodable):
            self.outcome.undecodable[video] = str(exc)
        elif isinstance(exc, VIDEO_PROBLEMS):
            self.outcome.failed[video] = str(exc)
        elif self.isolate:
            log.error("%s: failed", video, exc_info=exc)
            self.outcome.failed[video] = f"{type(exc).__name__}: {exc}"
        else:
            raise exc

    def ended(self, position: int, video: K, seconds: float) -> None:
        """A line as a video ends: how far the run is."""
        if video in self.outcome.done:
            self.outcome.seconds[video] = round(seconds, 3)
        log.info("  [%d/%d] %s: %s (%.1f s)", position, len(self.videos), video,
                 self.outcome.state(video), seconds)  # fmt: skip

    def check(self, task_of: Callable[[K], Task]) -> list[_Pending]:
        """Keep what is current; the others, to make."""
        pending = []
        for position, video in enumerate(self.videos, start=1):
            started = time.monotonic()
            try:
                task = task_of(video)
                identity = self.stage.expected(task)
                why = self.stage.check(task, identity)
            except Exception as exc:
                self.settle(video, exc)
                self.ended(position, video, time.monotonic() - started)
                continue
            if why is None:
                self.outcome.done.append(video)
                self.outcome.kept.append(video)
                self.ended(position, video, time.monotonic() - started)
                continue
            if why:
                log.warning(self.stage.notice(task, why))
            pending.append(_Pending(position, video, task, identity, time.monotonic() - started))
        return pending

    def make(self, pending: list[_Pending]) -> None:
        """Make each video's output, the next one probed meanwhile."""
        if not pending:
            return
        self.where = self.stage.starting
        self.stage.start()
        for todo, _ in zip(pending, prefetched(map(_probed, pending), depth=1), strict=True):
            self.where = f"during {todo.video}"
            started = time.monotonic()
            bars = _Bars(f"[{todo.position}/{len(self.videos)}]", todo.task, self.progress)
            try:
                self.stage.make(dataclasses.replace(todo.task, progress=bars), todo.identity)
                self.outcome.done.append(todo.video)
            except Exception as exc:
                self.settle(todo.video, exc)
            finally:
                bars.close()
            self.ended(todo.position, todo.video, todo.seconds + time.monotonic() - started)


def run_videos(
    stage: Stage,
    videos: Sequence[K],
    task_of: Callable[[K], Task],
    *,
    isolate: bool = False,
    progress: bool = False,
) -> Outcome[K]:
    """``stage`` for each of ``videos`` (``task_of``: its task), as the module says;
    ``progress``: bars on stderr."""
    loop = _Loop(stage, videos, isolate, progress)
    try:
        loop.make(loop.check(task_of))
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted {loop.where} ({loop.outcome.ended()} of {len(videos)} videos done); "
            "finished videos are kept; rerun the same command to resume"
        ) from None
    return loop.outcome.in_order(videos)


def _probed(pending: _Pending) -> None:
    """Probe a video ahead of its turn (a video that cannot be probed says so in its turn)."""
    try:
        pending.task.video.info  # noqa: B018 - taken now, kept on the video
    except VideoError:
        pass


class _Bars:
    """Progress bars of one video's steps on stderr (``progress(step, done, total)``)."""

    def __init__(self, position: str, task: Task, shown: bool) -> None:
        self.label = f"{position} {Path(task.video.path).name}"
        self.shown = shown
        self.bars: dict[str, tqdm] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        bar = self.bars.get(step)
        if bar is None:
            unit = "frame" if step in ("decode", "flow") else "seg"
            desc = f"{self.label} {step}"
            bar = self.bars[step] = tqdm(total=total, desc=desc, unit=unit, leave=False,
                                         file=sys.stderr, disable=not self.shown)  # fmt: skip
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
