# Stage: decode. Each video is decoded end to end at 25 fps; what it is (or why it cannot be
# read) goes to results/<dataset>/decode/<video>.json. An unreadable video is recorded, not
# fatal here: its flow and features jobs then fail, alone, quoting the reason. The record holds
# the video file's size and sha256 of its first and last MiB: a later stage given a record of
# another version of the video refuses it.


rule decode_video:
    input:
        video_input,
    output:
        results("decode", "{video}.json"),
    params:
        short_side=EXTRACTION["short_side"],
        frame_rate=EXTRACTION["on_variable_frame_rate"],
    log:
        logs("decode/{video}"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "wtal decode {input} --output {output} --record-failure --short-side {params.short_side} "
        "--on-variable-frame-rate {params.frame_rate} > {log} 2>&1"


rule decode:
    input:
        [decode_record(video) for video in VIDEO_IDS],
