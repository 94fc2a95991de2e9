# Figures from the files the DAG already writes (ferbench.figures): a PNG for the report, a PDF for papers.


rule figure_confusion:
    """Row-normalised confusion matrix of one (model, dataset), pooled over the folds' test predictions."""
    input:
        metrics=cell_files(layout.METRICS),
        predictions=cell_files(layout.PREDICTIONS),
    output:
        **figure(
            layout.FIG_CONFUSION,
            "confusion",
            "Per model",
            "{model}",
            dataset="{dataset}",
            figure="confusion matrix",
        ),
    log:
        log("figures", "confusion/{model}/{dataset}"),
    benchmark:
        bench("figures", "confusion/{model}/{dataset}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        protocol=lambda wc: GRID.protocol(wc.dataset),
        code_version=code_versions,
    script:
        "../scripts/figure_confusion.py"


rule figure_curves:
    """Training loss and validation accuracy per epoch of every fold, the selected epoch marked."""
    input:
        metrics=cell_files(layout.METRICS),
        history=cell_files(layout.HISTORY),
    output:
        **figure(
            layout.FIG_CURVES,
            "curves",
            "Per model",
            "{model}",
            dataset="{dataset}",
            figure="learning curves",
        ),
    log:
        log("figures", "curves/{model}/{dataset}"),
    benchmark:
        bench("figures", "curves/{model}/{dataset}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        models=list(GRID.models),
        recipe=lambda wc: fc.recipe(config, wc.model),
        code_version=code_versions,
    script:
        "../scripts/figure_curves.py"


rule figure_per_class:
    """Per-class test recall of every model on one dataset, mean ± std over folds."""
    input:
        metrics=dataset_files(layout.METRICS),
        predictions=dataset_files(layout.PREDICTIONS),
    output:
        **figure(
            layout.FIG_PER_CLASS,
            "per_class",
            "Per dataset",
            "{dataset}",
            figure="per-class recall",
        ),
    log:
        log("figures", "per_class/{dataset}"),
    benchmark:
        bench("figures", "per_class/{dataset}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        models=list(GRID.models),
    script:
        "../scripts/figure_per_class.py"


rule figure_overview:
    """Datasets × models: mean with std error bars (the figure version of the tables)."""
    input:
        summary=res(layout.SUMMARY),
    output:
        **figure(
            layout.FIG_OVERVIEW,
            "overview",
            "Tables",
            result="overview figure: {metric}",
        ),
    log:
        log("figures", "overview_{metric}"),
    benchmark:
        bench("figures", "overview_{metric}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        datasets=list(GRID.datasets),
        models=list(GRID.models),
    script:
        "../scripts/figure_overview.py"


rule figure_data:
    """Class balance per split part and the QC exclusions per reason of one dataset."""
    input:
        labels=res(layout.LABELS),
        qc=res(layout.QC),
        splits=dataset_splits,
    output:
        **figure(
            layout.FIG_DATA,
            "data",
            "Data quality",
            "{dataset}",
            figure="class balance and exclusions",
        ),
    log:
        log("figures", "data/{dataset}"),
    benchmark:
        bench("figures", "data/{dataset}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        protocol=lambda wc: GRID.protocol(wc.dataset),
    script:
        "../scripts/figure_data.py"


rule figure_faces:
    """A contact sheet of aligned faces per class, as the models receive them."""
    input:
        labels=res(layout.LABELS),
        images=res(layout.CACHE),
    output:
        **figure(
            layout.FIG_FACES,
            "faces",
            "Data quality",
            "{dataset}",
            figure="aligned faces",
        ),
    log:
        log("figures", "faces/{dataset}"),
    benchmark:
        bench("figures", "faces/{dataset}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        k=8,
    script:
        "../scripts/figure_faces.py"


rule figure_gradcam:
    """Grad-CAM maps of a best checkpoint on its fold's test images (pytorch-grad-cam)."""
    input:
        card=res(layout.BEST_CARD),
        checkpoint=res(layout.BEST_CHECKPOINT),
        labels=res(layout.LABELS),
        images=res(layout.CACHE),
        predictions=cell_files(layout.PREDICTIONS),
    output:
        **figure(
            layout.GRADCAM,
            "gradcam",
            "Per model",
            "{model}",
            dataset="{dataset}",
            figure="Grad-CAM",
        ),
    log:
        log("figures", "gradcam/{model}/{dataset}"),
    benchmark:
        bench("figures", "gradcam/{model}/{dataset}")
    # the longest job after training: started before the small figures. One thread: its time goes to
    # matplotlib, and a job asking for two waits for both cores to be free, behind every small figure.
    priority: 1
    conda:
        FERBENCH_ENV
    threads: 1
    params:
        results=lambda wc, input: layout.root_of(input.card, layout.BEST_CARD, **wc),
        k=3,
    script:
        "../scripts/figure_gradcam.py"
