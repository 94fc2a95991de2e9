from ferbench.aggregate import copy_best_checkpoint
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    copy_best_checkpoint(snakemake.input.card, snakemake.params.results, snakemake.output.checkpoint)
