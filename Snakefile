# ferbench: raw data -> aligned faces -> label tables -> splits -> one training job per
# (model, dataset, iteration) -> benchmark tables. See README.md and docs/design.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/datasets.yaml"
configfile: "config/models.yaml"
configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/align.smk"
include: "workflow/rules/label_table.smk"
include: "workflow/rules/splits.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/cross.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        layout.tables(RESULTS),
        rules.significance.output,
        cross_tables(),
        figures(),
        table_pages(),
