# Helpers shared by the rules: output paths, the video list (the per-video wildcards), and the
# command-line arguments built from the config. No rule carries its own logic.

import json
import shlex
from pathlib import Path

from extract.weights import KINETICS_RGB_CACHE_NAME
from wtal.data.open import open_dataset

DATASET = config["dataset"]
EXTRACTION = config["extraction"]
DEMO = config["demo"]
FROM_VIDEOS = DATASET["videos"] is not None
for _key in ("train_subset", "test_subset"):
    if not DATASET.get(_key):
        raise WorkflowError(
            f"dataset.{_key} is not set: the workflow trains on dataset.train_subset and tests "
            "on dataset.test_subset (THUMOS14: validation / test; ActivityNet: training / "
            "validation)"
        )


def results(*parts):
    """A path under <results_dir>/<dataset.name>/."""
    return str(Path(config["results_dir"], DATASET["name"], *parts))


def logs(name):
    return results("logs", f"{name}.log")


def ground_truth_json():
    return results("ground_truth.json")


def dataset_summary_json():
    return results("dataset_summary.json")


WTALC_FILES = ("videoname.npy", "subset.npy", "duration.npy", "classlist.npy", "labels_all.npy", "labels.npy")


def annotation_inputs(wildcards=None):
    """The annotation files the dataset stage reads (so a change to any reruns it)."""
    if DEMO["enabled"]:
        return [DATASET["annotations"]]  # made by the demo rule
    if DATASET["format"] == "activitynet":
        files = [DATASET["annotations"]]
    else:
        folder = Path(DATASET["annotations"])
        files = [folder / name for name in WTALC_FILES]
        files += [p for p in (folder / "segments.npy", folder / "segment.npy") if p.exists()][:1]
        if DATASET.get("ambiguous") is None and (folder / "Ambiguous_test.txt").exists():
            files.append(folder / "Ambiguous_test.txt")
    if DATASET.get("ambiguous"):
        files.append(DATASET["ambiguous"])
    missing = [str(f) for f in files if not Path(f).exists()]
    if missing:
        raise WorkflowError(
            f"dataset.annotations ({DATASET['annotations']}): missing {', '.join(missing)}; "
            "set dataset.annotations (and dataset.format) in the config"
        )
    return [str(f) for f in files]


def feature_inputs(wildcards=None):
    """Released features (W-TALC joint .npy or a folder) when the run starts from them."""
    if FROM_VIDEOS or not DATASET.get("features"):
        return []
    return [DATASET["features"]]


def dataset_arguments():
    """Command-line arguments that describe the configured dataset to `wtal`."""
    args = [DATASET["annotations"], "--format", DATASET["format"], "--name", DATASET["name"]]
    if DATASET.get("ambiguous"):
        args += ["--ambiguous", DATASET["ambiguous"]]
    return shlex.join(args)


def features_argument():
    features = feature_inputs()
    return shlex.join(["--features", features[0]]) if features else ""


# ---------------------------------------------------------------- videos (per-video wildcards


def _video_ids():
    """The videos of the train and test subsets, from the annotations (or, for the demo,
    from the generator's plan: known before any video is written)."""
    if not FROM_VIDEOS:
        return []
    if DEMO["enabled"]:
        from wtal.data.demo_videos import plan_videos

        plans = plan_videos(
            DEMO["videos"], DEMO["test_videos"], DEMO["seed"], (DEMO["min_seconds"], DEMO["max_seconds"])
        )
        return [plan.video_id for plan in plans]
    dataset = open_dataset(DATASET, with_features=False)
    wanted = {DATASET.get("train_subset"), DATASET.get("test_subset")}
    return [v.video_id for v in dataset.videos if v.subset in wanted]


VIDEO_IDS = _video_ids()


def video_file(video):
    return str(Path(DATASET["videos"], f"{video}{DATASET['video_suffix']}"))


def video_input(wildcards):
    return video_file(wildcards.video)


def decode_record(video):
    return results("decode", f"{video}.json")


def flow_file(video):
    """Flow depends on the preset and the frame size: both name its folder."""
    return results("flow", f"{EXTRACTION['flow_preset']}-{EXTRACTION['short_side']}", f"{video}.npy")


def feature_file(video, name="meta.json"):
    return results("features", video, name)


