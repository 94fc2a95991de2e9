from ferbench.logs import tee_output
from ferbench.manifest import write_manifest

with tee_output(snakemake.log[0]):
    digests = write_manifest(snakemake.input, snakemake.params.results, snakemake.output.manifest)
    print(f"{len(digests)} files sealed in {snakemake.output.manifest}")
