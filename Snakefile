# The wtal pipeline: `snakemake --cores N all`, one stage or one file by target.
#   videos -> decode -> flow -> features (extraction.videos_per_job videos per job and stage)
#          -> pack -> train -> infer -> evaluate -> report
# Configuration: config/config.yaml by default (the embedded demo), validated against the
# package's schema (workflow/schemas/config.schema.yaml); an unknown key stops the run.
# Stage targets: decode, flow, features, pack, train, infer, evaluate, report (and `all`);
# `--forcerun <stage>` makes that stage again and what depends on it. experiments
# (--config sheet=experiments/<sheet>.yaml) trains an experiment sheet and writes its table.

from snakemake.utils import min_version

from wtal.config.load import workflow_config
from wtal.config.schema import BASE_KEY

# The Snakemake internals read below and in workflow/rules/common.smk are those of the pinned
# version (pyproject.toml); tests/workflow/test_snakemake_internals.py checks each of them.
min_version("9.27.1")


configfile: "config/config.yaml"


# Snakemake's own merge, redone so that relative paths in a config file mean paths beside
# that file (as for every `wtal` command), a file's `base:` files are merged under it, and
# --config paths mean paths from here.
_cli_files = [str(f) for f in workflow.config_settings.configfiles]
_files = _cli_files
if not (_cli_files and workflow.config_settings.replace_workflow_config):
    _files = [str(f) for f in workflow.configfiles if str(f) not in _cli_files] + _cli_files
_loaded = workflow_config(_files, dict(workflow.config_settings.config))
config.pop(BASE_KEY, None)  # Snakemake read it as a setting: it names files, now merged
config.update(_loaded.config)


include: "workflow/rules/common.smk"


if DEMO["enabled"]:

    include: "workflow/rules/demo.smk"


include: "workflow/rules/dataset.smk"


if FROM_VIDEOS:

    include: "workflow/rules/extract.smk"
    include: "workflow/rules/pack.smk"


include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/experiments.smk"


# Rules that write small files from small files run where Snakemake runs, never as cluster
# jobs; i3d_weights too, since it downloads (compute nodes often have no internet).
localrules:
    all,
    stage_config,
    ground_truth,
    evaluate,
    report,


if FROM_VIDEOS:

    # A forced extraction stage is named to its jobs, on a cluster too (common.smk: REDO_ENV).
    envvars:
        REDO_ENV,

    localrules:
        decode,
        flow,
        features,
        inventory,
        pack,
        i3d_weights,


rule all:
    input:
        all_targets(),
    default_target: True
