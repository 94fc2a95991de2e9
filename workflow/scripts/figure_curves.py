from ferbench.figures.render import render_curves
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    # input.metrics: the (model, dataset)'s fold metrics.json files; history.csv lies beside each
    for path in render_curves(snakemake.input.metrics, snakemake.output.png, snakemake.params.models):
        print(path)
