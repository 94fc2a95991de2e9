from ferbench.aggregate import aggregate
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    p = snakemake.params
    aggregate(snakemake.input.metrics, p.datasets, p.models, snakemake.output.accuracy.rsplit("/", 1)[0], p.best_root)
    print(open(snakemake.output.accuracy).read())
