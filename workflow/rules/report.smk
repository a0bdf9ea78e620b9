# Stage: report. results/<dataset>/report.md: the metrics table beside the untrained model and
# the paper's published numbers, the protocol of every number, data statistics, configuration,
# figures, and the videos that failed.


rule report:
    input:
        unpack(report_inputs),
        config=results("report", "config.yaml"),
    output:
        results("report.md"),
    params:
        inventory=inventory_argument(),
    log:
        logs("report"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "wtal report --config {input.config} --metrics {input.metrics} "
        "--untrained {input.untrained} --training {input.training} --summary {input.summary} "
        "{params.inventory} --output {output} > {log} 2>&1"
