"""The label table and QC table of a dataset: adapter records joined with their alignment.

Every row of the raw label source ends in exactly one of the two tables, and the invariant
``kept + excluded == source rows`` is checked before anything is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from .align import NO_FACE
from .datasets.base import AdapterResult
from .datasets.common import LABEL_NOT_IN_VOCABULARY
from .schemas import LABELS, QC


@dataclass
class LabelTables:
    labels: pa.Table
    qc: pa.Table
    classes: tuple[str, ...]
    summary: dict


def _qc_row(rows: dict, image_id: str, source: str, stage: str, reason: str, detail: str | None) -> None:
    for key, value in zip(QC.names, (image_id, source, stage, reason, detail or None)):
        rows[key].append(value)


def build_label_table(
    dataset: str,
    result: AdapterResult,
    alignment: pa.Table,
    remap: Mapping[str, str | None] | None = None,
    classes: Sequence[str] | None = None,
) -> LabelTables:
    """Join ``result.records`` with ``alignment`` (by ``image_id``).

    ``remap`` maps the dataset's own class names to target names (``None``: drop with a recorded
    reason); ``classes`` fixes the output vocabulary and its order (default: the dataset's own order,
    remapped). The integer ``label`` is the index in that order.
    """
    if remap:
        targets = [remap.get(c, c) for c in result.classes]
        default = tuple(dict.fromkeys(t for t in targets if t is not None))
    else:
        default = tuple(result.classes)
    classes = tuple(classes) if classes else default
    index = {c: i for i, c in enumerate(classes)}
    aligned = {row["image_id"]: row for row in alignment.to_pylist()}

    qc = {k: [] for k in QC.names}
    for ex in result.excluded:
        _qc_row(qc, ex.image_id, ex.source, "adapter", ex.reason, ex.detail)

    out = {k: [] for k in LABELS.names}
    for rec in result.records:
        a = aligned.get(rec.image_id)
        if a is None:
            raise KeyError(f"{dataset}: record {rec.image_id!r} has no alignment row; rerun the align stage")
        if a["path"] is None:
            stage = "align" if a["reason"] == NO_FACE else "load"
            _qc_row(qc, rec.image_id, rec.source, stage, a["reason"], a["detail"])
            continue
        name = remap.get(rec.label, rec.label) if remap else rec.label
        if name is None or name not in index:
            _qc_row(qc, rec.image_id, rec.source, "labels", LABEL_NOT_IN_VOCABULARY, f"{rec.label!r} -> {name!r}")
            continue
        values = {
            "image_id": rec.image_id,
            "label": index[name],
            "label_name": name,
            "split": rec.split,
            "subject": rec.subject,
            "source": rec.source,
            "soft_label": list(rec.soft_label) if rec.soft_label is not None else None,
        }
        for key in LABELS.names:
            out[key].append(values[key] if key in values else a[key])

    labels, qc_table = pa.table(out, schema=LABELS), pa.table(qc, schema=QC)
    if labels.num_rows + qc_table.num_rows != result.n_source_rows:
        raise AssertionError(
            f"{dataset}: {labels.num_rows} kept + {qc_table.num_rows} excluded != {result.n_source_rows} source rows"
        )
    return LabelTables(labels, qc_table, classes, summarize(dataset, labels, qc_table, classes, result.n_source_rows))


def summarize(dataset: str, labels: pa.Table, qc: pa.Table, classes: Sequence[str], n_source: int) -> dict:
    names = labels.column("label_name").to_pylist()
    splits = labels.column("split").to_pylist()
    methods = labels.column("method").to_pylist()
    return {
        "dataset": dataset,
        "classes": list(classes),
        "source_rows": n_source,
        "kept": labels.num_rows,
        "excluded": qc.num_rows,
        "per_class": {c: Counter(names)[c] for c in classes},
        "per_split": dict(Counter(s if s is not None else "none" for s in splits)),
        "per_alignment_method": dict(Counter(methods)),
        "excluded_per_reason": dict(Counter(qc.column("reason").to_pylist())),
    }


def format_summary(summary: Mapping) -> str:
    lines = [
        f"{summary['dataset']}: {summary['source_rows']} source rows = {summary['kept']} kept + "
        f"{summary['excluded']} excluded",
        "  per class:  " + ", ".join(f"{k} {v}" for k, v in summary["per_class"].items()),
        "  per split:  " + ", ".join(f"{k} {v}" for k, v in summary["per_split"].items()),
        "  alignment:  " + ", ".join(f"{k} {v}" for k, v in summary["per_alignment_method"].items()),
    ]
    if summary["excluded_per_reason"]:
        lines.append("  excluded:   " + ", ".join(f"{k} {v}" for k, v in summary["excluded_per_reason"].items()))
    return "\n".join(lines)
