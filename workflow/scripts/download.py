from ferbench.download import prepare_raw
from ferbench.io import write_json
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    manifest = prepare_raw(
        snakemake.wildcards.base, snakemake.params.entry, snakemake.params.raw_dir, workers=snakemake.threads
    )
    write_json(snakemake.output.manifest, manifest)
