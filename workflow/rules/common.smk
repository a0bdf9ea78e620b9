# Helpers shared by the rules: output paths, the video list (the per-video wildcards), and the
# command-line arguments built from the config. No rule carries its own logic.

import json
import os
import shlex
from pathlib import Path

from extract.i3d_source import KINETICS_RGB_CACHE_NAME
from extract.settings import ExtractionSettings
from wtal.data.open import open_dataset
from wtal.data.subsets import canonical_subset

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


def weights_cache():
    return EXTRACTION["weights_cache"] or str(Path(config["results_dir"], "weights"))


# The extraction settings: what each stage's jobs are given, and the single-video commands'
# arguments, come from this one object (extract/settings.py).
SETTINGS = ExtractionSettings(**{**EXTRACTION, "weights_cache": weights_cache()})


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
        from wtal.generate.demo_plan import plan_videos

        plans = plan_videos(
            DEMO["videos"], DEMO["test_videos"], DEMO["seed"], (DEMO["min_seconds"], DEMO["max_seconds"])
        )
        return [plan.video_id for plan in plans]
    dataset = open_dataset(DATASET, with_features=False)
    wanted = {canonical_subset(DATASET["train_subset"]), canonical_subset(DATASET["test_subset"])}
    return [v.video_id for v in dataset.videos if canonical_subset(v.subset) in wanted]


VIDEO_IDS = _video_ids()


def video_file(video):
    return str(Path(DATASET["videos"], f"{video}{DATASET['video_suffix']}"))


# ---------------------------------------------------------------- extraction jobs (chunks)
# Three stages, decode -> flow -> features (no flow stage when extraction.keep_flow is false:
# the features jobs compute the flow, and delete it once used). Each stage runs as one job
# per chunk of extraction.videos_per_job videos (in the video list's order), one process
# doing the chunk's videos in turn (extract/chunk.py), so a cluster
# receives ceil(videos / videos_per_job) jobs per stage. Per video, the files are where a
# single `wtal decode` / `wtal flow` / `wtal extract` puts them (the per-video rules of
# extract.smk make them as file targets); a job's own output is its chunk record
# (extract/<stage>/<n>-per-job/<chunk>.json: which videos are done, which were current and
# kept, which could not be decoded and why). A change of videos_per_job renames the chunks,
# so they run again, keeping every per-video file that is current.

EXTRACTION_STAGES = ("decode", "flow", "features") if EXTRACTION["keep_flow"] else ("decode", "features")
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


def chunk_record(stage, index):
    return results("extract", stage, CHUNK_FOLDER, f"{index}.json")


def chunk_records(stage):
    return [chunk_record(stage, index) for index in range(len(CHUNKS))]


def previous_stage(stage):
    """The stage whose chunk record a chunk of ``stage`` waits for (None for decode)."""
    index = EXTRACTION_STAGES.index(stage)
    return EXTRACTION_STAGES[index - 1] if index else None


def chunk_inputs(stage):
    """Input function of a chunk job of ``stage``: its videos, the same chunk's record of the
    stage before (none for decode) and, for features, the weights."""

    def inputs(wildcards):
        found = {"videos": chunk_videos(wildcards)}
        if previous_stage(stage):
            found["previous"] = chunk_record(previous_stage(stage), wildcards.chunk)
        if stage == "features":
            found["weights"] = weights_input()
        return found

    return inputs


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
    apply_forced_stages()
    return [video_file(video) for video in chunk_ids(wildcards)]


def decode_record(video):
    return results("decode", f"{video}.json")


def flow_file(video):
    """Flow depends on the preset and the frame size: both name its folder."""
    return results("flow", f"{EXTRACTION['flow_preset']}-{EXTRACTION['short_side']}", f"{video}.npy")


def feature_file(video, name):
    return results("features", video, name)


def known_video(wildcards):
    """A per-video target names a video of the plan (else: which video list it is not in)."""
    if wildcards.video not in _KNOWN_VIDEOS:
        raise WorkflowError(
            f"{wildcards.video!r} is not a video of dataset.train_subset or "
            f"dataset.test_subset in {DATASET['annotations']} ({len(VIDEO_IDS)} videos)"
        )
    return video_file(wildcards.video)


