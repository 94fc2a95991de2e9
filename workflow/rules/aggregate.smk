rule aggregate:
    """Tables from complete folds only (every fold's metrics.json is an input) + best checkpoints."""
    input:
        metrics=fold_metrics,
    output:
        accuracy=f"{RESULTS}/tables/accuracy.md",
        balanced=f"{RESULTS}/tables/balanced_accuracy.md",
        summary=f"{RESULTS}/tables/summary.csv",
        cards=expand(
            f"{RESULTS}/best/{{model}}/{{dataset}}/card.json",
            model=MODELS,
            dataset=DATASETS,
        ),
    log:
        f"{RESULTS}/logs/aggregate.log",
    localrule: True
    conda:
        "../envs/ferbench.yaml"
    params:
        datasets=DATASETS,
        models=MODELS,
        best_root=lambda wc, output: str(Path(output.cards[0]).parents[2]),
    script:
        "../scripts/aggregate.py"
