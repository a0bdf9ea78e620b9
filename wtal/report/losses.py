"""The loss curve of a training run: every logged loss (symlog scale) above the mean
attention and, where the run validated, the validation average mAP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wtal.report.plotting import new_figure, save_png


def _rows(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def plot_losses(log: str | os.PathLike[str], output: str | os.PathLike[str]) -> None:
    """``output`` (PNG) from a run's ``metrics.jsonl``; nothing when it logged no losses."""
    rows = _rows(Path(log))
    steps = [r for r in rows if "losses" in r]
    if not steps:
        return
    names = sorted({k for r in steps for k in r["losses"] if k not in ("attention_mean",)})
    figure = new_figure(figsize=(9, 7))
    top, bottom = figure.subplots(2, 1, sharex=True)
    for name in names:
        xs = [r["iteration"] for r in steps if name in r["losses"]]
        top.plot(xs, [r["losses"][name] for r in steps if name in r["losses"]], label=name, lw=1)
    top.set_yscale("symlog", linthresh=1e-2)
    top.set_ylabel("loss")
    top.legend(fontsize=7, ncol=3)
    bottom.plot(
        [r["iteration"] for r in steps],
        [r["losses"]["attention_mean"] for r in steps],
        label="mean attention (att_m)",
        color="black",
        lw=1,
    )
    evals = [r for r in rows if "validation" in r]
    if evals:
        axis = bottom.twinx()
        axis.plot(
            [r["iteration"] for r in evals],
            [r["validation"]["average_mAP"] for r in evals],
            "o-",
            color="tab:red",
            label="validation avg mAP",
        )
        axis.set_ylabel("validation avg mAP", color="tab:red")
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("mean attention")
    figure.tight_layout()
    save_png(figure, output)
