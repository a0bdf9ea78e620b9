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


# ---------------------------------------------------------------- extraction jobs (chunks)
# One job per chunk of extraction.videos_per_job videos (in the video list's order) decodes,
# computes the flow of and extracts the features of each of its videos in turn, so a cluster
# receives ceil(videos / videos_per_job) extraction jobs. Per video, the files are where a
# single `wtal decode` / `wtal flow` / `wtal extract` puts them (below); the job's own output
# is its chunk record (extract/<n>-per-job/<chunk>.json: which videos are done, which could
# not be decoded and why), read by the inventory. A change of videos_per_job renames the
# chunks, so they run again, reusing every per-video file that is current.

VIDEOS_PER_JOB = EXTRACTION["videos_per_job"]
CHUNKS = [VIDEO_IDS[i : i + VIDEOS_PER_JOB] for i in range(0, len(VIDEO_IDS), VIDEOS_PER_JOB)]
CHUNK_FOLDER = f"{VIDEOS_PER_JOB}-per-job"
# A job's command line is one argument of `bash -c`, which Linux caps at 128 KiB; the ids of
# a chunk are most of it.
_longest = max((len(json.dumps(chunk)) for chunk in CHUNKS), default=0)
if _longest > 100_000:
    raise WorkflowError(
        f"extraction.videos_per_job {VIDEOS_PER_JOB}: a chunk's video ids take {_longest} "
        "bytes of its command line (at most 100,000 fit): use fewer videos per job"
    )


def chunk_record(index):
    return results("extract", CHUNK_FOLDER, f"{index}.json")


def chunk_records(wildcards=None):
    return [chunk_record(index) for index in range(len(CHUNKS))]


def chunk_ids(wildcards):
    """The video ids of chunk ``wildcards.chunk``."""
    index = int(wildcards.chunk)
    if index >= len(CHUNKS):
        raise WorkflowError(
            f"extraction chunk {index} does not exist: {len(VIDEO_IDS)} videos at "
            f"extraction.videos_per_job {VIDEOS_PER_JOB} make chunks 0 to {len(CHUNKS) - 1}"
        )
    return CHUNKS[index]


def chunk_videos(wildcards):
    return [video_file(video) for video in chunk_ids(wildcards)]


def decode_record(video):
    return results("decode", f"{video}.json")


def flow_file(video):
    """Flow depends on the preset and the frame size: both name its folder."""
    return results("flow", f"{EXTRACTION['flow_preset']}-{EXTRACTION['short_side']}", f"{video}.npy")


def names_cuda(device):
    """Whether a torch device name asks for CUDA (cuda, cuda:N); auto does not: which device it
    finds depends on the node the job lands on."""
    return device == "cuda" or device.startswith("cuda:")


def gpus(device):
    """The `gpu` resource (sbatch --gpus) of a job run on ``device``."""
    return 1 if names_cuda(device) else 0


def weights_input(wildcards=None):
    """The converted Kinetics RGB I3D (made by the i3d_weights rule), or the user's file."""
    if EXTRACTION["rgb_weights"]:
        return EXTRACTION["rgb_weights"]
    return str(Path(weights_cache(), KINETICS_RGB_CACHE_NAME))


def weights_cache():
    return EXTRACTION["weights_cache"] or str(Path(config["results_dir"], "weights"))


def decode_arguments():
    """`wtal decode VIDEO --output RECORD` takes these, and --record-failure."""
    return [
        "--short-side", str(EXTRACTION["short_side"]),
        "--on-variable-frame-rate", EXTRACTION["on_variable_frame_rate"],
    ]  # fmt: skip


def device_arguments(backend_option):
    """Where flow and I3D run: the torch device, the TV-L1 backend and its batch."""
    return [
        backend_option, EXTRACTION["flow_backend"],
        "--device", EXTRACTION["device"],
        "--flow-batch", str(EXTRACTION["flow_batch"]),
    ]  # fmt: skip


def flow_arguments():
    """`wtal flow VIDEO --output FLOW --decoded RECORD --workers N` takes these."""
    return [
        "--preset", EXTRACTION["flow_preset"],
        *decode_arguments(),
        *device_arguments("--backend"),
    ]  # fmt: skip


def extraction_arguments():
    """`wtal extract VIDEO --output DIR --decoded RECORD --threads N` takes these (and
    `--flow FLOW` when the flow cache is kept, --no-keep-flow otherwise)."""
    args = [
        "--short-side", str(EXTRACTION["short_side"]),
        "--crop", str(EXTRACTION["crop"]),
        "--flow-preset", EXTRACTION["flow_preset"],
        "--batch", str(EXTRACTION["batch_segments"]),
        "--on-variable-frame-rate", EXTRACTION["on_variable_frame_rate"],
        "--weights-cache", weights_cache(),
        *device_arguments("--flow-backend"),
        "--autocast", EXTRACTION["autocast"],
        "--no-progress",
    ]  # fmt: skip
    for key in ("rgb_weights", "flow_weights"):
        if EXTRACTION[key]:
            args += [f"--{key.replace('_', '-')}", EXTRACTION[key]]
    if not EXTRACTION["keep_flow"]:
        args.append("--no-keep-flow")
    return args


