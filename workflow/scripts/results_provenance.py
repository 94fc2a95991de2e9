from ferbench.logs import tee_output
from ferbench.manifest import write_results_provenance

with tee_output(snakemake.log[0]):
    p = snakemake.params
    doc = write_results_provenance(p.grid, p.config, snakemake.input.provenance, snakemake.output.provenance)
    print("code versions:", doc["code_versions"])
