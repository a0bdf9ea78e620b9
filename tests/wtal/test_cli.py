"""The `wtal` command: help for every subcommand, evaluate end to end, clear errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from wtal.cli import build_parser, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wtal.cli", *args], capture_output=True, text=True, check=False
    )


def command_names() -> list[str]:
    parser = build_parser()
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(subparsers.choices)


def test_the_commands_are_all_there():
    assert command_names() == [
        "compare",
        "convert-annotations",
        "dataset-info",
        "decode",
        "evaluate",
        "extract",
        "fetch-weights",
        "flow",
        "infer",
        "localize",
        "make-demo-videos",
        "make-synthetic",
        "pack-features",
        "report",
        "split-features",
        "train",
    ]


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage: wtal" in capsys.readouterr().out


def gt_and_predictions(tmp_path):
    gt = {
        "database": {
            "v1": {
                "subset": "test",
                "duration": 60,
                "annotations": [
                    {"segment": [10, 20], "label": "A"},
                    {"segment": [30, 40], "label": "B"},
                ],
            },
            "v2": {
                "subset": "test",
                "duration": 60,
                "annotations": [{"segment": [5, 9], "label": "A"}],
                "ambiguous": [[50, 55]],
            },
            "v3": {
                "subset": "validation",
                "duration": 60,
                "annotations": [{"segment": [1, 2], "label": "A"}],
            },
        }
    }
    pred = {
        "results": {
            "v1": [
                {"segment": [10, 21], "label": "A", "score": 0.9},
                {"segment": [31, 40], "label": "B", "score": 0.8},
            ],
            "v2": [
                {"segment": [5, 9], "label": "A", "score": 0.7},
                {"segment": [51, 53], "label": "A", "score": 0.95},
            ],
        }
    }
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    return tmp_path / "gt.json", tmp_path / "pred.json"


def test_evaluate_end_to_end(tmp_path):
    gt, pred = gt_and_predictions(tmp_path)
    out = tmp_path / "metrics.json"
    result = run_cli(
        "evaluate",
        "--ground-truth",
        str(gt),
        "--predictions",
        str(pred),
        "--subset",
        "test",
        "--tiou",
        "0.1:0.7:0.1",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "avg 0.3:0.7" in result.stdout
    metrics = json.loads(out.read_text())
    assert metrics["tiou"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    # Class A: the 0.95 false alarm comes first -> precision [0, .5, 2/3] -> AP 2/3 up to
    # tIoU 10/11; class B: 0.9 tIoU -> AP 1. mAP = 5/6 at every threshold.
    assert metrics["mAP"] == pytest.approx([5 / 6] * 7)
    assert metrics["per_class_AP"]["B"] == [1.0] * 7
    assert metrics["average_mAP"] == pytest.approx(5 / 6)
    assert set(metrics["average_mAP_ranges"]) == {"0.1:0.5", "0.3:0.7", "0.1:0.7"}
    assert all(0 <= m <= 1 for m in metrics["mAP"])

    # With the ambiguous interval [50, 55] the false alarm is dropped: every AP is 1.
    filtered = tmp_path / "filtered.json"
    result = run_cli(
        "evaluate",
        "--ground-truth",
        str(gt),
        "--predictions",
        str(pred),
        "--filter-ambiguous",
        "--output",
        str(filtered),
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(filtered.read_text())
    assert metrics["mAP"] == [1.0] * 7
    assert metrics["counts"]["predictions_dropped_ambiguous"] == 1
    assert metrics["protocol"]["ambiguous_filter"] is True


def test_evaluate_errors_name_the_file(tmp_path):
    gt, pred = gt_and_predictions(tmp_path)
    result = run_cli(
        "evaluate", "--ground-truth", str(gt), "--predictions", str(pred), "--subset", "tset"
    )
    assert result.returncode == 1
    assert f"{gt}: unknown subset 'tset'" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli(
        "evaluate", "--ground-truth", str(gt), "--predictions", str(pred), "--tiou", "0.7:0.1:0.1"
    )
    assert result.returncode == 1 and "bad tIoU thresholds" in result.stderr


def test_convert_annotations_and_dataset_info(thumos_annotations, tmp_path):
    result = run_cli(
        "convert-annotations",
        str(thumos_annotations),
        "--name",
        "thumos14",
        "--output",
        str(tmp_path / "gt.json"),
    )
    assert result.returncode == 0, result.stderr
    assert "412 videos, 6365 instances, 20 classes" in result.stdout
    assert "empty-video-labels] video_test_0000270" in result.stdout
    data = json.loads((tmp_path / "gt.json").read_text())
    assert data["database"]["video_test_0000278"]["ambiguous"][0] == [0.0, 1.4]
    result = run_cli(
        "dataset-info",
        str(tmp_path / "gt.json"),
        "--format",
        "activitynet",
        "--output",
        str(tmp_path / "summary.json"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["subsets"]["test"]["instances"] == 3358


def test_os_errors_are_one_line_naming_the_file(tmp_path):
    # A folder where the predictions file should be written: one line, exit 1, the path named.
    gt, pred = gt_and_predictions(tmp_path)
    folder = tmp_path / "metrics_dir"
    folder.mkdir()
    result = run_cli(
        "evaluate", "--ground-truth", str(gt), "--predictions", str(pred), "--output", str(folder)
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(folder) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_describe_os_error_drops_the_errno_prefix():
    import errno

    from wtal.cli import describe_os_error

    exc = OSError(errno.ENOSPC, "No space left on device", "/data/out/rgb.npy")
    assert describe_os_error(exc) == "/data/out/rgb.npy: no space left on device"


def test_an_ambiguous_file_that_is_not_utf8_or_is_a_folder_is_named(tmp_path):
    gt, pred = gt_and_predictions(tmp_path)
    latin = tmp_path / "Ambiguous_test.txt"
    latin.write_bytes("v2 50 55 # d\xe9but\n".encode("latin-1"))
    for bad, problem in ((latin, "not UTF-8 text"), (tmp_path, "is a directory")):
        result = run_cli(
            "evaluate",
            "--ground-truth",
            str(gt),
            "--predictions",
            str(pred),
            "--ambiguous",
            str(bad),
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"{bad}: {problem}" in result.stderr, result.stderr


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The command failed with exit 1 and a single line on stderr (no traceback)."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_evaluate_a_huge_integer_score_is_one_line_naming_the_entry(tmp_path):
    gt, pred = gt_and_predictions(tmp_path)
    data = json.loads(pred.read_text())
    data["results"]["v1"][1]["score"] = 10**400
    pred.write_text(json.dumps(data))
    result = run_cli("evaluate", "--ground-truth", str(gt), "--predictions", str(pred))
    line = one_line_error(result)
    assert line == (
        f"wtal evaluate: error: {pred}: results/v1/1: score is an integer of 401 digits, "
        "too large for a float"
    )


def test_evaluate_caps_the_number_of_thresholds_naming_the_option(tmp_path):
    gt, pred = gt_and_predictions(tmp_path)
    result = run_cli(
        "evaluate", "--ground-truth", str(gt), "--predictions", str(pred), "--tiou", "0.1:0.7:1e-9"
    )
    line = one_line_error(result)
    assert line.startswith("wtal evaluate: error: --tiou: bad tIoU thresholds '0.1:0.7:1e-9'")
    assert "600,000,001 thresholds, at most 1,000" in line


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc are Linux's")
def test_evaluate_out_of_memory_is_one_line_naming_the_file_and_its_size(tmp_path):
    gt, _ = gt_and_predictions(tmp_path)
    row = {"segment": [10.0, 21.0], "label": "A", "score": 0.5}
    pred = tmp_path / "big.json"
    pred.write_text(json.dumps({"results": {"v1": [row] * 500_000}}))  # 27 MB
    # Address space limited to what the interpreter holds now plus 16 MB: reading fails.
    script = (
        "import resource, sys\n"
        "import wtal.evaluation, wtal.utils.files\n"
        "from wtal.cli import main\n"
        "status = open('/proc/self/status').read().split('VmSize:')[1].split()[0]\n"
        "limit = int(status) * 1024 + 16 * 2**20\n"
        "hard = resource.getrlimit(resource.RLIMIT_AS)[1]\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, hard))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "evaluate", "--ground-truth", str(gt), "--predictions",
         str(pred)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    line = one_line_error(result)
    size = pred.stat().st_size
    assert line.startswith(
        f"wtal evaluate: error: {pred}: evaluation ran out of memory reading it "
        f"(the file is {size / 1e6:.1f} MB"
    ), line


def test_running_out_of_memory_is_one_line(monkeypatch, capsys):
    """A MemoryError anywhere in a command (the evaluator names its files itself) ends in one
    line, not a traceback."""
    from wtal.commands import dataset_info

    def runs_out(args):
        raise MemoryError("Unable to allocate 7.45 GiB for an array")

    monkeypatch.setattr(dataset_info, "run", runs_out)
    assert main(["dataset-info", "anything"]) == 1
    assert capsys.readouterr().err == (
        "wtal dataset-info: error: out of memory (Unable to allocate 7.45 GiB for an array)\n"
    )
