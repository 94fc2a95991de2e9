from pathlib import Path

from ferbench.datasets import get_adapter
from ferbench.io import write_json
from ferbench.labels import remap_for
from ferbench.labels_table import build_label_table, format_summary
from ferbench.logs import tee_output
from ferbench.schemas import read_alignment, write_label_table, write_qc

with tee_output(snakemake.log[0]):
    entry = snakemake.params.entry
    result = get_adapter(entry["format"]).read(Path(snakemake.params.raw_dir), entry.get("options") or {})
    tables = build_label_table(
        snakemake.wildcards.dataset,
        result,
        read_alignment(snakemake.input.alignment),
        remap=remap_for(entry["remap"], result.classes) if entry.get("remap") else None,
        classes=entry.get("classes"),
    )
    write_label_table(snakemake.output.labels, tables.labels, tables.classes)
    write_qc(snakemake.output.qc, tables.qc)
    write_json(snakemake.output.summary, tables.summary)
    print(format_summary(tables.summary))
