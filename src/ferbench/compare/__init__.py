"""Paired statistical comparison of models that were trained and tested on the same splits.

- :mod:`.folds`     reads every fold's ``metrics.json`` and ``predictions.parquet`` into tables;
- :mod:`.paired`    per dataset and pair of models: corrected resampled t-test, Wilcoxon, Holm;
- :mod:`.per_image` McNemar's test on the test images pooled over folds;
- :mod:`.across`    across datasets: Friedman test and autorank's critical-difference diagram;
- :mod:`.report`    ``significance.md`` / ``significance.csv`` from all of the above.
"""

from .report import write_significance

__all__ = ["write_significance"]
