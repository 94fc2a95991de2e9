from ferbench.logs import tee_output
from ferbench.schemas import read_label_table, write_split
from ferbench.splits import make_split

with tee_output(snakemake.log[0]):
    w, p = snakemake.wildcards, snakemake.params
    table = read_label_table(snakemake.input.labels)
    manifest = make_split(table, w.protocol, int(w.iteration), p.folds, **p.options)
    counts = manifest["part"].value_counts().to_dict()
    print(f"{w.dataset} {w.protocol} iteration {w.iteration}: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("train", "val", "test")))
    write_split(snakemake.output.split, manifest, w.protocol, p.folds)
