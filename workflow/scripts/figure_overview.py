from ferbench.figures.render import render_overview
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    p = snakemake.params
    for path in render_overview(
        snakemake.input.summary, snakemake.output.png, snakemake.wildcards.metric, p.datasets, p.models
    ):
        print(path)
