rule train:
    """One fold: a fresh model trained on the split's train part, selected on val, scored on test."""
    input:
        unpack(pretrained_inputs),
        labels=res(layout.LABELS),
        cache=res(layout.CACHE),
        split=split_of,
    output:
        metrics=res(layout.METRICS),
        history=res(layout.HISTORY),
        predictions=res(layout.PREDICTIONS),
        checkpoint=res(layout.CHECKPOINT),
        provenance=res(layout.FOLD_PROVENANCE),
    log:
        log("train", "{model}/{dataset}/{iteration}"),
    benchmark:
        bench("train", "{model}/{dataset}/{iteration}")
    conda:
        FERBENCH_ENV
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=train_resources("mem_mb", 16000),
        runtime=train_resources("runtime", 240),
        cpus_per_gpu=train_resources("cpus_per_gpu", 4, scale=False),
    params:
        recipe=lambda wc: fc.recipe(config, wc.model),
        model_kwargs=lambda wc: fc.model_entry(config, wc.model).get("kwargs") or {},
        objective_kwargs=lambda wc: fc.model_entry(config, wc.model).get("objective")
        or {},
        pretrained=lambda wc: fc.pretrained_files(config, wc.model),
        device=config["train"]["device"],
        amp=config["train"]["amp"],
        input_size=config["train"].get("input_size"),
        # outside the outputs: Snakemake deletes those when a job fails, resume state must survive
        resume=res(layout.RESUME),
    script:
        "../scripts/train.py"
