# Stage: pack. Which videos made it through extraction (inventory.json, from the chunk
# records: every video of the plan is in one, done or unable to be decoded and why), and the
# dataset the model trains on: the annotations of the videos done over the extracted
# features (dataset.json).


rule inventory:
    input:
        chunk_records("features"),
    output:
        results("inventory.json"),
    params:
        videos=len(VIDEO_IDS),
    log:
        logs("inventory"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        CONDA_ENV
    script:
        "../scripts/inventory.py"


rule pack:
    input:
        annotations=annotation_inputs,
        inventory=results("inventory.json"),
    output:
        results("dataset.json"),
    params:
        dataset=DATASET,
    log:
        logs("pack"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        CONDA_ENV
    script:
        "../scripts/pack.py"
