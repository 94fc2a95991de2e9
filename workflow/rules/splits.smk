rule split:
    """One manifest per (dataset, protocol, iteration): image_id -> train / val / test."""
    input:
        labels=f"{RESULTS}/data/{{dataset}}/labels.parquet",
    output:
        split=f"{RESULTS}/splits/{{dataset}}/{{protocol}}/{{iteration}}.parquet",
    log:
        f"{RESULTS}/logs/splits/{{dataset}}/{{protocol}}/{{iteration}}.log",
    localrule: True
    conda:
        "../envs/ferbench.yaml"
    params:
        n_iterations=config["benchmark"]["iterations"],
        options=lambda wc: fc.dataset_entry(config, wc.dataset).get("protocol_options")
        or {},
    script:
        "../scripts/split.py"
