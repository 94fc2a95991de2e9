rule significance:
    """Paired comparison of the models on the folds they share: corrected resampled t-test, Wilcoxon,
    Holm across pairs, McNemar on pooled test images; Friedman + critical-difference diagram across
    datasets (ferbench.compare)."""
    input:
        grid=res(layout.GRID),
        metrics=fold_metrics,
        predictions=fold_predictions,
    output:
        table=res(layout.SIGNIFICANCE),
        csv=res(layout.SIGNIFICANCE_CSV),
        figures=report(
            expand(res(layout.CD_FIGURE), metric=layout.TABLE_METRICS),
            caption="../report/critical_difference.rst",
            category="Tables",
            labels={"result": "critical-difference diagrams"},
        ),
    log:
        log("compare", "significance"),
    benchmark:
        bench("compare", "significance")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        datasets=list(GRID.datasets),
        models=list(GRID.models),
    script:
        "../scripts/significance.py"
