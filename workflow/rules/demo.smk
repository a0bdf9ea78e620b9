# Stage: demo data. The embedded demo's small synthetic untrimmed videos and their
# annotations (config `demo`), written into the folder of dataset.annotations.


rule demo_videos:
    output:
        annotations=DATASET["annotations"],
        videos=[video_file(video) for video in VIDEO_IDS],
    params:
        folder=output_folder,
        videos=DEMO["videos"],
        test_videos=DEMO["test_videos"],
        seed=DEMO["seed"],
        size=f"{DEMO['width']} {DEMO['height']}",
        seconds=f"{DEMO['min_seconds']}:{DEMO['max_seconds']}",
    log:
        logs("demo_videos"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "wtal make-demo-videos --output {params.folder} --videos {params.videos} "
        "--test-videos {params.test_videos} --seed {params.seed} --size {params.size} "
        "--seconds {params.seconds} > {log} 2>&1"
