rule download:
    """Make resources/raw/{base} ready: synthesise (demo), fetch + sha256 (url), or check user files."""
    input:
        label_files=raw_label_files,
    output:
        manifest=res(layout.RAW_MANIFEST),
    log:
        log("download", "{base}"),
    benchmark:
        bench("download", "{base}")
    localrule: True
    conda:
        FERBENCH_ENV
    threads: 2
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.base),
        raw_dir=lambda wc: raw_dir(wc.base),
    script:
        "../scripts/download.py"
