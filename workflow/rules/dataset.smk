# Stage: dataset. Annotations -> the evaluator's ground truth JSON, and a dataset summary.


rule ground_truth:
    input:
        annotation_inputs,
    output:
        ground_truth_json(),
    params:
        dataset=dataset_arguments(),
    log:
        logs("ground_truth"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "wtal convert-annotations {params.dataset} --output {output} > {log} 2>&1"


rule dataset_summary:
    input:
        annotations=annotation_inputs,
        features=feature_inputs,
    output:
        dataset_summary_json(),
    params:
        dataset=dataset_arguments(),
        features=features_argument(),
    log:
        logs("dataset_summary"),
    threads: 1
    resources:
        mem_mb=grows_with_attempt(8000),
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "wtal dataset-info {params.dataset} {params.features} --output {output} > {log} 2>&1"
