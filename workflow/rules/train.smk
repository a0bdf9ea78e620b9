# Stage: train. Each model stage reads a config file of its own (results/<dataset>/<stage>/
# config.yaml) holding only the sections it depends on, so a training setting reruns training
# and what follows and never extraction. Checkpoints: results/<dataset>/train/checkpoints/.
# A GPU (resource gpu: sbatch --gpus=1) is asked for when training.device names CUDA (cuda,
# cuda:N); auto asks for none (see profiles/slurm).


rule stage_config:
    output:
        results("{stage}", "config.yaml"),
    params:
        config=stage_config,
    wildcard_constraints:
        stage="train|infer|report",
    log:
        logs("{stage}_config"),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        CONDA_ENV
    script:
        "../scripts/stage_config.py"


rule train:
    input:
        config=results("train", "config.yaml"),
        dataset=training_inputs,
    output:
        training=results("train", "training.json"),
        checkpoint=selected_checkpoint(),
        untrained=results("train", "checkpoints", "untrained.pt"),
    params:
        folder=output_folder,
    log:
        logs("train"),
    benchmark:
        benchmark("train")
    threads: 2
    resources:
        mem_mb=grows_with_attempt(16000),
        runtime=1440,
        gpu=gpus(config["training"]["device"]),
    conda:
        CONDA_ENV
    shell:
        "wtal train --config {input.config} --output {params.folder} --restart-on-change "
        "--no-progress > {log} 2>&1"
