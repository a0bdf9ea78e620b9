# Stage: experiments. `snakemake --cores N experiments --config sheet=experiments/<sheet>.yaml`
# expands an experiment sheet (wtal/schemas/sheet.schema.yaml: named runs as config overrides
# x seeds) into one training job per run and seed, each cached in
# <results_dir>/experiments/<sheet>/<run>/seed<k>/ (its config.yaml, training.json,
# test_metrics.json), and ends in `wtal compare --sheet`: table.md, table.json and table.png
# beside them. A changed run setting retrains that run only. On SLURM each run x seed is one
# job with the resources of `train`.

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
            root=output_folder,
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
