# The wtal pipeline: `snakemake --cores N all`, one stage or one file by target.
#   videos -> decode -> flow -> features -> pack -> train -> infer -> evaluate -> report
# Configuration: config/config.yaml by default (the embedded demo), validated against the
# package's schema (workflow/schemas/config.schema.yaml); an unknown key stops the run.
# Stage targets: decode, flow, features, pack, train, infer, evaluate, report (and `all`).

from wtal.config import validate_config


configfile: "config/config.yaml"


config.update(validate_config(config, "config (config/config.yaml + --config/--configfile)"))


include: "workflow/rules/common.smk"


if DEMO["enabled"]:

    include: "workflow/rules/demo.smk"


include: "workflow/rules/dataset.smk"


if FROM_VIDEOS:

    include: "workflow/rules/decode.smk"
    include: "workflow/rules/flow.smk"
    include: "workflow/rules/features.smk"
    include: "workflow/rules/pack.smk"


include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
