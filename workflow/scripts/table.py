from ferbench.aggregate import write_table
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    p = snakemake.params
    print(write_table(snakemake.input.summary, snakemake.wildcards.metric, p.datasets, p.models, snakemake.output.table))
