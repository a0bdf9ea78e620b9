"""`snakemake --configfile LAYERED.yaml`: a config file's `base:` files are merged under it,
each file's relative paths beside it, and the stage configs hold the merged settings."""

from __future__ import annotations

import yaml

from tests.workflow.test_workflow import snakemake
from tests.wtal.data.fixtures import write_wtalc


def test_a_layered_configfile_runs_with_its_base_merged_under_it(tmp_path):
    write_wtalc(tmp_path / "annotations", with_features=False)
    base = {
        "dataset": {
            "name": "tiny",
            "format": "wtalc",
            "annotations": "annotations",  # beside config.yaml
            "train_subset": "validation",
            "test_subset": "test",
        }
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(base))
    layered = tmp_path / "mine" / "layered.yaml"
    layered.parent.mkdir()
    layered.write_text(
        yaml.safe_dump(
            {
                "base": "../config.yaml",  # relative to this file's folder
                "results_dir": "out",  # beside this file: mine/out
                "dataset": {"name": "layered"},
                "training": {"seed": 7},
            }
        )
    )
    dry = snakemake("-n", "all", config=layered)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    out = tmp_path / "mine" / "out" / "layered"
    assert str(out / "train" / "training.json") in dry.stdout
    stage = out / "train" / "config.yaml"
    made = snakemake(str(stage), config=layered)
    assert made.returncode == 0, made.stdout + made.stderr
    written = yaml.safe_load(stage.read_text())
    assert "base" not in written
    assert written["training"]["seed"] == 7
    assert written["dataset"]["name"] == "layered"
    # paths are rewritten relative to the stage config's folder; they mean the base's files
    annotations = (stage.parent / written["dataset"]["annotations"]).resolve()
    assert annotations == (tmp_path / "annotations").resolve()


def test_a_missing_base_stops_the_workflow_naming_the_file(tmp_path):
    layered = tmp_path / "layered.yaml"
    layered.write_text("base: absent.yaml\n")
    result = snakemake("-n", "all", config=layered)
    assert result.returncode != 0
    assert f"{layered}: base 'absent.yaml': {tmp_path / 'absent.yaml'} not found" in (
        result.stdout + result.stderr
    )
