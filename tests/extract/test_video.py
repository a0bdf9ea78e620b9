"""Decoding at 25 fps by timestamps, resizing, chunking, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from extract.errors import VideoError
from extract.video import center_crop, iter_frames, probe, resized_size
from tests.extract.clips import moving_square


def test_bikes_is_25fps_one_to_one(real_clips):
    info = probe(real_clips / "bikes.mp4")
    assert (info.width, info.height, info.original_frames) == (640, 272, 250)
    assert info.original_fps == 25.0 and info.duration == pytest.approx(10.0)
    assert info.frames == 250
    assert info.source_index.tolist() == list(range(250))
    assert not info.variable_frame_rate


def test_29_97fps_is_resampled_by_timestamps(real_clips):
    info = probe(real_clips / "carphone_pristine.mp4")
    assert info.original_frames == 120 and info.original_fps == pytest.approx(30000 / 1001)
    assert info.frames == 101  # ceil(4.004 s x 25)
    # Output frame i shows the source frame on screen at i/25 s: floor(i x 1.2) here.
    expected = np.floor(np.arange(101) * 30000 / 1001 / 25 + 1e-9).astype(int)
    assert info.source_index.tolist() == expected.tolist()


@pytest.mark.parametrize("frames", [320, 321, 336])
def test_float32_timestamps_add_no_spurious_frame(tmp_path, frames):
    # 320 frames at 25 fps end at 12.8 s, which mp4 timestamps store as 12.8000002.
    info = probe(moving_square(tmp_path / "clip.mp4", frames=frames, fps=25.0))
    assert info.original_frames == frames
    assert info.frames == frames
    assert info.source_index.tolist() == list(range(frames))


def test_chunks_cover_every_frame_with_the_short_side_resized(tmp_path):
    clip = moving_square(tmp_path / "sq.mp4", frames=40, fps=30.0)
    info = probe(clip)
    assert info.frames == 34  # ceil(40/30 x 25)
    chunks = list(iter_frames(info, short_side=32, chunk=16))
    assert [lo for lo, _ in chunks] == [0, 16, 32]
    frames = np.concatenate([f for _, f in chunks])
    assert frames.shape == (34, 32, 48, 3) and frames.dtype == np.uint8
    again = np.concatenate([f for _, f in iter_frames(info, short_side=32, chunk=7)])
    assert np.array_equal(frames, again)  # chunking does not change the frames
    later = np.concatenate([f for _, f in iter_frames(info, short_side=32, chunk=16, start=16)])
    assert np.array_equal(later, frames[16:])


def test_resized_size_keeps_aspect_with_even_long_side():
    assert resized_size(640, 272, 256) == (602, 256)
    assert resized_size(176, 144, 256) == (312, 256)
    assert resized_size(720, 1280, 256) == (256, 456)
    assert resized_size(320, 240, 256) == (342, 256)


def test_center_crop():
    frames = np.arange(2 * 6 * 8 * 1).reshape(2, 6, 8, 1)
    assert center_crop(frames, 4)[0, :, :, 0].tolist() == frames[0, 1:5, 2:6, 0].tolist()
    with pytest.raises(ValueError, match="smaller than the 10 crop"):
        center_crop(frames, 10)


def test_unreadable_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(VideoError, match=r"nothing\.mp4: file not found"):
        probe(tmp_path / "nothing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoError, match=r"junk\.mp4: cannot be decoded"):
        probe(junk)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mp4"):
        probe(empty)


def test_truncated_file_is_a_clear_error(real_clips, tmp_path):
    data = (real_clips / "bikes.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])  # moov atom at the end is lost
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        info = probe(cut)
        for _ in iter_frames(info, 64):
            pass
