# Stage: infer and evaluate. The selected checkpoint (and, for reference, the untrained model)
# on the test subset -> predictions, CSV, figures; then the evaluator on those files against the
# ground truth of every test video (a video that could not be decoded counts as missed).
# Inference runs on training.device (a GPU is asked for when it names CUDA, as for train).


rule infer:
    input:
        config=results("infer", "config.yaml"),
        checkpoint=selected_checkpoint(),
    output:
        predictions=results("infer", "predictions.json"),
        metrics=results("infer", "metrics.json"),
    params:
        folder=output_folder,
        device=config["training"]["device"],
    log:
        logs("infer"),
    benchmark:
        benchmark("infer")
    threads: 2
    resources:
        mem_mb=grows_with_attempt(8000),
        runtime=120,
        gpu=gpus(config["training"]["device"]),
    conda:
        CONDA_ENV
    shell:
        "wtal infer --checkpoint {input.checkpoint} --config {input.config} "
        "--output {params.folder} --device {params.device} --no-progress > {log} 2>&1"


rule infer_untrained:
    input:
        config=results("infer", "config.yaml"),
        checkpoint=results("train", "checkpoints", "untrained.pt"),
    output:
        predictions=results("untrained", "predictions.json"),
        metrics=results("untrained", "metrics.json"),
    params:
        folder=output_folder,
        device=config["training"]["device"],
    log:
        logs("infer_untrained"),
    benchmark:
        benchmark("infer_untrained")
    threads: 2
    resources:
        mem_mb=grows_with_attempt(8000),
        runtime=120,
        gpu=gpus(config["training"]["device"]),
    conda:
        CONDA_ENV
    shell:
        "wtal infer --checkpoint {input.checkpoint} --config {input.config} "
        "--output {params.folder} --device {params.device} --timelines 0 --no-progress "
        "> {log} 2>&1"


rule evaluate:
    input:
        ground_truth=ground_truth_json(),
        predictions=results("infer", "predictions.json"),
    output:
        results("metrics.json"),
    params:
        arguments=evaluation_arguments(),
    log:
        logs("evaluate"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "wtal evaluate --ground-truth {input.ground_truth} --predictions {input.predictions} "
        "{params.arguments} --output {output} > {log} 2>&1"
