from ferbench.figures.render import render_data
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    i = snakemake.input
    # input.splits: the dataset's split manifests of its protocol, one per iteration
    for path in render_data(i.labels, i.qc, i.splits, snakemake.output.png, snakemake.wildcards.dataset):
        print(path)