def weights_input(wildcards=None):
    """The converted Kinetics RGB I3D (made by the i3d_weights rule), or the user's file."""
    if EXTRACTION["rgb_weights"]:
        return EXTRACTION["rgb_weights"]
    return str(Path(weights_cache(), KINETICS_RGB_CACHE_NAME))


def weights_cache():
    return EXTRACTION["weights_cache"] or str(Path(config["results_dir"], "weights"))


def extraction_arguments():
    args = [
        "--short-side", str(EXTRACTION["short_side"]),
        "--crop", str(EXTRACTION["crop"]),
        "--flow-preset", EXTRACTION["flow_preset"],
        "--batch", str(EXTRACTION["batch_segments"]),
        "--on-variable-frame-rate", EXTRACTION["on_variable_frame_rate"],
        "--weights-cache", weights_cache(),
    ]  # fmt: skip
    for key in ("rgb_weights", "flow_weights"):
        if EXTRACTION[key]:
            args += [f"--{key.replace('_', '-')}", EXTRACTION[key]]
    return shlex.join(args)


def extraction_params():
    """What the features depend on (a change reruns the features stage)."""
    return {k: EXTRACTION[k] for k in ("short_side", "crop", "flow_preset", "rgb_weights", "flow_weights")}


def decoded_features(wildcards):
    """Features of every video the decode stage could read (the inventory checkpoint)."""
    inventory = checkpoints.inventory.get().output[0]
    ok = json.loads(Path(inventory).read_text())["ok"]
    return [feature_file(video) for video in ok]


# ---------------------------------------------------------------- training and inference


def training_dataset():
    """The dataset section the model stages read: the packed dataset of the extracted
    features, or the configured one when starting from released features."""
    if not FROM_VIDEOS:
        return dict(DATASET)
    return {
        **DATASET,
        "format": "activitynet",
        "annotations": results("dataset.json"),
        "features": results("features"),
        "ambiguous": None,
        "videos": None,
    }


def training_inputs(wildcards=None):
    if FROM_VIDEOS:
        return [results("dataset.json")]
    return annotation_inputs() + feature_inputs()


STAGE_SECTIONS = {
    # what each stage's results depend on: a change to a section reruns that stage
    "train": ("model", "losses", "training", "features", "extraction"),
    "infer": ("inference", "evaluation"),
}


def stage_config(wildcards):
    """The config file contents of one stage (train, infer; report: all) as a JSON string."""
    if wildcards.stage == "report":
        return json.dumps(dict(config), sort_keys=True)
    sections = {key: config[key] for key in STAGE_SECTIONS[wildcards.stage]}
    if wildcards.stage == "infer":
        sections = {**{key: config[key] for key in STAGE_SECTIONS["train"]}, **sections}
    return json.dumps(
        {"results_dir": config["results_dir"], "dataset": training_dataset(), **sections}, sort_keys=True
    )


def selected_checkpoint():
    name = "best.pt" if config["training"]["selection"] == "validation" else "selected.pt"
    return results("train", "checkpoints", name)


def evaluation_arguments():
    spec = config["evaluation"]
    args = ["--subset", DATASET["test_subset"], "--tiou", spec["tiou"], "--units", spec["units"]]
    if spec["ambiguous_filter"]:
        args.append("--filter-ambiguous")
    return shlex.join(args)


def report_inputs(wildcards=None):
    inputs = {
        "metrics": results("metrics.json"),
        "untrained": results("untrained", "metrics.json"),
        "infer": results("infer", "metrics.json"),
        "training": results("train", "training.json"),
        "summary": dataset_summary_json(),
    }
    if FROM_VIDEOS:
        inputs["inventory"] = results("inventory.json")
    return inputs


def inventory_argument():
    return shlex.join(["--inventory", results("inventory.json")]) if FROM_VIDEOS else ""


def all_targets():
    """Everything: the report, and every video's features (a video that cannot be decoded
    makes its own jobs fail; with --keep-going the rest completes and the report lists it)."""
    targets = [results("report.md"), ground_truth_json(), dataset_summary_json()]
    return targets + [feature_file(video) for video in VIDEO_IDS]


CONDA_ENV = "../envs/wtal.yaml"  # relative to workflow/rules/


def output_folder(wildcards, output):
    """The folder of a rule's first output (a prefix the command writes under)."""
    return str(Path(output[0]).parent)


def output_grandparent(wildcards, output):
    """The folder above the first output's folder (e.g. features/ of features/<video>/...)."""
    return str(Path(output[0]).parent.parent)
