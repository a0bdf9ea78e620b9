# The wtal pipeline: `snakemake --cores N all`, one stage or one file by target.
# Configuration: config/config.yaml by default, validated against the package's schema
# (workflow/schemas/config.schema.yaml); an unknown key stops the run and names the key.

from wtal.config import validate_config


configfile: "config/config.yaml"


config.update(validate_config(config, "config (config/config.yaml + --config/--configfile)"))


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"


rule all:
    input:
        ground_truth_json(),
        dataset_summary_json(),
    default_target: True
