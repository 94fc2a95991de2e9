import pyarrow as pa
import pyarrow.parquet as pq

from ferbench.io import write_with
from ferbench.logs import tee_output
from ferbench.schemas import SPLIT
from ferbench.splits import make_split

with tee_output(snakemake.log[0]):
    w = snakemake.wildcards
    table = pq.read_table(snakemake.input.labels).to_pandas()
    manifest = make_split(table, w.protocol, int(w.iteration), snakemake.params.n_iterations, **snakemake.params.options)
    manifest["part"] = manifest["part"].astype(str)
    counts = manifest["part"].value_counts().to_dict()
    print(f"{w.dataset} {w.protocol} iteration {w.iteration}: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("train", "val", "test")))
    out = pa.Table.from_pandas(manifest, schema=SPLIT, preserve_index=False)
    write_with(snakemake.output.split, lambda f: pq.write_table(out, f))
