"""Device correctness of training: one step on CUDA equals the CPU step, checkpoints cross
between CUDA and CPU, a CUDA run resumes with its own random state; and the CPU halves of
these checks (float32 against float64 on the same step, a checkpoint saved on CUDA read on a
machine without one, the process state a CPU run leaves behind), which run everywhere.

Tolerances (float32 with TF32 off; the float32 step against the float64 one, measured on the
CPU, is the scale: tests below check that margin in CI):

- every loss term: ``|a - b| <= LOSS_ATOL + LOSS_RTOL |b|``; float32 against float64 gives
  at most 3e-6 relative (the contrast hinge, a difference of near-equal losses), else 1e-7;
- the gradients each optimiser step sees, per optimiser, as one vector:
  ``||a - b|| <= GRAD_RTOL ||b||``; float32 against float64 gives 8e-6 at 64-d and 8e-5 at
  512-d (the reconstructor; TSM's are 1e-6);
- the first update of the parameters, per model, as one vector: ``UPDATE_RTOL``. Adam's
  first step is about ``lr x sign(g)``, so entries whose gradient is rounding noise (for
  instance the key biases, whose exact gradient is zero: softmax ignores a constant shift)
  move by +-lr on either device: float32 against float64 gives 1.2e-3 (paper preset VLC).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.serialization
from torch import nn

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.config.sections import TrainingSettings, read_section
from wtal.inference.run import run_split
from wtal.models.checkpoint import load_model, read_checkpoint
from wtal.models.text_encoder import DropPath
from wtal.models.vlc import SentenceBatch
from wtal.training.batches import gather_batch, sample_batch
from wtal.training.loop import train
from wtal.training.setup import build_models, sentence_table, text_assets
from wtal.training.step import make_optimizers, train_step
from wtal.utils.devices import tf32

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICE = "cuda"  # the device the CUDA tests compare with the CPU

LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-6
GRAD_RTOL = 1e-3
UPDATE_RTOL = 1e-2


def tf32_off() -> contextlib.AbstractContextManager[None]:
    """TF32 off (cuDNN convolutions use it by default) inside the block; restored after."""
    return tf32(False)


@pytest.fixture
def exact_float32() -> Iterator[None]:
    with tf32_off():
        yield


@dataclass
class Batch:
    features: torch.Tensor
    labels: torch.Tensor
    sentences: SentenceBatch

    def to(self, device: torch.device, dtype: torch.dtype) -> Batch:
        s = self.sentences
        return Batch(
            self.features.to(device, dtype),
            self.labels.to(device),
            SentenceBatch(s.ids.to(device), s.lengths.to(device), s.key_words.to(device)),
        )


def without_dropout(*models: nn.Module) -> None:
    """Dropout draws come from each device's own generator, so they cannot match across
    devices: the comparison is of everything else."""
    for model in models:
        for module in model.modules():
            if isinstance(module, (nn.Dropout, DropPath)):
                module.p = 0.0


def toy_problem(preset: str, dim: int = 64, seqlen: int = 24):
    """Config, CPU models (seed 0, no dropout) and one batch of the toy dataset."""
    config = toy_config(model={"preset": preset}, training={"max_seqlen": seqlen})
    torch.manual_seed(0)
    data = toy_dataset(dim=dim)
    text = text_assets(data, config)
    tsm, vlc = build_models(len(data.classes), dim, text, config)
    without_dropout(tsm, vlc)
    rng = np.random.default_rng(0)
    labels = data.label_matrix()
    rows = sample_batch(labels, rng)
    x = gather_batch([v.features for v in data.videos], rows, seqlen, rng)
    ids, key, lengths = sentence_table(data, config["model"]["vlc"]["template"], text.vocabulary)
    sentences = SentenceBatch(
        torch.from_numpy(ids[rows]), torch.from_numpy(lengths[rows]), torch.from_numpy(key[rows])
    )
    return config, tsm, vlc, Batch(torch.from_numpy(x), torch.from_numpy(labels[rows]), sentences)


@dataclass
class StepRecord:
    losses: dict[str, float]
    grads: dict[str, list[torch.Tensor]]  # per optimiser, what its step saw (float64, CPU)
    updates: dict[str, list[torch.Tensor]]  # per model, parameter after - before


def host(tensor: torch.Tensor) -> torch.Tensor:
    """A float64 CPU copy (never a view: in float64 on the CPU ``.double().cpu()`` is the
    tensor itself, which the optimiser then changes in place)."""
    return tensor.detach().to("cpu", torch.float64, copy=True)


def record_step(
    config, tsm: nn.Module, vlc: nn.Module, batch: Batch, device: str, dtype=torch.float32
) -> StepRecord:
    """One ``train_step`` of copies of the models on ``device`` in ``dtype``."""
    tsm, vlc = copy.deepcopy((tsm, vlc))
    tsm.to(device, dtype)
    vlc.to(device, dtype)
    optimizers = make_optimizers(tsm, vlc, read_section(config, TrainingSettings))
    grads: dict[str, list[torch.Tensor]] = {}

    def recording(name: str, optimizer: torch.optim.Optimizer) -> None:
        original = optimizer.step

        def step(*args, **kwargs):
            grads[name] = [
                host(p.grad)
                for group in optimizer.param_groups
                for p in group["params"]
                if p.grad is not None
            ]
            return original(*args, **kwargs)

        optimizer.step = step

    for name, optimizer in vars(optimizers).items():
        if optimizer is not None:
            recording(name, optimizer)
    models = {"tsm": tsm, "vlc": vlc}
    before = {k: [host(p) for p in m.parameters()] for k, m in models.items()}
    on = batch.to(torch.device(device), dtype)
    losses = train_step(
        tsm,
        vlc,
        optimizers,
        on.features,
        on.labels,
        on.sentences,
        config,
        np.random.default_rng(1),
        1,
    )
    updates = {
        k: [host(p) - b for p, b in zip(m.parameters(), before[k], strict=True)]
        for k, m in models.items()
    }
    return StepRecord(losses, grads, updates)


def relative_error(found: list[torch.Tensor], expected: list[torch.Tensor]) -> float:
    """``||found - expected|| / ||expected||`` over all tensors as one vector."""
    assert [t.shape for t in found] == [t.shape for t in expected]
    num = sum(float(((a - b) ** 2).sum()) for a, b in zip(found, expected, strict=True))
    den = sum(float((b**2).sum()) for b in expected)
    return (num / den) ** 0.5


def assert_same_step(found: StepRecord, expected: StepRecord) -> None:
    assert found.losses.keys() == expected.losses.keys()
    for name, value in expected.losses.items():
        assert abs(found.losses[name] - value) <= LOSS_ATOL + LOSS_RTOL * abs(value), (
            name,
            found.losses[name],
            value,
        )
    assert found.grads.keys() == expected.grads.keys() == {"tsm", "reconstructor", "attention"}
    for name in expected.grads:
        assert relative_error(found.grads[name], expected.grads[name]) <= GRAD_RTOL, name
    for name in expected.updates:
        assert relative_error(found.updates[name], expected.updates[name]) <= UPDATE_RTOL, name


# ------------------------------------------------------------------ the step


@pytest.mark.parametrize("preset", ["official", "paper"])  # fairseq's and torch's Adam for VLC
def test_the_float32_step_is_within_the_cuda_tolerances_of_float64(preset):
    """The scale of the tolerances (float32 rounding on the CPU), and a step that creates no
    tensor of a fixed dtype: in float64 every tensor it makes must follow its inputs."""
    config, tsm, vlc, batch = toy_problem(preset)
    exact = record_step(config, tsm, vlc, batch, "cpu", torch.float64)
    single = record_step(config, tsm, vlc, batch, "cpu", torch.float32)
    assert_same_step(single, exact)
    assert any(u.abs().max() > 0 for u in exact.updates["vlc"])  # the comparison saw updates


@CUDA
@pytest.mark.parametrize(
    ("preset", "dim", "seqlen"),
    [("official", 64, 24), ("paper", 64, 24), ("official", 512, 128)],
    ids=["official-64d", "paper-64d", "official-512d"],
)
def test_one_step_on_cuda_equals_the_cpu_step(preset, dim, seqlen, exact_float32):
    config, tsm, vlc, batch = toy_problem(preset, dim, seqlen)
    cpu = record_step(config, tsm, vlc, batch, "cpu")
    cuda = record_step(config, tsm, vlc, batch, DEVICE)
    assert_same_step(cuda, cpu)


# ------------------------------------------------------------------ checkpoints across devices


@contextlib.contextmanager
def saved_as_cuda() -> Iterator[None]:
    """Inside the block, ``torch.save`` records CPU tensors as living on ``cuda:0``: the file
    is what a CUDA run writes, and without CUDA it loads only with a ``map_location``.
    (torch.serialization has no public way to unregister a location tagger, so the entry is
    removed from its registry by hand.)"""
    registry = torch.serialization._package_registry

    def tag(storage):
        return "cuda:0" if storage.device.type == "cpu" else None

    def no_restore(storage, location):
        return None

    entry = (1, tag, no_restore)
    registry.append(entry)
    registry.sort(key=lambda item: item[0])
    try:
        yield
    finally:
        registry.remove(entry)


def resave_as_cuda(path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    with saved_as_cuda():
        torch.save(state, path)
    if not torch.cuda.is_available():  # the file really claims CUDA
        with pytest.raises(RuntimeError, match="CUDA device"):
            torch.load(path, weights_only=True)


@pytest.fixture(scope="module")
def data():
    return toy_dataset(16), toy_dataset(8, seed=1, subset="validation")


def assert_same_predictions(found: dict, expected: dict, rtol: float = 1e-5) -> None:
    """The same detections (labels and segments exactly, scores to ``rtol``) and video
    scores. Exact segments assume no attention value lies within float rounding of a
    threshold, which holds for these seeded videos."""
    assert found["results"].keys() == expected["results"].keys()
    for video, rows in expected["results"].items():
        got = found["results"][video]
        assert [(r["label"], r["segment"]) for r in got] == [
            (r["label"], r["segment"]) for r in rows
        ], video
        np.testing.assert_allclose(
            [r["score"] for r in got], [r["score"] for r in rows], rtol=rtol, atol=1e-7
        )
        for label, score in expected["video_scores"][video].items():
            assert found["video_scores"][video][label] == pytest.approx(score, rel=rtol, abs=1e-7)


def test_a_checkpoint_saved_on_cuda_loads_and_predicts_on_a_machine_without_it(data, tmp_path):
    train_set, validation = data
    config = toy_config(training={"selection": "last", "device": "cpu"})
    result = train(config, train_set, tmp_path, validation=None, progress=False)
    reference = load_model(result.selected)
    expected = run_split(reference.model, validation, reference.norm, config, torch.device("cpu"))
    resave_as_cuda(result.selected)
    assert read_checkpoint(result.selected)["model"]  # read_checkpoint maps to the CPU itself
    loaded = load_model(result.selected, "cpu")
    assert {p.device.type for p in loaded.model.state_dict().values()} == {"cpu"}
    found = run_split(loaded.model, validation, loaded.norm, config, torch.device("cpu"))
    assert found.predictions == expected.predictions  # same weights, same device: bit for bit


def test_a_training_state_saved_on_cuda_resumes_on_the_cpu_bit_for_bit(data, tmp_path):
    train_set, _ = data
    config = toy_config(training={"iterations": 6, "checkpoint_every": 2, "selection": "last"})
    whole = train(config, train_set, tmp_path / "whole", validation=None, progress=False)
    train(config, train_set, tmp_path / "resumed", validation=None, progress=False, stop_after=3)
    resave_as_cuda(tmp_path / "resumed" / "checkpoints" / "last.pt")  # with optimiser moments
    resumed = train(config, train_set, tmp_path / "resumed", validation=None, progress=False)
    a = torch.load(whole.output / "checkpoints/last.pt", weights_only=True)
    b = torch.load(resumed.output / "checkpoints/last.pt", weights_only=True)
    for model in ("model", "vlc"):
        assert all(torch.equal(a[model][k], b[model][k]) for k in a[model])
    log = (whole.output / "metrics.jsonl").read_text()
    assert log == (resumed.output / "metrics.jsonl").read_text()


def test_a_cpu_run_leaves_the_deterministic_mode_as_it_found_it(data, tmp_path):
    """A CPU run makes its algorithms deterministic; left on, it makes every later cuBLAS
    call of the process fail (without CUBLAS_WORKSPACE_CONFIG), e.g. a CUDA run after it."""
    train_set, _ = data
    before = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(False)
        train(
            toy_config(training={"selection": "last"}),
            train_set,
            tmp_path,
            validation=None,
            progress=False,
        )
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


# ------------------------------------------------------------------ CUDA runs


@CUDA
@pytest.mark.parametrize("trained_on", [DEVICE, "cpu"])
def test_a_checkpoint_moves_between_cuda_and_cpu_and_predicts_the_same(
    data, tmp_path, trained_on, exact_float32
):
    train_set, validation = data
    config = toy_config(training={"selection": "last", "device": trained_on})
    result = train(config, train_set, tmp_path, validation=None, progress=False)
    saved = torch.load(result.selected, map_location="cpu", weights_only=True)
    predictions = {}
    for device in ("cpu", DEVICE):
        loaded = load_model(result.selected, device)
        assert {p.device.type for p in loaded.model.state_dict().values()} == {device}
        for key, value in loaded.model.state_dict().items():
            assert torch.equal(value.cpu(), saved["model"][key].cpu()), key
        run = run_split(loaded.model, validation, loaded.norm, config, torch.device(device))
        predictions[device] = run.predictions
    assert_same_predictions(predictions[DEVICE], predictions["cpu"])


def _logged_losses(output: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    return [r["losses"] for r in rows if "losses" in r]


@CUDA
def test_a_cuda_run_resumes_with_its_cuda_random_state(data, tmp_path):
    """Dropout on CUDA draws from the CUDA generator: last.pt must carry its state, or the
    resumed run replays the draws of iteration 1 (losses then differ by 0.1-0.3 relative:
    measured on the CPU with the generator left unrestored). The generator's state after
    the same draws is bit for bit the same; the losses agree to float rounding (CUDA's
    reductions are not bitwise deterministic)."""
    train_set, _ = data
    config = toy_config(
        training={"iterations": 6, "checkpoint_every": 2, "selection": "last", "device": DEVICE}
    )
    whole = train(config, train_set, tmp_path / "whole", validation=None, progress=False)
    train(config, train_set, tmp_path / "resumed", validation=None, progress=False, stop_after=3)
    resumed = train(config, train_set, tmp_path / "resumed", validation=None, progress=False)
    a = torch.load(whole.output / "checkpoints/last.pt", map_location="cpu", weights_only=True)
    b = torch.load(resumed.output / "checkpoints/last.pt", map_location="cpu", weights_only=True)
    assert a["rng"]["cuda"] is not None and torch.equal(a["rng"]["cuda"], b["rng"]["cuda"])
    for expected, found in zip(
        _logged_losses(whole.output), _logged_losses(resumed.output), strict=True
    ):
        for name, value in expected.items():
            assert found[name] == pytest.approx(value, rel=1e-3, abs=1e-6), name
