from pathlib import Path

import torch

from ferbench.explain import render_best
from ferbench.logs import end_job, tee_output

with tee_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    i, p = snakemake.input, snakemake.params
    for path in render_best(Path(i.card).parent, p.results, i.labels, i.images, snakemake.output.png, k=p.k):
        print(path)

end_job()  # outputs are written; skip the ~1 s teardown of torch at exit
