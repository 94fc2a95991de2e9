rule label_table:
    """Adapter records joined with their alignment: label table, QC table (every exclusion) and summary."""
    input:
        manifest=raw_manifest_of,
        alignment=alignment_of,
    output:
        labels=res(layout.LABELS),
        qc=res(layout.QC),
        summary=res(layout.DATA_SUMMARY),
    log:
        log("label_table", "{dataset}"),
    benchmark:
        bench("label_table", "{dataset}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.dataset),
        raw_dir=lambda wc: raw_dir(base_of(wc)),
    script:
        "../scripts/label_table.py"


rule image_cache:
    """Every kept aligned image decoded once into one uint8 array shared by all training jobs."""
    input:
        labels=res(layout.LABELS),
        alignment=alignment_of,
    output:
        cache=res(layout.CACHE),
    log:
        log("image_cache", "{dataset}"),
    benchmark:
        bench("image_cache", "{dataset}")
    conda:
        FERBENCH_ENV
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        size=config["align"]["size"],
        zoom=config["align"]["zoom"],
        variant=lambda wc: fc.split_variant(wc.dataset)[1],
        results=lambda wc, input: layout.root_of(input.labels, layout.LABELS, **wc),
    script:
        "../scripts/image_cache.py"
