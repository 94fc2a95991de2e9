rule align:
    """MTCNN on every image of a dataset, 5-point similarity alignment; written once, shared by all jobs."""
    input:
        manifest=res(layout.RAW_MANIFEST),
    output:
        images=directory(res(layout.ALIGNED_IMAGES)),
        table=res(layout.ALIGNMENT),
    log:
        log("align", "{base}"),
    benchmark:
        bench("align", "{base}")
    conda:
        FERBENCH_ENV
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.base),
        raw_dir=lambda wc: raw_dir(wc.base),
        align=config["align"],
        results=lambda wc, output: layout.root_of(output.table, layout.ALIGNMENT, **wc),
    script:
        "../scripts/align.py"
