from ferbench.figures.render import render_confusion
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    # input.metrics: the (model, dataset)'s fold metrics.json files; predictions.parquet lies beside each
    for path in render_confusion(snakemake.input.metrics, snakemake.output.png):
        print(path)
