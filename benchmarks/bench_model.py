#!/usr/bin/env python3
"""Benchmark: one TSM + VLC training iteration on the CPU, split by component.

    python -m benchmarks.bench_model [--repeats 3] [--widths 2048 512]

For the THUMOS14 batch shape (10 videos x 320 segments) at the paper's width (2048-d
features) and at the CPU configuration's width (512-d, max_seqlen 128), prints the median
seconds of: the whole iteration, TSM forward + losses, TSM backward, the VLC reconstructor pass
(step 2, two reconstructions + backward), the VLC attention pass (step 3, three
reconstructions + backward); and the process's peak RSS. Nothing is computed whose result is
unused (the authors' code ran a further transformer pass per step and discarded it).
"""

from __future__ import annotations

import argparse
import resource

import numpy as np
import torch

from benchmarks.bench_i3d import machine
from benchmarks.timing import median_seconds
from tests.wtal.training.toy import CLASSES, toy_config
from wtal.config.sections import TrainingSettings, read_section
from wtal.data.dataset import Dataset, VideoRecord
from wtal.models import losses as L
from wtal.models.vlc import SentenceBatch, reconstruction_nll
from wtal.training.setup import build_models, sentence_table, text_assets
from wtal.training.step import make_optimizers, train_step


def fake_dataset(dim: int) -> Dataset:
    rng = np.random.default_rng(0)
    videos = tuple(
        VideoRecord(
            f"v{i}",
            "validation",
            100.0,
            (CLASSES[i % 4],),
            np.array([[1.0, 2.0]]),
            (CLASSES[i % 4],),
            np.zeros((0, 2)),
            rng.standard_normal((40, dim)).astype(np.float32),
        )
        for i in range(8)
    )
    return Dataset("bench", CLASSES, videos)


def bench(dim: int, seqlen: int, repeats: int) -> None:
    torch.manual_seed(0)
    config = toy_config(training={"max_seqlen": seqlen})
    data = fake_dataset(dim)
    text = text_assets(data, config)
    tsm, vlc = build_models(len(CLASSES), dim, text, config)
    optimizers = make_optimizers(tsm, vlc, read_section(config, TrainingSettings))
    rng = np.random.default_rng(0)
    x = torch.randn(10, seqlen, dim) * (10 / dim**0.5)
    y = torch.zeros(10, len(CLASSES))
    y[torch.arange(10), torch.arange(10) % len(CLASSES)] = 1
    ids, key, lengths = sentence_table(data, config["model"]["vlc"]["template"], text.vocabulary)
    rows = np.arange(10) % len(data.videos)
    sentences = SentenceBatch(
        torch.from_numpy(ids[rows]), torch.from_numpy(lengths[rows]), torch.from_numpy(key[rows])
    )
    whole = median_seconds(
        lambda: train_step(tsm, vlc, optimizers, x, y, sentences, config, rng, 1),
        repeats,
        warmup=True,
    )

    def tsm_forward():
        out = tsm(x)
        return L.mil_loss(out.cas, out.suppressed, y, 7) + L.co_activity_loss(
            out.embedding0, out.suppressed, y, 3
        )

    forward = median_seconds(tsm_forward, repeats, warmup=True)
    backward = median_seconds(lambda: tsm_forward().backward(), repeats, warmup=True) - forward
    objective = config["model"]["vlc"]["objective"]

    def rec(inputs, weights):
        return reconstruction_nll(vlc.decode(inputs, weights), inputs).mean()

    def reconstructor_pass():
        with torch.no_grad():
            still = vlc.attend(x)
        inputs = vlc.inputs(still, sentences, objective, None)
        (rec(inputs, still.attention) + rec(inputs, torch.ones_like(still.attention))).backward()

    def attention_pass():
        live = vlc.attend(x)
        inputs = vlc.inputs(live, sentences, objective, None)
        ones = torch.ones_like(live.attention)
        (
            rec(inputs, live.attention) + rec(inputs, ones) + rec(inputs, 1 - live.attention)
        ).backward()

    step2 = median_seconds(reconstructor_pass, repeats, warmup=True)
    step3 = median_seconds(attention_pass, repeats, warmup=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"features {dim}-d, batch 10 x {seqlen}: iteration {whole:.2f} s | TSM forward+losses "
        f"{forward:.2f} s, TSM backward {backward:.2f} s | VLC step 2 (2 passes + backward) "
        f"{step2:.2f} s | VLC step 3 (3 passes + backward) {step3:.2f} s | peak RSS so far "
        f"{peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(machine())
    bench(512, 128, args.repeats)  # the CPU configuration (smaller first: RSS is cumulative)
    bench(2048, 320, args.repeats)  # the paper's width and THUMOS batch shape


if __name__ == "__main__":
    main()
