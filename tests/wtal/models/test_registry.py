"""The model registry and the checkpoint format: every registered base model, in both
classifier modes, is built from the config in one place, saved and loaded back for
inference with identical outputs; files of the previous format still load."""

from __future__ import annotations

import pytest
import torch

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.data.normalize import FeatureNorm
from wtal.errors import InputFileError
from wtal.models.checkpoint import (
    FORMAT,
    load_model,
    model_payload,
    read_checkpoint,
    save_checkpoint,
)
from wtal.models.registry import BASE_MODELS, base_model, build_model
from wtal.models.settings import TextInputs
from wtal.training.setup import build_models, text_assets

CASES = [(name, mode) for name in sorted(BASE_MODELS) for mode in ("text", "baseline")]


def config_for(name: str, mode: str, **model):
    return toy_config(model={"base": name, "mode": mode, "vlc": {"enabled": False}, **model})


@pytest.fixture(scope="module")
def dataset():
    return toy_dataset(videos=8, dim=64)


@pytest.fixture(scope="module")
def text(dataset):
    return text_assets(dataset, config_for("tsm", "text"))


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_every_registered_model_is_built_from_its_config_and_keeps_the_output_contract(
    name, mode, dataset, text
):
    torch.manual_seed(0)
    config = config_for(name, mode)
    model = build_model(config["model"], 4, 64, TextInputs(text.name_vectors, text.prompt_vectors))
    assert type(model) is type(build_models(4, 64, text, config)[0])
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 30, 64), reconstruct=False)
    assert out.cas.shape == (2, 30, 5)  # C + 1 classes, background last
    assert out.foreground.shape == (2, 30)
    assert float(out.foreground.min()) >= 0 and float(out.foreground.max()) <= 1
    has_text = any(k.endswith("text.name_vectors") for k in model.state_dict())
    assert has_text == (mode == "text")
    assert base_model(config["model"]).proposals in ("attention", "cas")


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_every_registered_model_survives_the_checkpoint_round_trip(
    name, mode, dataset, text, tmp_path
):
    torch.manual_seed(1)
    config = config_for(name, mode)
    model, _ = build_models(4, 64, text, config)
    norm = FeatureNorm.fit([v.features for v in dataset.videos], "standardize")
    path = tmp_path / "model.pt"
    save_checkpoint(
        path,
        model_payload(
            model,
            iteration=7,
            config=config,
            classes=list(dataset.classes),
            feature_dim=64,
            norm=norm,
            vocabulary=list(text.vocabulary.words),
            word_vectors=text.source,
        ),
    )
    assert read_checkpoint(path)["format"] == FORMAT
    loaded = load_model(path)
    assert type(loaded.model) is type(model) and loaded.iteration == 7
    assert not loaded.model.training
    x = torch.randn(1, 25, 64)
    model.eval()
    with torch.no_grad():
        a, b = model(x, reconstruct=False), loaded.model(x, reconstruct=False)
    assert torch.equal(a.cas, b.cas) and torch.equal(a.foreground, b.foreground)
    assert loaded.norm.mean is not None and (loaded.norm.mean == norm.mean).all()


def test_a_format_1_checkpoint_still_loads(dataset, text, tmp_path):
    """Before the registry, checkpoints held TSM's weights under 'tsm' and no 'format'."""
    torch.manual_seed(2)
    config = config_for("tsm", "text")
    config["model"].pop("base")  # configs of that time had no base either
    model, _ = build_models(4, 64, text, config_for("tsm", "text"))
    payload = model_payload(
        model,
        iteration=3,
        config=config,
        classes=list(dataset.classes),
        feature_dim=64,
        norm=FeatureNorm(),
        vocabulary=list(text.vocabulary.words),
        word_vectors=text.source,
    )
    payload["tsm"] = payload.pop("model")
    del payload["format"]
    path = tmp_path / "old.pt"
    torch.save(payload, path)
    loaded = load_model(path)
    x = torch.randn(1, 20, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x, reconstruct=False).cas, loaded.model(x, reconstruct=False).cas)


def test_an_unknown_base_model_or_a_newer_format_is_refused_naming_the_file(
    dataset, text, tmp_path
):
    model, _ = build_models(4, 64, text, config_for("tsm", "baseline"))
    payload = model_payload(
        model,
        iteration=1,
        config=config_for("tsm", "baseline"),
        classes=list(dataset.classes),
        feature_dim=64,
        norm=FeatureNorm(),
        vocabulary=[],
        word_vectors="none",
    )
    payload["config"]["model"]["base"] = "resnet"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(InputFileError, match=r"unknown.pt: .*unknown base model 'resnet'"):
        load_model(tmp_path / "unknown.pt")
    payload["config"]["model"]["base"] = "tsm"
    payload["format"] = FORMAT + 1
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(InputFileError, match=r"newer.pt: .*newer than this wtal reads"):
        load_model(tmp_path / "newer.pt")


def test_an_unknown_base_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: " + ", ".join(BASE_MODELS)):
        base_model({"base": "resnet"})
