import pytest

from ferbench.align import AlignConfig, align_dataset
from ferbench.datasets import AdapterResult, Exclusion, SourceRecord
from ferbench.images import load_rgb
from ferbench.labels_table import build_label_table


def _result(tmp_path, small_demo):
    from ferbench.datasets import get_adapter

    res = get_adapter("folder").read(small_demo, {})
    records = res.records[:10]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG broken")
    records.append(SourceRecord("broken", "happy", lambda: load_rgb(bad), "broken.png"))
    records.append(SourceRecord("odd_label", "contempt", records[0].load, "odd.png"))
    excluded = [Exclusion("dup", "labels.txt:7", "duplicate_image_id", "seen on line 3")]
    return AdapterResult(records, excluded, res.classes, len(records) + 1)


def test_label_table_accounts_for_every_source_row(tmp_path, small_demo):
    result = _result(tmp_path, small_demo)
    alignment = align_dataset(result.records, tmp_path, "aligned/images", AlignConfig(size=64))
    tables = build_label_table("demo", result, alignment)
    assert tables.labels.num_rows + tables.qc.num_rows == result.n_source_rows
    qc = {r["image_id"]: (r["stage"], r["reason"]) for r in tables.qc.to_pylist()}
    assert qc == {
        "dup": ("adapter", "duplicate_image_id"),
        "broken": ("load", "unreadable_image"),
        "odd_label": ("labels", "label_not_in_vocabulary"),
    }
    labels = tables.labels.to_pandas()
    assert (labels["label_name"] == [tables.classes[i] for i in labels["label"]]).all()
    assert all((tmp_path / p).is_file() for p in labels["path"])
    assert tables.summary["kept"] == 10 and tables.summary["excluded"] == 3


def test_remap_merges_classes_and_records_unmapped_ones(tmp_path, small_demo):
    result = _result(tmp_path, small_demo)
    alignment = align_dataset(result.records, tmp_path, "aligned/images", AlignConfig(size=64))
    remap = {"angry": "negative", "sad": "negative", "happy": "positive", "neutral": "neutral", "surprise": None}
    tables = build_label_table("demo", result, alignment, remap=remap)
    assert tables.classes == ("negative", "positive", "neutral")
    names = set(tables.labels.column("label_name").to_pylist())
    assert names <= {"negative", "positive", "neutral"}
    assert tables.labels.num_rows + tables.qc.num_rows == result.n_source_rows


def test_a_missing_alignment_row_is_an_error(tmp_path, small_demo):
    result = _result(tmp_path, small_demo)
    alignment = align_dataset(result.records[:3], tmp_path, "aligned/images", AlignConfig(size=64))
    with pytest.raises(KeyError, match="no alignment row"):
        build_label_table("demo", result, alignment)
