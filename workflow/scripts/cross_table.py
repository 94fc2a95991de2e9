from ferbench.cross import write_cross_table
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    p = snakemake.params
    print(write_cross_table(snakemake.input.cross, snakemake.input.folds, snakemake.wildcards.metric,
                            p.models, p.train, p.test, snakemake.output.table))
