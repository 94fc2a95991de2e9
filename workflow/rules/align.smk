rule align:
    """MTCNN on every image of a dataset, 5-point similarity alignment; written once, shared by all jobs."""
    input:
        manifest=f"{RESULTS}/data/{{base}}/raw.json",
    output:
        images=directory(f"{RESULTS}/aligned/{{base}}/images"),
        table=f"{RESULTS}/aligned/{{base}}/alignment.parquet",
    log:
        f"{RESULTS}/logs/align/{{base}}.log",
    conda:
        "../envs/ferbench.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.base),
        raw_dir=lambda wc: raw_dir(wc.base),
        align=config["align"],
        results=lambda wc, output: results_root(output.table),
    script:
        "../scripts/align.py"
