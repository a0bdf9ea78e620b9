# Helpers shared by the rules: paths of outputs and of the inputs named in the config.

import shlex
from pathlib import Path


def results(*parts):
    """A path under <results_dir>/<dataset.name>/."""
    return str(Path(config["results_dir"], config["dataset"]["name"], *parts))


def logs(name):
    return str(Path(config["results_dir"], config["dataset"]["name"], "logs", f"{name}.log"))


def ground_truth_json():
    return results("ground_truth.json")


def dataset_summary_json():
    return results("dataset_summary.json")


WTALC_FILES = ("videoname.npy", "subset.npy", "duration.npy", "classlist.npy", "labels_all.npy", "labels.npy")


def annotation_inputs(wildcards=None):
    """The annotation files the dataset stage reads (so a change to any reruns it)."""
    spec = config["dataset"]
    if spec["format"] == "activitynet":
        files = [spec["annotations"]]
    else:
        folder = Path(spec["annotations"])
        files = [folder / name for name in WTALC_FILES]
        files += [p for p in (folder / "segments.npy", folder / "segment.npy") if p.exists()][:1]
        if spec.get("ambiguous") is None and (folder / "Ambiguous_test.txt").exists():
            files.append(folder / "Ambiguous_test.txt")
    if spec.get("ambiguous"):
        files.append(spec["ambiguous"])
    missing = [str(f) for f in files if not Path(f).exists()]
    if missing:
        raise WorkflowError(
            f"dataset.annotations ({spec['annotations']}): missing {', '.join(missing)}; "
            "set dataset.annotations (and dataset.format) in the config"
        )
    return [str(f) for f in files]


def feature_inputs(wildcards=None):
    features = config["dataset"].get("features")
    return [features] if features else []


def dataset_arguments():
    """Command-line arguments that describe the configured dataset to `wtal`."""
    spec = config["dataset"]
    args = [spec["annotations"], "--format", spec["format"], "--name", spec["name"]]
    if spec.get("ambiguous"):
        args += ["--ambiguous", spec["ambiguous"]]
    return shlex.join(args)


def features_argument():
    features = config["dataset"].get("features")
    return shlex.join(["--features", features]) if features else ""
