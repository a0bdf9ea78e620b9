# Stage: pack. Which videos made it through decoding (inventory.json, a checkpoint so that a
# broken video does not hold back the rest), and the dataset the model trains on: the
# annotations of those videos over the extracted features (dataset.json).


checkpoint inventory:
    input:
        [decode_record(video) for video in VIDEO_IDS],
    output:
        results("inventory.json"),
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
        features=decoded_features,
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
