# Stage: experiments. `snakemake --cores N experiments --config sheet=experiments/<sheet>.yaml`
# expands an experiment sheet (wtal/schemas/sheet.schema.yaml: named runs as config overrides
# x seeds) into one training job per run and seed, each cached in
# <results_dir>/experiments/<sheet>/<run>/seed<k>/ (its config.yaml, training.json,
# test_metrics.json), and ends in `wtal compare --sheet`: table.md, table.json and table.png
# beside them. A changed run setting retrains that run only. On SLURM each run x seed is one
# job with the resources of `train`.

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


rule experiments:
    input:
        experiment_tables,


if SHEET is not None:
    _run_names = "|".join(r.name for r in SHEET.runs)

    localrules:
        experiments,
        experiment_config,
        experiment_table,

    if SHEET.synthetic is not None:

        rule experiment_synthetic:
            output:
                experiment_data(),
            params:
                folder=lambda wildcards, output: str(Path(output[0]).parent),
                size=SHEET.synthetic["size"],
                dim=SHEET.synthetic["feature_dim"],
                seed=SHEET.synthetic["seed"],
            log:
                experiment("logs", "synthetic.log"),
            threads: 1
            resources:
                mem_mb=2000,
                runtime=30,
            conda:
                CONDA_ENV
            shell:
                "wtal make-synthetic --output {params.folder} --size {params.size} "
                "--feature-dim {params.dim} --seed {params.seed} > {log} 2>&1"

    rule experiment_config:
        output:
            experiment("{run}", "seed{seed}", "config.yaml"),
        params:
            config=experiment_config,
        wildcard_constraints:
            run=_run_names,
            seed=r"\d+",
        log:
            experiment("logs", "{run}_seed{seed}_config.log"),
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        conda:
            CONDA_ENV
        script:
            "../scripts/stage_config.py"

    rule experiment_train:
        input:
            config=experiment("{run}", "seed{seed}", "config.yaml"),
            data=experiment_data,
        output:
            training=experiment("{run}", "seed{seed}", "training.json"),
            metrics=experiment("{run}", "seed{seed}", "test_metrics.json"),
        params:
            folder=lambda wildcards: experiment(wildcards.run, f"seed{wildcards.seed}"),
        wildcard_constraints:
            run=_run_names,
            seed=r"\d+",
        log:
            experiment("logs", "{run}_seed{seed}.log"),
        benchmark:
            experiment("benchmarks", "{run}_seed{seed}.tsv")
        threads: 2
        resources:
            mem_mb=grows_with_attempt(16000),
            runtime=1440,
            gpu=lambda wildcards: gpus(
                run_config(SHEET, wildcards.run, int(wildcards.seed))["training"]["device"]
            ),
        conda:
            CONDA_ENV
        shell:
            "wtal train --config {input.config} --output {params.folder} --test "
            "--restart-on-change --no-progress > {log} 2>&1"

    rule experiment_table:
        input:
            sheet=str(SHEET.path),
            metrics=[
                experiment(r.name, f"seed{seed}", "test_metrics.json")
                for r in SHEET.runs
                for seed in SHEET.seeds
            ],
        output:
            table=experiment("table.md"),
            data=experiment("table.json"),
            figure=experiment("table.png"),
        params:
            root=experiment(),
        log:
            experiment("logs", "table.log"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            CONDA_ENV
        shell:
            "wtal compare --sheet {input.sheet} --root {params.root} --output {output.table} "
            "--figure {output.figure} > {log} 2>&1"