def chunk_list(wildcards):
    """The chunk's video ids for workflow/scripts/extract_chunk.py, as a JSON list."""
    return json.dumps(chunk_ids(wildcards))


def _chunk_settings():
    """What workflow/scripts/extract_chunk.py does to every video, as JSON: where each file
    goes ({video} stands for the video id) and the arguments of each command."""
    paths = {
        "video": video_file("{video}"),
        "decoded": decode_record("{video}"),
        "flow": flow_file("{video}") if EXTRACTION["keep_flow"] else None,
        "features": results("features"),
        "decode_log": logs("decode/{video}"),
        "flow_log": logs("flow/{video}"),
        "features_log": logs("features/{video}"),
    }
    return json.dumps(
        {
            "paths": paths,
            "decode": decode_arguments(),
            "flow": flow_arguments(),
            "extract": extraction_arguments(),
        },
        sort_keys=True,
    )


CHUNK_SETTINGS = _chunk_settings() if FROM_VIDEOS else None


def chunk_settings(wildcards):
    """The settings of every chunk (a function: Snakemake would read {video} as a wildcard)."""
    return CHUNK_SETTINGS


EXTRACT_CHUNK_SCRIPT = str(Path(workflow.basedir, "workflow", "scripts", "extract_chunk.py"))


# Per video, what an extraction job needs at most (memory: its videos run one after the
# other) and the minutes it is given: on the CPU, the three per-video jobs' budgets of before
# (decode 30, flow 600, features 120); on CUDA, decode 30 and features 120 with the flow in
# them (not measured on a GPU yet). Both grow with each retry (profiles/slurm: retries).
EXTRACT_MEM_MB = 4000
EXTRACT_MINUTES_PER_VIDEO = 150 if names_cuda(EXTRACTION["device"]) else 750


def extract_runtime(wildcards, attempt):
    return EXTRACT_MINUTES_PER_VIDEO * len(chunk_ids(wildcards)) * attempt


def grows_with_attempt(base):
    """A resource (mem_mb) that doubles on the second attempt, triples on the third, ..."""
    return lambda wildcards, attempt: base * attempt


def benchmark(rule, wildcards=None):
    """Snakemake's timing of each job: results/<dataset>/benchmarks/<rule>/<wildcards>.tsv,
    or <rule>.tsv for a rule of one job."""
    if wildcards is None:
        return results("benchmarks", f"{rule}.tsv")
    return results("benchmarks", rule, f"{wildcards}.tsv")


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
    """Everything: the report, and every video's features (the chunk records; a video that
    cannot be decoded is recorded there and the report lists it)."""
    return [results("report.md"), ground_truth_json(), dataset_summary_json(), *chunk_records()]


CONDA_ENV = "../envs/wtal.yaml"  # relative to workflow/rules/


def output_folder(wildcards, output):
    """The folder of a rule's first output (a prefix the command writes under)."""
    return str(Path(output[0]).parent)


# Experiment sheets (experiments.smk): the sheet named by `--config sheet=...`, if any.
from wtal.config import load_schema
from wtal.config_paths import relative_to
from wtal.sheets import load_sheet, run_config

SHEET = load_sheet(config["sheet"]) if config.get("sheet") else None


def experiment(*parts):
    """A path under <results_dir>/experiments/<sheet>/."""
    return str(Path(config["results_dir"], "experiments", SHEET.name, *parts))


def experiment_config(wildcards):
    """One run's config at one seed, its paths relative to the workflow's folder, as JSON."""
    merged = run_config(SHEET, wildcards.run, int(wildcards.seed))
    return json.dumps(relative_to(merged, Path.cwd(), load_schema()), sort_keys=True)


def experiment_dataset():
    """The dataset section every run of the sheet reads (one for the whole sheet)."""
    return run_config(SHEET, SHEET.runs[0].name, SHEET.seeds[0])["dataset"]


def experiment_data(wildcards=None):
    """What the runs read from disk: made by `experiment_synthetic` when the sheet says so."""
    dataset = relative_to(experiment_dataset(), Path.cwd(), load_schema()["properties"]["dataset"])
    return [dataset["annotations"]]


def experiment_tables(wildcards=None):
    if SHEET is None:
        raise WorkflowError(
            "the experiments target needs a sheet: snakemake experiments --config "
            "sheet=experiments/<sheet>.yaml (see experiments/)"
        )
    return [experiment("table.md")]
