rule label_table:
    """Adapter records joined with their alignment: label table, QC table (every exclusion) and summary."""
    input:
        manifest=lambda wc: raw_manifest(base_of(wc)),
        alignment=alignment_of,
    output:
        labels=f"{RESULTS}/data/{{dataset}}/labels.parquet",
        qc=f"{RESULTS}/data/{{dataset}}/qc.parquet",
        summary=f"{RESULTS}/data/{{dataset}}/summary.json",
    log:
        f"{RESULTS}/logs/tables/{{dataset}}.log",
    localrule: True
    conda:
        "../envs/ferbench.yaml"
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.dataset),
        raw_dir=lambda wc: raw_dir(base_of(wc)),
    script:
        "../scripts/label_table.py"


rule image_cache:
    """Every kept aligned image decoded once into one uint8 array shared by all training jobs."""
    input:
        labels=f"{RESULTS}/data/{{dataset}}/labels.parquet",
        alignment=alignment_of,
    output:
        cache=f"{RESULTS}/data/{{dataset}}/images.npy",
    log:
        f"{RESULTS}/logs/cache/{{dataset}}.log",
    conda:
        "../envs/ferbench.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        size=config["align"]["size"],
        variant=lambda wc: fc.split_variant(wc.dataset)[1],
        results=lambda wc, input: results_root(input.labels),
    script:
        "../scripts/image_cache.py"
