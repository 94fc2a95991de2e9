import numpy as np
import pytest

from ferbench.figures.confusion import confusion_figure, pooled_counts, row_normalised
from ferbench.figures.render import render_confusion

from figure_helpers import CLASSES, write_fold

# fold 0 and fold 1 together: true angry x4 (3 right, 1 -> sad), happy x3 (all right), sad x2 (1 -> happy)
FOLD0 = ([0, 0, 1, 2], [0, 2, 1, 1])
FOLD1 = ([0, 0, 1, 1, 2], [0, 0, 1, 1, 2])
EXPECTED = np.array([[3, 0, 1], [0, 3, 0], [0, 1, 1]])


def _cells(ax):
    """The numbers written in the cells: (share, count) per cell, row-major."""
    return [(float(a), int(b)) for a, b in (t.get_text().split("\n") for t in ax.texts)]


def test_pooled_confusion_read_back_from_the_figure(tmp_path, drawn):
    files = [
        write_fold(tmp_path, "m", "d", 0, *FOLD0, val=([2, 2], [0, 0])),
        write_fold(tmp_path, "m", "d", 1, *FOLD1),
    ]
    out = render_confusion(files, tmp_path / "fig" / "confusion")
    assert [p.name for p in out] == ["confusion.png", "confusion.pdf"]
    ax = drawn[0].axes[0]
    share = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(share, EXPECTED / EXPECTED.sum(1, keepdims=True))
    assert [c for _, c in _cells(ax)] == EXPECTED.ravel().tolist()  # val rows are not counted
    assert [s for s, _ in _cells(ax)] == pytest.approx(np.round(share, 2).ravel().tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    assert "2 folds" in ax.get_title() and "9 test images" in ax.get_title()
    assert "accuracy 0.778" in ax.get_title()


def test_empty_row_stays_zero():
    counts = pooled_counts(__import__("pandas").DataFrame({"true": [0, 0], "predicted": [0, 1]}), 3)
    np.testing.assert_array_equal(row_normalised(counts), [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 0]])
    fig = confusion_figure(counts, CLASSES, "m", "d", 1)
    assert "0.00\n0" in [t.get_text() for t in fig.axes[0].texts]


def test_folds_with_different_classes_are_refused(tmp_path):
    files = [
        write_fold(tmp_path, "m", "d", 0, *FOLD0),
        write_fold(tmp_path, "m", "d", 1, [0, 1], [0, 1], classes=["a", "b", "c"]),
    ]
    with pytest.raises(ValueError, match=r"1/metrics.json: classes \['a', 'b', 'c'\] differ"):
        render_confusion(files, tmp_path / "x")


def test_label_outside_the_class_list_names_the_file(tmp_path):
    probs = np.full((2, 3), 1 / 3, np.float32)
    f = write_fold(tmp_path, "m", "d", 0, [0, 3], [0, 1], probs=probs)
    with pytest.raises(
        ValueError, match=r"0/predictions.parquet: true label 3 of image 'test001' is outside 0..2"
    ):
        render_confusion([f], tmp_path / "x")


def test_folds_of_two_models_are_refused(tmp_path):
    files = [write_fold(tmp_path, "a", "d", 0, *FOLD0), write_fold(tmp_path, "b", "d", 0, *FOLD0)]
    with pytest.raises(ValueError, match="one \\(model, dataset\\)"):
        render_confusion(files, tmp_path / "x")
