"""The dataset figures: class balance per split part, QC exclusions, contact sheet of faces."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ferbench.figures.faces import PAD, faces_figure, pick_faces, sheet
from ferbench.figures.load import read_labels
from ferbench.figures.render import render_data, render_faces

from figure_helpers import CLASSES, write_dataset
from test_bars import bars

LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
# two iterations: per class (angry, happy, sad) train/val/test counts
M0 = [
    "train",
    "train",
    "val",
    "test",
    "train",
    "train",
    "test",
    "train",
    "val",
    "test",
]  # (2,1,1) (2,0,1) (1,1,1)
M1 = [
    "train",
    "train",
    "train",
    "test",
    "train",
    "val",
    "test",
    "train",
    "train",
    "val",
]  # (3,0,1) (1,1,1) (2,1,0)


def test_class_balance_and_exclusions_read_back(tmp_path, drawn):
    qc = [("align", "no_face")] * 3 + [("load", "missing_file")] * 2 + [("labels", "label_not_in_vocabulary")]
    labels = write_dataset(tmp_path, "d", LABELS, qc_reasons=qc, manifests=[M0, M1])
    render_data(
        labels,
        labels.parent / "qc.parquet",
        sorted((tmp_path / "splits").rglob("*.parquet")),
        tmp_path / "fig" / "d",
    )
    bal_ax, qc_ax = drawn[0].axes[:2]
    got = bars(bal_ax)
    _, h, e, _ = got["train (5.5 images)"]
    np.testing.assert_allclose(h, [2.5, 1.5, 1.5])
    np.testing.assert_allclose(e, [0.5, 0.5, 0.5])
    np.testing.assert_allclose(got["val (2 images)"][1], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(got["test (2.5 images)"][1], [1.0, 1.0, 0.5])
    assert "2 split manifests (stratified)" in bal_ax.get_title()
    widths = [p.get_width() for p in qc_ax.patches]
    assert widths == [3, 2, 1]
    assert [t.get_text() for t in qc_ax.get_yticklabels()] == [
        "no_face (align)",
        "missing_file (load)",
        "label_not_in_vocabulary (labels)",
    ]
    assert drawn[0].get_suptitle() == "d: 16 source images = 10 kept + 6 excluded"


def test_no_exclusions_and_no_manifests(tmp_path, drawn):
    labels = write_dataset(tmp_path, "d", LABELS)
    render_data(labels, labels.parent / "qc.parquet", [], tmp_path / "fig")
    bal_ax, qc_ax = drawn[0].axes[:2]
    np.testing.assert_allclose(bars(bal_ax)["all (10 images)"][1], [4, 3, 3])
    assert [t.get_text() for t in qc_ax.texts] == ["no exclusions"]


def test_manifest_that_does_not_match_the_labels_names_the_file(tmp_path):
    labels = write_dataset(tmp_path, "d", LABELS, manifests=[M0[:-1] + ["test"]])
    bad = tmp_path / "splits" / "d" / "stratified" / "0.parquet"
    pq.write_table(pq.read_table(bad).slice(0, 9), bad)
    with pytest.raises(ValueError, match=r"stratified/0.parquet: split manifest has 9 rows"):
        render_data(labels, labels.parent / "qc.parquet", [bad], tmp_path / "fig")


def test_pick_faces_is_deterministic_and_bounded():
    df = pd.DataFrame({"label": LABELS})
    a, b = pick_faces(df, 3, k=3), pick_faces(df, 3, k=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert [len(x) for x in a] == [3, 3, 3]
    assert all(set(np.asarray(LABELS)[x]) == {c} for c, x in enumerate(a))
    assert [len(x) for x in pick_faces(df, 3, k=5)] == [4, 3, 3]


def test_contact_sheet_places_each_class_on_its_row(tmp_path, drawn):
    methods = ["mtcnn"] * 4 + ["center_fallback"] + ["mtcnn"] * 5
    labels_path = write_dataset(tmp_path, "d", LABELS, methods=methods, size=6)
    render_faces(labels_path, tmp_path / "fig" / "d_faces", labels_path.parent / "images.npy", k=4)
    ax = drawn[0].axes[0]
    grid = np.asarray(ax.images[0].get_array())
    s = 6 + PAD  # montage pads between the cells and around the sheet
    assert grid.shape == (3 * s + PAD, 4 * s + PAD, 3)
    cell = lambda r, c: grid[PAD + r * s : PAD + r * s + 6, PAD + c * s : PAD + c * s + 6]  # noqa: E731
    # image i is filled with value i: row 0 holds angry images 0..3, row 1 happy 4..6 then a white slot
    assert [int(cell(0, c).mean()) for c in range(4)] == [0, 1, 2, 3]
    assert [int(cell(1, c).mean()) for c in range(4)] == [4, 5, 6, 255]
    assert [int(cell(2, c).mean()) for c in range(3)] == [7, 8, 9]
    frames = [p for p in ax.patches if p.get_label() == "_flag"]
    assert len(frames) == 1 and frames[0].get_xy() == (PAD - 0.5, PAD + s - 0.5)  # image 4: happy, first
    np.testing.assert_allclose(ax.get_yticks(), [PAD + s * r + 3 for r in range(3)])  # labels at row centres
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"{c}\n({n} images)" for c, n in zip(CLASSES, [4, 3, 3])
    ]
    _, classes = read_labels(labels_path)
    assert list(classes) == CLASSES


def test_sheet_from_aligned_files_equals_sheet_from_the_cache(tmp_path, drawn):
    from PIL import Image

    labels_path = write_dataset(tmp_path, "d", LABELS, size=6)
    cache = np.load(labels_path.parent / "images.npy")
    for i, img in enumerate(cache):
        f = tmp_path / "aligned" / "d" / f"img{i:03d}.png"
        f.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(f)
    render_faces(labels_path, tmp_path / "a", labels_path.parent / "images.npy", k=2)
    render_faces(labels_path, tmp_path / "b", None, k=2)
    np.testing.assert_array_equal(
        drawn[0].axes[0].images[0].get_array(), drawn[1].axes[0].images[0].get_array()
    )


def test_sheet_rejects_a_wrong_image_count():
    with pytest.raises(ValueError, match="2 images for 3 slots"):
        faces_figure(np.zeros((2, 4, 4, 3), np.uint8), [2, 1], ["a", "b"], [2, 1], "d", 2)
    assert sheet(np.zeros((1, 4, 4, 3), np.uint8), [1, 0], 2).shape == (2 * 4 + 3 * PAD, 2 * 4 + 3 * PAD, 3)