_KNOWN_VIDEOS = set(VIDEO_IDS)


def features_video_inputs(wildcards):
    """What one video's features are made from: the video, its decode record, its flow file
    when the flow is kept, the weights."""
    inputs = {"video": known_video(wildcards), "decoded": decode_record(wildcards.video),
              "weights": weights_input()}  # fmt: skip
    if EXTRACTION["keep_flow"]:
        inputs["flow"] = flow_file(wildcards.video)
    return inputs


def features_flow_option(wildcards):
    return shlex.join(["--flow", flow_file(wildcards.video)]) if EXTRACTION["keep_flow"] else ""


# Stages redone whatever they find: --forcerun (-R) naming a stage target (decode, flow,
# features) or its chunk rule, -f on a stage target, -F. Snakemake then reruns the stage's
# chunk jobs (added to the forced rules here: Snakemake forces a stage target alone), but a
# job keeps the per-video files it finds current unless told to make them again: through the
# environment (REDO_ENV), which Snakemake hands to cluster jobs (envvars in the Snakefile); a
# job whose chunk record --forcerun names is told the same. Jobs downstream rerun as
# Snakemake reruns them, each making again what is older than what it was made from. The
# forced rules are known once Snakemake builds its DAG (not when it reads this file), so the
# input functions of the extraction rules apply them, once, in the process that plans.
REDO_ENV = "WTAL_REDO"
os.environ.setdefault(REDO_ENV, "{}")  # defined for envvars; the planner sets it below
_forced_applied = []


def chunk_rule(stage):
    return f"{stage}_chunk"


def apply_forced_stages():
    """Force the chunk jobs of the forced extraction stages and name them to the jobs."""
    if _forced_applied or workflow.remote_exec or workflow.subprocess_exec:
        return
    _forced_applied.append(True)
    dag = workflow.dag
    names = {rule.name for rule in dag.forcerules}
    stages = [s for s in EXTRACTION_STAGES if s in names or chunk_rule(s) in names]
    dag.forcerules.update(workflow.get_rule(chunk_rule(stage)) for stage in stages)
    records = sorted(os.path.abspath(f) for f in dag.forcefiles if str(f).endswith(".json"))
    os.environ[REDO_ENV] = json.dumps({"stages": stages, "records": records})


def stage_records(stage):
    """Input function of a stage target: every chunk record of ``stage``."""

    def records(wildcards):
        apply_forced_stages()
        return chunk_records(stage)

    return records


def flow_stage(wildcards):
    """Input function of the flow target: every flow chunk record, or why there is none."""
    if not EXTRACTION["keep_flow"]:
        raise WorkflowError(
            "extraction.keep_flow is false: there is no flow stage (the features jobs compute "
            "each video's flow and delete it once used); set extraction.keep_flow: true to "
            "make and keep the flow, or ask for `features`"
        )
    return stage_records("flow")(wildcards)


def names_cuda(device):
    """Whether a torch device name asks for CUDA (cuda, cuda:N); auto does not: which device it
    finds depends on the node the job lands on."""
    return device == "cuda" or device.startswith("cuda:")


def gpus(device):
    """The `gpu` resource (sbatch --gpus) of a job run on ``device``."""
    return 1 if names_cuda(device) else 0


def flow_gpus():
    """The flow runs on the GPU when the device names CUDA and the backend is torch (auto
    picks torch there)."""
    return gpus(EXTRACTION["device"]) if EXTRACTION["flow_backend"] != "opencv" else 0


# What a job of each stage asks for: decoding is one thread on the CPU; the flow's threads
# are OpenCV's workers (or torch's), the features' torch's.
STAGE_THREADS = {"decode": 1, "flow": EXTRACTION["workers"], "features": EXTRACTION["workers"]}
STAGE_GPUS = {"decode": 0, "flow": flow_gpus(), "features": gpus(EXTRACTION["device"])}


