"""The dataset the model stages read: the configured annotations restricted to the videos
whose features were extracted, as ActivityNet JSON over results/<dataset>/features/."""

import json
from pathlib import Path

from wtal.data.open import open_dataset
from wtal.utils.files import write_json

snakemake = globals()["snakemake"]  # provided by Snakemake's script directive

spec = dict(snakemake.params.dataset)
dataset = open_dataset({**spec, "features": None}, with_features=False)
inventory = json.loads(Path(snakemake.input.inventory).read_text())
ok = set(inventory["ok"])
data = dataset.to_activitynet()
data["database"] = {vid: entry for vid, entry in data["database"].items() if vid in ok}
data["failed_videos"] = inventory["failed"]
write_json(snakemake.output[0], data)
with open(snakemake.log[0], "w") as log:
    log.write(f"{len(data['database'])} videos packed; {len(inventory['failed'])} left out\n")
