rule download:
    """Make resources/raw/{base} ready: synthesise (demo), fetch + sha256 (url), or check user files."""
    output:
        manifest=f"{RESULTS}/data/{{base}}/raw.json",
    log:
        f"{RESULTS}/logs/download/{{base}}.log",
    localrule: True
    conda:
        "../envs/ferbench.yaml"
    threads: 2
    params:
        entry=lambda wc: fc.dataset_entry(config, wc.base),
        raw_dir=lambda wc: raw_dir(wc.base),
    script:
        "../scripts/download.py"
