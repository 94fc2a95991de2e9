rule align:
    """MTCNN on every image of a dataset, 5-point similarity alignment; written once, shared by all jobs."""
    input:
        manifest=f"{RESULTS}/data/{{base}}/raw.json",
    output:
        images=directory(f"{RESULTS}/aligned/{{base}}/images"),
        table=f"{RESULTS}/aligned/{{base}}/alignment.parquet",
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.base),
        raw_dir=lambda wc: raw_dir(wc.base),
        align=config["align"],
        results=RESULTS,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    log:
        f"{RESULTS}/logs/align/{{base}}.log",
    script:
        "../scripts/align.py"
