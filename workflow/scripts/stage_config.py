"""Write one stage's config file (validated) from the JSON the rule passes as a parameter.

The workflow's paths are relative to its working directory; a config file's relative paths
mean paths beside the file, so they are rewritten relative to the stage config's folder."""

import json
from pathlib import Path

import yaml

from wtal.config.paths import rebase_paths
from wtal.config.schema import load_schema, validate_config
from wtal.utils.files import write_text

snakemake = globals()["snakemake"]  # provided by Snakemake's script directive

output = Path(snakemake.output[0])
config = validate_config(json.loads(snakemake.params.config), output)
config = rebase_paths(config, Path.cwd(), output.parent, load_schema())
write_text(output, yaml.safe_dump(config, sort_keys=True))