def weights_input(wildcards=None):
    """The converted Kinetics RGB I3D (made by the i3d_weights rule), or the user's file."""
    if EXTRACTION["rgb_weights"]:
        return EXTRACTION["rgb_weights"]
    return str(Path(weights_cache(), KINETICS_RGB_CACHE_NAME))


def decode_arguments():
    """`wtal decode VIDEO --output RECORD` takes these, and --record-failure."""
    return SETTINGS.arguments("decode")


def flow_arguments():
    """`wtal flow VIDEO --output FLOW --decoded RECORD --workers N` takes these."""
    return SETTINGS.arguments("flow")


def extraction_arguments():
    """`wtal extract VIDEO --output DIR --decoded RECORD --threads N` takes these (and
    `--flow FLOW` when the flow cache is kept)."""
    return [*SETTINGS.arguments("features"), "--no-progress"]


def chunk_list(wildcards):
    """The chunk's video ids for extract/chunk.py, as a JSON list."""
    return json.dumps(chunk_ids(wildcards))


def _chunk_settings(stage):
    """What extract/chunk.py does to every video at ``stage``, as JSON: where the files it
    reads and writes go ({video} stands for the video id) and what the stage reads of the
    settings (ExtractionSettings.for_stage: a change reruns the chunk jobs of the stages that
    read it, since Snakemake compares params, and no others)."""
    paths = {"video": video_file("{video}"), "decoded": decode_record("{video}")}
    if stage != "decode":
        paths["flow"] = flow_file("{video}") if EXTRACTION["keep_flow"] else None
    if stage == "features":
        paths["features"] = results("features")
    return json.dumps({"paths": paths, **SETTINGS.for_stage(stage)}, sort_keys=True)


CHUNK_SETTINGS = {stage: _chunk_settings(stage) for stage in EXTRACTION_STAGES} if FROM_VIDEOS else {}


def chunk_settings(stage):
    """The settings of every chunk of ``stage`` (a function: Snakemake would read {video} as a
    wildcard)."""
    return lambda wildcards: CHUNK_SETTINGS[stage]


EXTRACT_CHUNK_SCRIPT = str(Path(workflow.basedir, "workflow", "scripts", "extract_chunk.py"))


# Per video, what a stage's job needs at most (memory: its videos run one after the other)
# and the minutes it is given: decode 30; flow 600 on the CPU (TV-L1 costs about a second per
# frame pair), 120 on CUDA (not measured on a GPU yet); features 120, plus the flow's when the
# features jobs make it (keep_flow false). Both grow with each retry (profiles/slurm: retries).
EXTRACT_MEM_MB = {"decode": 2000, "flow": 4000, "features": 4000}
_FLOW_MINUTES = 120 if names_cuda(EXTRACTION["device"]) else 600
MINUTES_PER_VIDEO = {
    "decode": 30,
    "flow": _FLOW_MINUTES,
    "features": 120 + (0 if EXTRACTION["keep_flow"] else _FLOW_MINUTES),
}


def stage_runtime(stage):
    return lambda wildcards, attempt: MINUTES_PER_VIDEO[stage] * len(chunk_ids(wildcards)) * attempt


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
    """The checkpoint training chose (by validation or the last): always selected.pt, which
    `wtal train` writes at the end of every run, a resumed or finished one too; best.pt and
    last.pt are the run's own files, never deleted by a rerun of the job."""
    return results("train", "checkpoints", "selected.pt")


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
    return [
        results("report.md"),
        ground_truth_json(),
        dataset_summary_json(),
        *(chunk_records("features") if FROM_VIDEOS else []),
    ]


CONDA_ENV = "../envs/wtal.yaml"  # relative to workflow/rules/


def output_folder(wildcards, output):
    """The folder of a rule's first output (a prefix the command writes under)."""
    return str(Path(output[0]).parent)


# Experiment sheets (experiments.smk): the sheet named by `--config sheet=...`, if any.
from wtal.config.paths import relative_to
from wtal.config.schema import load_schema
from wtal.config.sheets import load_sheet, run_config

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
