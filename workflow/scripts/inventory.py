"""Which videos the decode stage could read (``ok``) and why the others failed (``failed``)."""

from pathlib import Path

from wtal.utils.files import read_json, write_json

snakemake = globals()["snakemake"]  # provided by Snakemake's script directive

ok, failed = [], {}
for record in snakemake.input:
    data = read_json(record)  # names the file when a record is damaged
    video = Path(record).stem
    if data.get("ok"):
        ok.append(video)
    else:
        failed[video] = data.get("error", "unknown decoding error")
write_json(snakemake.output[0], {"ok": ok, "failed": failed})
with open(snakemake.log[0], "w") as log:
    log.write(f"{len(ok)} videos decoded, {len(failed)} failed\n")
    for video, reason in failed.items():
        log.write(f"FAILED {video}: {reason}\n")
