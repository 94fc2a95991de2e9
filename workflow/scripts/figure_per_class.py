from ferbench.figures.render import render_per_class
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    # input.metrics: every model's fold metrics.json files on the dataset
    for path in render_per_class(snakemake.input.metrics, snakemake.output.png, snakemake.params.models):
        print(path)
