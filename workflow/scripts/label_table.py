import json
from pathlib import Path

import pyarrow.parquet as pq

from ferbench.datasets import get_adapter
from ferbench.io import write_json, write_with
from ferbench.logs import tee_output
from ferbench.tables import build_label_table, format_summary
from ferbench.train.data import CLASSES_KEY

with tee_output(snakemake.log[0]):
    entry = snakemake.params.entry
    result = get_adapter(entry["format"]).read(Path(snakemake.params.raw_dir), entry.get("options") or {})
    remap = None
    if entry.get("remap"):
        from ferbench.labels import remap_for

        remap = remap_for(entry["remap"], result.classes)
    tables = build_label_table(
        snakemake.wildcards.dataset,
        result,
        pq.read_table(snakemake.input.alignment),
        remap=remap,
        classes=entry.get("classes"),
    )
    labels = tables.labels.replace_schema_metadata({CLASSES_KEY: json.dumps(list(tables.classes))})
    write_with(snakemake.output.labels, lambda f: pq.write_table(labels, f))
    write_with(snakemake.output.qc, lambda f: pq.write_table(tables.qc, f))
    write_json(snakemake.output.summary, tables.summary)
    print(format_summary(tables.summary))
