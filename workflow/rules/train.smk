rule train:
    """One fold: a fresh model trained on the split's train part, selected on val, scored on test."""
    input:
        labels=f"{RESULTS}/data/{{dataset}}/labels.parquet",
        cache=f"{RESULTS}/data/{{dataset}}/images.npy",
        split=split_of,
    output:
        metrics=f"{RESULTS}/runs/{{model}}/{{dataset}}/{{iteration}}/metrics.json",
        history=f"{RESULTS}/runs/{{model}}/{{dataset}}/{{iteration}}/history.csv",
        predictions=f"{RESULTS}/runs/{{model}}/{{dataset}}/{{iteration}}/predictions.parquet",
        checkpoint=f"{RESULTS}/runs/{{model}}/{{dataset}}/{{iteration}}/best.pt",
        provenance=f"{RESULTS}/runs/{{model}}/{{dataset}}/{{iteration}}/provenance.json",
    log:
        f"{RESULTS}/logs/train/{{model}}/{{dataset}}/{{iteration}}.log",
    conda:
        "../envs/ferbench.yaml"
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
        pretrained=lambda wc: fc.pretrained_file(config, wc.model)[1],
        device=config["train"]["device"],
        amp=config["train"]["amp"],
        input_size=config["train"].get("input_size"),
        # outside the outputs: Snakemake deletes those when a job fails, resume state must survive
        resume=f"{RESULTS}/resume/{{model}}/{{dataset}}/{{iteration}}/state.pt",
    script:
        "../scripts/train.py"
