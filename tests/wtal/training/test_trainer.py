"""Training runs: determinism, bit-identical resume, selection, logs, non-finite losses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.data.dataset import Dataset
from wtal.errors import Interrupted, TrainingError
from wtal.models.checkpoint import load_model
from wtal.training import loop
from wtal.training.loop import train
from wtal.training.selection import report_on_test
from wtal.utils.files import BusyError


def state(path):
    return torch.load(path, weights_only=False)


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


@pytest.fixture(scope="module")
def data():
    return toy_dataset(16), toy_dataset(8, seed=1, subset="validation")


def test_same_seed_same_model_and_resume_is_bit_identical(data, tmp_path):
    train_set, validation = data
    config = toy_config(training={"iterations": 6, "checkpoint_every": 2})
    whole = train(config, train_set, tmp_path / "whole", validation=validation, progress=False)
    again = train(config, train_set, tmp_path / "again", validation=validation, progress=False)
    a, b = state(whole.output / "checkpoints/last.pt"), state(again.output / "checkpoints/last.pt")
    assert same_weights(a["model"], b["model"]) and same_weights(a["vlc"], b["vlc"])

    # Interrupted after iteration 3 (last checkpoint at 2), then resumed to the end; the kill
    # also cut the log's last line short.
    train(
        config, train_set, tmp_path / "resumed", validation=validation, progress=False, stop_after=3
    )
    with open(tmp_path / "resumed" / "metrics.jsonl", "a") as log:
        log.write('{"iteration": 4, "lr_vlc": 0.0')
    resumed = train(config, train_set, tmp_path / "resumed", validation=validation, progress=False)
    c = state(resumed.output / "checkpoints/last.pt")
    assert c["iteration"] == 6
    assert same_weights(a["model"], c["model"]) and same_weights(a["vlc"], c["vlc"])
    for key in ("tsm", "reconstructor", "attention"):
        sa, sc = a["optimizers"][key]["state"], c["optimizers"][key]["state"]
        assert all(torch.equal(sa[i]["exp_avg"], sc[i]["exp_avg"]) for i in sa)
    log_whole = (whole.output / "metrics.jsonl").read_text()
    log_resumed = (resumed.output / "metrics.jsonl").read_text()
    assert log_whole == log_resumed  # the log has no duplicate or missing rows either


def test_a_run_with_other_settings_is_not_resumed_silently(data, tmp_path):
    train_set, validation = data
    config = toy_config(training={"iterations": 4, "checkpoint_every": 2})
    train(config, train_set, tmp_path, validation=validation, progress=False)
    longer = toy_config(training={"iterations": 6, "checkpoint_every": 2})
    assert train(longer, train_set, tmp_path, validation=validation, progress=False).iterations == 6
    other = toy_config(training={"iterations": 6, "checkpoint_every": 2, "tsm_lr": 1e-3})
    with pytest.raises(TrainingError, match=r"training\.tsm_lr: .* -> 0\.001"):
        train(other, train_set, tmp_path, validation=validation, progress=False)
    with pytest.warns(UserWarning, match="settings changed.*starting afresh"):
        fresh = train(
            other,
            train_set,
            tmp_path,
            validation=validation,
            progress=False,
            on_config_change="restart",
        )
    assert fresh.iterations == 6
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r["iteration"] for r in rows if "losses" in r]
    assert steps == list(range(1, 7))  # the old run's rows are gone, none twice


def test_selection_on_validation_and_outputs(data, tmp_path):
    train_set, validation = data
    result = train(toy_config(), train_set, tmp_path, validation=validation, progress=False)
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["selection"] == "validation" and result.selected.name == "selected.pt"
    assert summary["selected_checkpoint"] == "selected.pt"
    assert [v["iteration"] for v in summary["validation"]] == [2, 4]
    best = max(summary["validation"], key=lambda v: v["validation"]["average_mAP"])
    assert summary["best"]["iteration"] == best["iteration"]
    assert state(result.selected)["iteration"] == best["iteration"]
    checkpoints = tmp_path / "checkpoints"
    assert result.selected.read_bytes() == (checkpoints / "best.pt").read_bytes()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in rows if "losses" in r]
    assert [r["iteration"] for r in losses] == [1, 2, 3, 4]
    assert {"mil", "co_activity", "sparsity", "guide", "reconstruction", "contrast"} <= set(
        losses[0]["losses"]
    )
    assert (tmp_path / "losses.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith(".")) == [
        "best.pt", "last.pt", "selected.pt", "untrained.pt"
    ]  # fmt: skip
    untrained = load_model(checkpoints / "untrained.pt")
    assert untrained.iteration == 0 and untrained.classes == tuple(train_set.classes)
    # Model checkpoints carry weights for inference; only last.pt carries the training state.
    training_only = {"vlc", "optimizers", "rng", "best", "validation"}
    assert training_only <= state(checkpoints / "last.pt").keys()
    for name in ("best.pt", "selected.pt", "untrained.pt"):
        assert not training_only & state(checkpoints / name).keys()
    with pytest.raises(TrainingError, match=r"no iter_\*\.pt snapshots.*keep_snapshots"):
        report_on_test(result, validation, toy_config(), every_checkpoint=True)


def test_snapshots_are_kept_on_request_and_match_the_training_state(data, tmp_path):
    train_set, _ = data
    config = toy_config(training={"selection": "last", "keep_snapshots": True})
    result = train(config, train_set, tmp_path, validation=None, progress=False)
    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("iter_*.pt")) == [
        "iter_000002.pt",
        "iter_000004.pt",
    ]
    last, final = state(checkpoints / "last.pt"), state(checkpoints / "iter_000004.pt")
    assert "optimizers" not in final and same_weights(last["model"], final["model"])
    assert same_weights(state(result.selected)["model"], last["model"])
    assert load_model(checkpoints / "iter_000002.pt").iteration == 2


def test_last_checkpoint_selection_needs_no_validation(data, tmp_path):
    train_set, _ = data
    result = train(
        toy_config(training={"selection": "last"}),
        train_set,
        tmp_path,
        validation=None,
        progress=False,
    )
    assert result.selection == "last" and result.selected.name == "selected.pt"
    assert state(result.selected)["iteration"] == 4


def test_non_finite_loss_stops_with_its_name_and_keeps_the_last_good_checkpoint(
    data, tmp_path, monkeypatch
):
    train_set, _ = data
    config = toy_config(training={"selection": "last", "iterations": 4, "checkpoint_every": 1})
    step = loop.train_step

    def diverging_at_3(model, vlc, optimizers, x, *rest):
        iteration = rest[-1]
        return step(model, vlc, optimizers, torch.full_like(x, np.inf) if iteration == 3 else x,
                    *rest)  # fmt: skip

    monkeypatch.setattr(loop, "train_step", diverging_at_3)
    with pytest.raises(
        TrainingError, match=r"loss '\w+' became (nan|inf).*last good checkpoint.*iteration 2"
    ):
        train(config, train_set, tmp_path, validation=None, progress=False)
    assert state(tmp_path / "checkpoints/last.pt")["iteration"] == 2


def test_a_non_finite_loss_before_any_checkpoint_names_no_missing_file(data, tmp_path):
    train_set, _ = data
    poisoned = tuple(
        replace(v, features=np.full_like(v.features, np.nan)) for v in train_set.videos
    )
    config = toy_config(training={"selection": "last", "checkpoint_every": 2})
    with pytest.raises(TrainingError) as error:
        train(
            config,
            Dataset("toy", train_set.classes, poisoned),
            tmp_path,
            validation=None,
            progress=False,
        )
    message = str(error.value)
    assert "at iteration 1" in message and "before its first checkpoint" in message
    assert "last.pt" not in message and not (tmp_path / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize(
    "sections",
    [
        {"model": {"preset": "paper"}},
        {"model": {"mode": "baseline"}},
        {"model": {"mode": "baseline", "vlc": {"enabled": False}}},
        {"model": {"prompt": "handcrafted"}},
        {"model": {"vlc": {"reconstructor": "gru"}}},
        {"model": {"vlc": {"reconstructor": "lstm", "objective": "masked"}}},
        {"model": {"vlc": {"consistency": "kl"}}},
        {"model": {"vlc": {"consistency": "mae"}}},
        {"model": {"vlc": {"consistency": "share"}}},
        {"model": {"vlc": {"consistency": "none"}}},
        {"model": {"vlc": {"enabled": False}}},
        {"model": {"vlc": {"template": "a [CLS]"}}},
        {"model": {"vlc": {"template": "a video of action [CLS]"}}},
        {"model": {"pool_width": 13, "k_divisor": 5}, "losses": {"consistency": 0.25}},
        {"features": {"normalize": "standardize"}, "model": {"temperature": 4.0}},
    ],
    ids=lambda s: json.dumps(s, separators=(",", ":")),
)
def test_every_ablation_switch_trains(data, tmp_path, sections):
    train_set, _ = data
    config = toy_config(training={"selection": "last", "iterations": 2}, **sections)
    result = train(config, train_set, tmp_path, validation=None, progress=False)
    assert result.iterations == 2


def test_a_dataset_without_features_is_a_clear_error(data, tmp_path):
    from dataclasses import replace

    train_set, _ = data
    bare = Dataset(
        "toy", train_set.classes, tuple(replace(v, features=None) for v in train_set.videos)
    )
    with pytest.raises(TrainingError, match="none of its 16 training videos has both features"):
        train(toy_config(), bare, tmp_path, validation=None, progress=False)


def test_train_splits_validation_itself_as_wtal_train_does_and_records_the_config_files(
    data, tmp_path
):
    """train() without a validation argument holds out training.validation_fraction of the
    training videos (stratified, seeded), as `wtal train` does; None selects nothing."""
    from wtal.data.splits import split_validation

    train_set, _ = data
    config = toy_config(training={"iterations": 2, "validation_fraction": 0.25})
    result = train(
        config, train_set, tmp_path / "split", progress=False, config_files=("a.yaml", "b.yaml")
    )
    summary = json.loads((tmp_path / "split" / "training.json").read_text())
    kept, held = split_validation(train_set, 0.25, config["training"]["seed"])
    assert summary["train_videos"] == len(kept.videos) and summary["validation_videos"] == len(
        held.videos
    )
    assert 0 < len(held.videos) < len(train_set.videos)
    assert result.selection == "validation" and summary["validation"]
    assert summary["config_files"] == ["a.yaml", "b.yaml"]
    assert summary["threads"] == torch.get_num_threads()
    assert "config_files" not in summary["config"]
    none = train(config, train_set, tmp_path / "none", validation=None, progress=False)
    assert none.selection == "last"
    assert json.loads((tmp_path / "none" / "training.json").read_text())["train_videos"] == 16


#: What Snakemake deletes before it reruns the workflow's train job (the rule's outputs).
RULE_OUTPUTS = ("training.json", "checkpoints/selected.pt", "checkpoints/untrained.pt")
#: ... and the others (last.pt holds equal values, not always equal bytes: a resumed run's
#: strings pickle without the memo sharing of a fresh run's).
OUTPUTS = (*RULE_OUTPUTS, "losses.png", "metrics.jsonl")


def contents(folder):
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


@pytest.mark.parametrize("selection", ["validation", "last"])
def test_a_finished_run_rerun_without_its_outputs_writes_them_again_identically(
    data, tmp_path, selection
):
    """A forced or repeated train job: Snakemake deletes the rule's outputs, then reruns
    `wtal train --restart-on-change` under the same settings and data. Resuming from the
    finished last.pt wrote no untrained.pt (MissingOutputException), and the selected
    checkpoint was best.pt, which Snakemake had deleted with no way to make it again."""
    train_set, validation = data
    config = toy_config(training={"selection": selection})
    validation = validation if selection == "validation" else None
    first = train(config, train_set, tmp_path, validation=validation, progress=False)
    assert first.selected == tmp_path / "checkpoints" / "selected.pt"
    before = contents(tmp_path)
    for name in RULE_OUTPUTS:
        (tmp_path / name).unlink()
    again = train(
        config, train_set, tmp_path, validation=validation, progress=False,
        on_config_change="restart",
    )  # fmt: skip
    assert again.selected == first.selected
    assert contents(tmp_path) == before


def test_a_run_killed_mid_way_and_resumed_without_its_outputs_equals_an_uninterrupted_one(
    data, tmp_path
):
    train_set, validation = data
    config = toy_config(training={"iterations": 6, "checkpoint_every": 2})
    train(config, train_set, tmp_path / "whole", validation=validation, progress=False)
    resumed = tmp_path / "resumed"
    train(config, train_set, resumed, validation=validation, progress=False, stop_after=3)
    (resumed / "checkpoints" / "untrained.pt").unlink()  # Snakemake deletes it before a rerun
    train(config, train_set, resumed, validation=validation, progress=False)
    assert contents(resumed) == contents(tmp_path / "whole")
    assert (resumed / "checkpoints" / "best.pt").read_bytes() == (
        tmp_path / "whole" / "checkpoints" / "best.pt"
    ).read_bytes()


def test_a_run_on_other_data_is_not_resumed(data, tmp_path):
    """A replaced video (its features remade) must not resume the run trained on the old
    one: the report would describe a model trained on the old video."""
    train_set, validation = data
    config = toy_config()
    train(config, train_set, tmp_path, validation=validation, progress=False)
    video = train_set.videos[3]
    changed = replace(
        train_set,
        videos=(*train_set.videos[:3], replace(video, features=video.features + 0.5),
                *train_set.videos[4:]),
    )  # fmt: skip
    with pytest.raises(TrainingError, match="the training data changed"):
        train(config, changed, tmp_path, validation=validation, progress=False)
    with pytest.warns(UserWarning, match="the training data changed.*starting afresh"):
        train(config, changed, tmp_path, validation=validation, progress=False,
              on_config_change="restart")  # fmt: skip
    fresh = tmp_path / "fresh"
    train(config, changed, fresh, validation=validation, progress=False)
    assert contents(tmp_path) == contents(fresh)
    summary = json.loads((tmp_path / "training.json").read_text())
    assert len(summary["data_digest"]) == 64


def test_two_runs_cannot_write_one_folder_at_once(data, tmp_path):

    train_set, validation = data
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from wtal.utils.files import exclusive_lock\n"
         f"with exclusive_lock({str(tmp_path / '.lock')!r}, 'x'):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError, match=rf"{tmp_path}: another wtal run \(pid {holder.pid}\)"):
            train(toy_config(), train_set, tmp_path, validation=validation, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "checkpoints").exists()


class InterruptedWriter:
    """A file that Ctrl-C reaches at its ``at``-th write, as a signal can land inside
    ``torch.save``'s zip writer (whose own error may then hide the interrupt)."""

    def __init__(self, handle, at):
        self.handle, self.writes, self.at = handle, 0, at

    def write(self, data):
        self.writes += 1
        if self.writes == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.mark.parametrize("at", [1, 3, 6])
def test_ctrl_c_inside_a_checkpoint_write_is_an_interrupt_and_names_what_is_kept(
    data, tmp_path, monkeypatch, at
):
    train_set, _ = data
    config = toy_config(training={"selection": "last", "iterations": 6, "checkpoint_every": 2})
    real_save, saves = torch.save, []

    def save_interrupted_at_the_second(payload, handle, *args, **kwargs):
        if "optimizers" in payload:  # a training state (last.pt), not a model
            saves.append(payload["iteration"])
            if len(saves) == 2:
                handle = InterruptedWriter(handle, at)
        return real_save(payload, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_interrupted_at_the_second)
    with pytest.raises(Interrupted) as caught:
        train(config, train_set, tmp_path, validation=None, progress=False)
    kept = state(tmp_path / "checkpoints/last.pt")["iteration"]
    assert kept == saves[1] == 4  # the write under way finished, then the run stopped
    assert f"the last checkpoint (iteration {kept}," in str(caught.value)
