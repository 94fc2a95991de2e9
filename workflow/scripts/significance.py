"""Paired comparison of models: significance.md/.csv and the critical-difference figures (ferbench.compare).

input.metrics: every fold's metrics.json; input.predictions: the matching predictions.parquet files;
output.table, output.csv, output.figures (critical_difference_{metric}.png for accuracy and
balanced_accuracy); params.datasets, params.models; log[0].
"""

import matplotlib

matplotlib.use("Agg")  # autorank draws through pyplot; never open a window on a cluster node

from pathlib import Path  # noqa: E402

from ferbench.compare import write_significance  # noqa: E402
from ferbench.logs import tee_output  # noqa: E402

with tee_output(snakemake.log[0]):
    out = snakemake.output
    figures = {Path(f).stem.removeprefix("critical_difference_"): f for f in out.figures}
    write_significance(snakemake.input.metrics, snakemake.input.predictions, snakemake.params.datasets,
                       snakemake.params.models, out.table, out.csv, figures)
    print(Path(out.table).read_text())
