"""The one stage template (extract/stage.py) on a toy stage: the steps run in their order
(check, lock, compute, write, record), a current output is kept, a stale one is made again
with a notice saying why, and a missing one silently."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from extract.reuse import Sidecar, lock_path, read_sidecar, write_sidecar
from extract.settings import ExtractionSettings
from extract.stage import Stage, Task
from extract.video import Video
from wtal.utils.files import write_text


class Upper(Stage):
    """A toy stage: the video file's text in capitals, its identity beside it."""

    name = "upper"

    def __init__(self, settings: ExtractionSettings, *, redo: bool = False) -> None:
        super().__init__(settings, redo=redo)
        self.steps: list[str] = []

    def finished(self, task: Task) -> Sidecar:
        return Sidecar(task.output)

    def expected(self, task: Task) -> dict[str, Any]:
        return {"video": task.video.fingerprint, "decode": {"short_side": self.settings.short_side}}

    def notice(self, task: Task, why: str) -> str:
        return f"{task.video}: {task.output} is stale ({why})"

    def compute(self, task: Task, identity: dict[str, Any]) -> str:
        self.steps.append(f"compute (locked: {lock_path(task.output).is_file()})")
        return Path(task.video.path).read_text().upper()

    def write(self, task: Task, result: str) -> None:
        self.steps.append("write")
        write_text(task.output, result)

    def record(self, task: Task, identity: dict[str, Any], result: str) -> None:
        self.steps.append("record")
        write_sidecar(task.output, identity, {"path": str(task.video.path)})


@pytest.fixture
def task(tmp_path: Path) -> Task:
    source = tmp_path / "words.txt"
    source.write_text("some words")
    return Task(Video(source), tmp_path / "out" / "words.txt")


def test_the_steps_run_in_order_and_a_current_output_is_kept(task, caplog):
    caplog.set_level(logging.WARNING, logger="extract")
    stage = Upper(ExtractionSettings())
    assert stage.run(task) is True
    assert stage.steps == ["compute (locked: True)", "write", "record"]
    assert task.output.read_text() == "SOME WORDS" and read_sidecar(task.output) is not None
    assert caplog.records == []  # nothing was there: nothing to say
    again = Upper(ExtractionSettings())
    assert again.run(Task(task.video, task.output)) is False and again.steps == []


def test_a_stale_output_is_made_again_saying_why(task, caplog):
    caplog.set_level(logging.WARNING, logger="extract")
    Upper(ExtractionSettings()).run(task)
    stage = Upper(ExtractionSettings(short_side=128))
    assert stage.run(Task(Video(task.video.path), task.output)) is True
    assert [r.getMessage() for r in caplog.records] == [
        f"{task.video}: {task.output} is stale (short side 256, now 128)"
    ]
    redo = Upper(ExtractionSettings(short_side=128), redo=True)
    assert redo.run(Task(Video(task.video.path), task.output)) is True
    assert caplog.records[-1].getMessage().endswith("(asked to make it again)")
