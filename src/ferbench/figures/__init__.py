"""Figures from the files the DAG writes (matplotlib, one style, PNG + PDF).

One module per figure, each a function of plain tables/arrays (testable from fixed data):
``confusion`` (pooled test confusion matrix), ``curves`` (learning curves), ``per_class`` (per-class recall),
``overview`` (datasets x models), ``data`` (class balance per split part, QC exclusions), ``faces``
(contact sheet of aligned faces), ``gradcam`` (example selection and heat-map grid). ``load`` reads the
DAG's files, ``render`` joins reading, drawing and ``save`` (atomic PNG + PDF) for the workflow scripts
and for ``python -m ferbench.figures RESULTS_DIR``. ``style`` holds the shared look.
"""

from .save import save

__all__ = ["save"]
