"""Write one stage's config file (validated) from the JSON the rule passes as a parameter."""

import json

import yaml

from wtal.config import validate_config
from wtal.utils.files import write_text

snakemake = globals()["snakemake"]  # provided by Snakemake's script directive

config = validate_config(json.loads(snakemake.params.config), snakemake.output[0])
write_text(snakemake.output[0], yaml.safe_dump(config, sort_keys=True))
