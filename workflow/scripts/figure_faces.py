from ferbench.figures.render import render_faces
from ferbench.logs import tee_output

with tee_output(snakemake.log[0]):
    i = snakemake.input
    for path in render_faces(
        i.labels, snakemake.output.png, i.images, snakemake.params.get("k", 8), snakemake.wildcards.dataset
    ):
        print(path)
