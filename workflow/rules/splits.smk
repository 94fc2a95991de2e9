rule split:
    """One manifest per (dataset, protocol, iteration): image_id -> train / val / test."""
    input:
        labels=res(layout.LABELS),
    output:
        split=res(layout.SPLIT),
    log:
        log("split", "{dataset}/{protocol}/{iteration}"),
    benchmark:
        bench("split", "{dataset}/{protocol}/{iteration}")
    # each split gates its folds: all of them first, so the scheduler picks among every fold
    priority: 1
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        folds=split_folds,
        options=lambda wc: fc.dataset_entry(config, wc.dataset).get("protocol_options")
        or {},
    script:
        "../scripts/split.py"
