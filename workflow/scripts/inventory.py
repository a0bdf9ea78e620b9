"""Which videos the extraction stage made features of (``ok``) and which could not be decoded
and why (``failed``), from the chunk records; every video of the plan must be in one."""

from wtal.errors import InputFileError
from wtal.utils.files import read_json, write_json

snakemake = globals()["snakemake"]  # provided by Snakemake's script directive

ok, failed, seen = [], {}, 0
for record in snakemake.input:
    data = read_json(record)  # names the file when a record is damaged
    if not isinstance(data, dict) or not {"videos", "done", "undecodable"} <= set(data):
        raise InputFileError(record, "not a chunk record (videos, done, undecodable)")
    missing = set(data["videos"]) - set(data["done"]) - set(data["undecodable"])
    if missing:
        raise InputFileError(record, f"says nothing of {', '.join(sorted(missing))}")
    seen += len(data["videos"])
    ok += data["done"]
    failed.update(data["undecodable"])
if seen != snakemake.params.videos:
    raise ValueError(f"the chunk records hold {seen} videos, the plan {snakemake.params.videos}")
write_json(snakemake.output[0], {"ok": ok, "failed": failed})
with open(snakemake.log[0], "w") as log:
    log.write(f"{len(ok)} videos extracted, {len(failed)} could not be decoded\n")
    for video, reason in failed.items():
        log.write(f"FAILED {video}: {reason}\n")
