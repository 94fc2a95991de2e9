"""Grad-CAM grids: the example selection and the drawing, from fixed arrays (no model)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ferbench.figures.gradcam import gradcam_figure, overlay, select_examples
from ferbench.figures.render import render_gradcam

from figure_helpers import CLASSES, write_dataset, write_fold


def _predictions():
    # class 0: 3 correct (p .9 .8 .8) and 1 wrong; class 1: 1 correct, 2 wrong; class 2: none correct
    rows = [
        ("a", 0, 0, 0.9),
        ("b", 0, 0, 0.8),
        ("c", 0, 0, 0.8),
        ("d", 0, 2, 0.6),
        ("e", 1, 1, 0.5),
        ("f", 1, 0, 0.4),
        ("g", 1, 2, 0.7),
        ("h", 2, 1, 0.55),
    ]
    df = pd.DataFrame(rows, columns=["image_id", "true", "predicted", "p"])
    for c, name in enumerate(CLASSES):
        df[f"prob_{name}"] = np.where(df["predicted"] == c, df["p"], (1 - df["p"]) / 2)
    return df.drop(columns="p")


def test_selection_is_per_class_bounded_confident_first_and_deterministic():
    df = _predictions()
    sel = select_examples(df, CLASSES, k=2)
    assert sel["image_id"].tolist() == ["a", "b", "d", "e", "g", "f", "h"]  # ties (b, c) by image_id
    assert sel["correct"].tolist() == [True, True, False, True, False, False, False]
    np.testing.assert_allclose(sel["prob"], [0.9, 0.8, 0.6, 0.5, 0.7, 0.4, 0.55])
    shuffled = select_examples(df.sample(frac=1, random_state=1), CLASSES, k=2)
    pd.testing.assert_frame_equal(sel, shuffled)


def _arrays(sel):
    b = len(sel)
    images = np.stack([np.full((8, 8, 3), 20 * i, np.uint8) for i in range(b)])
    maps = np.stack([np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8) * (i + 1) / b for i in range(b)])
    return images, maps


def _cells(fig):
    return {ax.get_gid(): ax for ax in fig.axes if ax.get_gid()}


def test_grid_places_each_example_with_its_overlay_and_title():
    sel = select_examples(_predictions(), CLASSES, k=2)
    images, maps = _arrays(sel)
    fig = gradcam_figure(images, maps, sel["true"], sel["predicted"], sel["prob"], CLASSES, "t")
    cells = _cells(fig)
    assert sorted(cells) == sorted(
        [
            "cell 0 correct 0",
            "cell 0 correct 1",
            "cell 0 wrong 0",
            "cell 1 correct 0",
            "cell 1 wrong 0",
            "cell 1 wrong 1",
            "cell 2 wrong 0",
        ]
    )
    # selection row 4 (image g: happy taken for sad, p .7) is the first misclassified happy image
    ax = cells["cell 1 wrong 0"]
    np.testing.assert_array_equal(ax.images[0].get_array(), overlay(images[4], maps[4]))
    assert ax.get_title() == "sad p=0.70"
    assert cells["cell 0 correct 1"].get_title() == "angry p=0.80"
    # the empty slot (sad: nothing correct) says so; class names label the rows
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    assert texts.count("none") == 1
    assert [a.get_ylabel() for a in fig.axes if a.get_ylabel() and a.get_label() != "<colorbar>"] == CLASSES


def test_overlay_is_pytorch_grad_cam_and_resizes_small_maps():
    img = np.full((8, 8, 3), 100, np.uint8)
    hot = overlay(img, np.ones((4, 4), np.float32))
    assert hot.shape == (8, 8, 3) and hot.dtype == np.uint8
    cold = overlay(img, np.zeros((8, 8), np.float32))
    assert (
        hot[..., 0].mean() > cold[..., 0].mean() and cold[..., 2].mean() > hot[..., 2].mean()
    )  # jet: red hot


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda im, m: (im, m * 2), "must lie in 0..1"),
        (lambda im, m: (im, m[:-1]), "but maps"),
        (lambda im, m: (im.astype(np.float32), m), "must be uint8"),
    ],
)
def test_grid_rejects_bad_arrays(bad, match):
    sel = select_examples(_predictions(), CLASSES, k=1)
    images, maps = bad(*_arrays(sel))
    with pytest.raises(ValueError, match=match):
        gradcam_figure(images, maps, sel["true"], sel["predicted"], sel["prob"], CLASSES)


def test_render_gradcam_feeds_the_explainer_the_selected_test_images(tmp_path, drawn):
    labels = write_dataset(tmp_path, "d", [0, 1, 2, 0, 1, 2])
    run = write_fold(tmp_path, "m", "d", 0, [0, 1, 2], [0, 2, 2]).parent
    # the fold's test image ids are test000..; give the label table the same ids in another order
    t = pq.read_table(labels)
    ids = ["x0", "test002", "x1", "test000", "test001", "x2"]
    pq.write_table(t.set_column(0, "image_id", [ids]).replace_schema_metadata(t.schema.metadata), labels)
    seen = {}

    def explain(images, targets):
        seen["images"], seen["targets"] = images.copy(), targets.copy()
        return np.full(images.shape[:3], 0.5, np.float32)

    out = render_gradcam(run, labels, labels.parent / "images.npy", tmp_path / "gradcam", explain, k=2)
    assert [p.name for p in out] == ["gradcam.png", "gradcam.pdf"]
    # grid order: angry correct (test000: row 3), happy wrong (test001: row 4), sad correct (test002: row 1)
    assert seen["images"][:, 0, 0, 0].tolist() == [3, 4, 1]
    assert seen["targets"].tolist() == [0, 2, 2]
    assert "m on d, fold 0" in drawn[0].get_suptitle()
