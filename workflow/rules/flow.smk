# Stage: flow. TV-L1 optical flow of each video (uint8, one .npy per video), in a folder named
# after the preset and the frame size, so that changing either reruns flow and what follows.
# Beside each file, <video>.identity.json records the video file (size, sha256 of its first and
# last MiB) and the settings that made it; the features stage refuses a flow file whose record
# does not match its video and settings.


rule flow_video:
    input:
        video=video_input,
        decoded=results("decode", "{video}.json"),
    output:
        flow_file("{video}"),
    params:
        preset=EXTRACTION["flow_preset"],
        short_side=EXTRACTION["short_side"],
        frame_rate=EXTRACTION["on_variable_frame_rate"],
    log:
        logs("flow/{video}"),
    threads: EXTRACTION["workers"]
    resources:
        mem_mb=2000,
        runtime=600,
    conda:
        CONDA_ENV
    shell:
        "wtal flow {input.video} --decoded {input.decoded} --output {output} "
        "--preset {params.preset} --short-side {params.short_side} --workers {threads} "
        "--on-variable-frame-rate {params.frame_rate} > {log} 2>&1"


rule flow:
    input:
        [flow_file(video) for video in VIDEO_IDS],
